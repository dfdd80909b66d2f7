/* SPDX-License-Identifier: MIT */
/* A tiny MLP (16 → 32 ReLU → 1, BCE with pos_weight, AdamW) trained on the
 * device, one command buffer and one submit per step, must follow a plain C
 * implementation's loss curve: |loss_vk - loss_c| ≤ 1e-4·(1 + loss_c) at
 * every one of 40 steps, and learn (final loss < half the first). The whole
 * backward chain is checked by finite differences too. Must survive: a step
 * loop on an arena reset per step (same offsets, cached descriptor sets). */
#include "op-adamw.h"
#include "op-bce.h"
#include "op-gemm.h"
#include "op-reduce.h"
#include "op-relu.h"
#include "vk-test.h"

#define B 64
#define D 16
#define H 32
#define STEPS 40

typedef struct Params {
        float w1[D * H], b1[H], w2[H], b2[1];
} Params;

static const OpAdamWParams adam = { .lr = 0.01f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                                    .weight_decay = 0.01f };

static float x_data[B * D], y_data[B], pos_weight[1] = { 2.0f };

static void make_data(Params *p)
{
        vkt_seed(70);
        for (size_t i = 0; i < ELEMENTSOF(x_data); i++)
                x_data[i] = vkt_normal();
        for (int b = 0; b < B; b++) {
                /* a teacher that needs the hidden layer: |x0| + x1·x2 > 0.8 */
                float t = fabsf(x_data[b * D]) + x_data[b * D + 1] * x_data[b * D + 2];
                y_data[b] = t > 0.8f ? 1.0f : 0.0f;
        }
        for (int i = 0; i < D * H; i++)
                p->w1[i] = vkt_normal() * 0.3f;
        for (int i = 0; i < H; i++) {
                p->b1[i] = 0.01f;
                p->w2[i] = vkt_normal() * 0.3f;
        }
        p->b2[0] = 0;
}

/* ---- the C reference ---- */

static double c_step(Params *p, Params *m, Params *v, uint32_t step, bool update, Params *ret_grad)
{
        float h[B * H], z[B], dz[B], dh[B * H];
        Params g = {};
        double loss = 0;

        for (int b = 0; b < B; b++) {
                double zz = p->b2[0];
                for (int j = 0; j < H; j++) {
                        double s = p->b1[j];
                        for (int k = 0; k < D; k++)
                                s += (double)x_data[b * D + k] * p->w1[k * H + j];
                        h[b * H + j] = fmaxf((float)s, 0);
                        zz += (double)h[b * H + j] * p->w2[j];
                }
                z[b] = (float)zz;
                double x = z[b], y = y_data[b], pw = pos_weight[0];
                double sp_neg = fmax(-x, 0) + log1p(exp(-fabs(x))), sp_pos = fmax(x, 0) + log1p(exp(-fabs(x)));
                loss += pw * y * sp_neg + (1 - y) * sp_pos;
                double s = 1 / (1 + exp(-x));
                dz[b] = (float)(((pw * y + 1 - y) * s - pw * y) / B);
        }
        for (int b = 0; b < B; b++) {
                g.b2[0] += dz[b];
                for (int j = 0; j < H; j++) {
                        g.w2[j] += h[b * H + j] * dz[b];
                        dh[b * H + j] = h[b * H + j] > 0 ? dz[b] * p->w2[j] : 0;
                        g.b1[j] += dh[b * H + j];
                        for (int k = 0; k < D; k++)
                                g.w1[k * H + j] += x_data[b * D + k] * dh[b * H + j];
                }
        }
        if (ret_grad)
                *ret_grad = g;
        if (update) {
                float *pp = (float *)p, *mm = (float *)m, *vv = (float *)v, *gg = (float *)&g;
                double bc1 = 1 - pow(adam.beta1, step), bc2 = 1 - pow(adam.beta2, step);
                for (size_t i = 0; i < sizeof(Params) / 4; i++) {
                        mm[i] = adam.beta1 * mm[i] + (1 - adam.beta1) * gg[i];
                        vv[i] = adam.beta2 * vv[i] + (1 - adam.beta2) * gg[i] * gg[i];
                        double q = pp[i] * (1.0 - (double)adam.lr * adam.weight_decay);
                        pp[i] = (float)(q - adam.lr * (mm[i] / bc1) / (sqrt(vv[i] / bc2) + adam.eps));
                }
        }
        return loss / B;
}

/* ---- the device ---- */

typedef struct Net {
        OpGemm *gemm;
        OpRelu *relu;
        OpBce *bce;
        OpReduce *reduce;
        OpAdamW *adamw;
        VkArena *weights, *step;
        /* weights arena: parameters, gradients, moments */
        VkTensor *w1, *b1, *w2, *b2, *g_w1, *g_b1, *g_w2, *g_b2, *m[4], *v[4], *pw;
} Net;

static VkTensor *persistent(Net *n, uint32_t count, const float *data)
{
        VkTensor *t;
        ASSERT_OK(vk_arena_tensor(n->weights, VK_DTYPE_F32, 1, (uint32_t[]){ count }, &t));
        if (data)
                ASSERT_OK(vk_tensor_upload(t, data, count * 4));
        else
                ASSERT_OK(vk_tensor_fill(t, 0));
        return t;
}

static void net_init(Net *n, const Params *p)
{
        VkEngine *e = vkt_engine();

        ASSERT_OK(op_gemm_new(e, &n->gemm));
        ASSERT_OK(op_relu_new(e, &n->relu));
        ASSERT_OK(op_bce_new(e, &n->bce));
        ASSERT_OK(op_reduce_new(e, &n->reduce));
        ASSERT_OK(op_adamw_new(e, &n->adamw));
        ASSERT_OK(vk_arena_new(e, 1 << 20, &n->weights));
        ASSERT_OK(vk_arena_new(e, 1 << 20, &n->step));
        n->w1 = persistent(n, D * H, p->w1);
        n->b1 = persistent(n, H, p->b1);
        n->w2 = persistent(n, H, p->w2);
        n->b2 = persistent(n, 1, p->b2);
        n->g_w1 = persistent(n, D * H, NULL);
        n->g_b1 = persistent(n, H, NULL);
        n->g_w2 = persistent(n, H, NULL);
        n->g_b2 = persistent(n, 1, NULL);
        static const uint32_t sizes[4] = { D * H, H, H, 1 };
        for (int i = 0; i < 4; i++) {
                n->m[i] = persistent(n, sizes[i], NULL);
                n->v[i] = persistent(n, sizes[i], NULL);
        }
        n->pw = persistent(n, 1, pos_weight);
}

static void net_free(Net *n)
{
        op_gemm_free(n->gemm);
        op_relu_free(n->relu);
        op_bce_free(n->bce);
        op_reduce_free(n->reduce);
        op_adamw_free(n->adamw);
        vk_arena_free(n->weights);
        vk_arena_free(n->step);
}

static VkTensor *scratch(Net *n, uint32_t rows, uint32_t cols)
{
        VkTensor *t;
        ASSERT_OK(vk_arena_tensor(n->step, VK_DTYPE_F32, 2, (uint32_t[]){ rows, cols }, &t));
        return t;
}

/* Records forward (+ backward and update when step > 0) into one command buffer. */
static float vk_step(Net *n, uint32_t step, const float *w1_override, bool update)
{
        VkRecorder *rec = vkt_recorder();
        float loss;

        vk_arena_reset(n->step);
        VkTensor *x = scratch(n, B, D), *y = scratch(n, B, 1), *h = scratch(n, B, H), *z = scratch(n, B, 1),
                 *l = scratch(n, B, 1), *lm = scratch(n, 1, 1), *dz = scratch(n, B, 1), *dh = scratch(n, B, H);

        ASSERT_OK(vk_recorder_begin(rec));
        if (w1_override)
                ASSERT_OK(vk_recorder_upload(rec, n->w1, w1_override, D * H * 4));
        ASSERT_OK(vk_recorder_upload(rec, x, x_data, sizeof(x_data)));
        ASSERT_OK(vk_recorder_upload(rec, y, y_data, sizeof(y_data)));
        ASSERT_OK(op_gemm_record(n->gemm, rec, x, n->w1, n->b1, h,
                                 &(OpGemmParams){ B, H, D, .act = VK_ACTIVATION_RELU }));
        ASSERT_OK(op_gemm_record(n->gemm, rec, h, n->w2, n->b2, z, &(OpGemmParams){ B, 1, H }));
        ASSERT_OK(op_bce_record(n->bce, rec, z, y, n->pw, NULL, l, B, 1));
        ASSERT_OK(op_reduce_record(n->reduce, rec, OP_REDUCE_MEAN, l, 1, B, 1, lm));
        if (step > 0) {
                OpAdamWParams a = adam;
                a.step = step;
                ASSERT_OK(op_bce_record_backward(n->bce, rec, z, y, n->pw, NULL, dz, B, 1, 1.0f / B));
                ASSERT_OK(op_gemm_record(n->gemm, rec, h, dz, NULL, n->g_w2, &(OpGemmParams){ H, 1, B, .trans_a = true }));
                ASSERT_OK(op_reduce_record(n->reduce, rec, OP_REDUCE_SUM, dz, B, 1, 0, n->g_b2));
                ASSERT_OK(op_gemm_record(n->gemm, rec, dz, n->w2, NULL, dh, &(OpGemmParams){ B, H, 1, .trans_b = true }));
                ASSERT_OK(op_relu_record_backward(n->relu, rec, VK_ACTIVATION_RELU, h, dh, dh, (size_t)B * H));
                ASSERT_OK(op_gemm_record(n->gemm, rec, x, dh, NULL, n->g_w1, &(OpGemmParams){ D, H, B, .trans_a = true }));
                ASSERT_OK(op_reduce_record(n->reduce, rec, OP_REDUCE_SUM, dh, B, H, 0, n->g_b1));
                VkTensor *ps[4] = { n->w1, n->b1, n->w2, n->b2 }, *gs[4] = { n->g_w1, n->g_b1, n->g_w2, n->g_b2 };
                for (int i = 0; i < 4 && update; i++)
                        ASSERT_OK(op_adamw_record(n->adamw, rec, gs[i], ps[i], n->m[i], n->v[i], ps[i]->count, &a));
        }
        ASSERT_OK(vk_recorder_download(rec, lm, &loss, sizeof(loss)));
        ASSERT_OK(vk_recorder_submit_and_wait(rec));
        if (step > 0 && update) {
                ASSERT_EQ(vk_recorder_n_dispatches(rec), 4 + 7 + 4);
                ASSERT_TRUE(vk_recorder_n_barriers(rec) >= 8);
        }
        return loss;
}

TEST(loss_curve)
{
        Params p, m = {}, v = {};
        Net n = {};
        size_t used = 0;

        make_data(&p);
        net_init(&n, &p);
        float first = 0, last = 0;
        for (uint32_t s = 1; s <= STEPS; s++) {
                double want = c_step(&p, &m, &v, s, true, NULL);
                float got = vk_step(&n, s, NULL, true);
                if (s == 1)
                        used = vk_arena_used(n.step);
                ASSERT_EQ(vk_arena_used(n.step), used); /* the same layout every step */
                if (s == 1 || s % 10 == 0)
                        fprintf(stderr, "  step %2u: loss %.6f on the device, %.6f in C\n", s, got, want);
                ASSERT_NEAR(got, want, 1e-4 * (1 + fabs(want)));
                if (s == 1)
                        first = got;
                last = got;
        }
        ASSERT_TRUE(last < 0.5f * first);
        net_free(&n);
}

typedef struct FdCtx {
        Net *n;
} FdCtx;

static double loss_of_w1(void *ud, const float *w1)
{
        FdCtx *c = ud;
        return vk_step(c->n, 0, w1, false);
}

TEST(finite_differences)
{
        Params p, g;
        Net n = {};
        float grad[D * H];

        make_data(&p);
        net_init(&n, &p);
        /* The device's gradient of W1 from one backward pass, no update. */
        (void)vk_step(&n, 1, p.w1, false);
        ASSERT_OK(vk_tensor_download(n.g_w1, grad, sizeof(grad)));
        (void)c_step(&p, &(Params){}, &(Params){}, 1, false, &g);
        vkt_compare("mlp dW1 vs C", grad, g.w1, D * H, 1e-8);
        FdCtx c = { &n };
        vkt_check_gradient("mlp dW1", loss_of_w1, &c, p.w1, D * H, grad, 48, 2e-3f, 2e-2);
        net_free(&n);
}

TEST_MAIN()
