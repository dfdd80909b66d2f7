/* SPDX-License-Identifier: MIT */
/* A tiny CNN — conv 3×3 s2 (TF "same") + ReLU6 → depthwise 3×3 + ReLU6 →
 * pointwise 1×1 (the GEMM path) + ReLU6 → global average pool → linear (GEMM)
 * → BCE with logits → AdamW — trained on the device, one command buffer and
 * one submit per step, must follow the C reference (tests/ref-conv.c plus
 * BCE and AdamW written out here) step by step:
 * |loss_vk − loss_c| ≤ 2e-4·(1 + loss_c) for each of 30 steps, and learn
 * (last loss < 0.7 × first); the parameters after the last step agree to
 * NMSE 1e-9. Must survive: the same tensors reused every step
 * (nothing allocated in the loop). */
#include "conv-test.h"
#include "op-adamw.h"
#include "op-bce.h"
#include "op-conv2d.h"
#include "op-dwconv.h"
#include "op-gemm.h"
#include "op-gpool.h"
#include "op-reduce.h"
#include "op-relu.h"
#include "ref-conv.h"

#define B 16
#define HW 8
#define C0 3
#define C1 8
#define C2 12
#define STEPS 30
#define TOL 2e-4

static const ConvShape s1 = { B, HW, HW, C0, C1, 3, 3, 2, 2, 0, 0, 1, 1 };      /* → 4×4×8 */
static const ConvShape s2 = { B, HW / 2, HW / 2, C1, C1, 3, 3, 1, 1, 1, 1, 1, 1 }; /* → 4×4×8 */
static const ConvShape s3 = { B, HW / 2, HW / 2, C1, C2, 1, 1, 1, 1, 0, 0, 0, 0 }; /* → 4×4×12 */
#define P1 ((HW / 2) * (HW / 2))
#define N1 (B * P1 * C1)
#define N3 (B * P1 * C2)

enum { W1, B1, W2, B2, W3, B3, W4, B4, NPARAM };
static const uint32_t sizes[NPARAM] = { 9 * C0 * C1, C1, 9 * C1, C1, C1 * C2, C2, C2, 1 };

static const OpAdamWParams adam = { .lr = 0.01f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                                    .weight_decay = 0.01f };
static float x_data[B * HW * HW * C0], y_data[B], pos_weight[1] = { 1.5f };

typedef struct Params {
        float *p[NPARAM], *m[NPARAM], *v[NPARAM];
} Params;

static void make_data(Params *ps)
{
        vkt_seed(81);
        for (size_t i = 0; i < ELEMENTSOF(x_data); i++)
                x_data[i] = vkt_normal();
        for (int b = 0; b < B; b++) {
                /* learnable from pixels: more red on the left half than on the right */
                double d = 0;
                for (int i = 0; i < HW; i++)
                        for (int j = 0; j < HW; j++)
                                d += (j < HW / 2 ? 1 : -1) * x_data[((b * HW + i) * HW + j) * C0];
                y_data[b] = d > 0 ? 1.0f : 0.0f;
        }
        for (int k = 0; k < NPARAM; k++) {
                ps->p[k] = calloc(sizes[k], sizeof(float));
                ps->m[k] = calloc(sizes[k], sizeof(float));
                ps->v[k] = calloc(sizes[k], sizeof(float));
                ASSERT_TRUE(ps->p[k] && ps->m[k] && ps->v[k]);
                for (uint32_t i = 0; i < sizes[k]; i++)
                        ps->p[k][i] = k % 2 == 0 ? vkt_normal() * 0.4f : 0.05f;
        }
}

static void params_free(Params *ps)
{
        for (int k = 0; k < NPARAM; k++) {
                free(ps->p[k]);
                free(ps->m[k]);
                free(ps->v[k]);
        }
}

/* ---- the C reference ---- */

static double c_step(Params *ps, uint32_t step)
{
        static float a1[N1], a2[N1], a3[N3], pool[B * C2], z[B], dz[B], dpool[B * C2], d3[N3], d2[N1], d1[N1];
        float *g[NPARAM], **p = ps->p;
        double loss = 0;

        ref_conv2d_fwd(&s1, VK_ACTIVATION_RELU6, x_data, p[W1], p[B1], a1);
        ref_dwconv_fwd(&s2, VK_ACTIVATION_RELU6, a1, p[W2], p[B2], a2);
        ref_conv2d_fwd(&s3, VK_ACTIVATION_RELU6, a2, p[W3], p[B3], a3);
        ref_gpool_fwd(POOL_AVG, B, P1, C2, a3, pool, NULL);
        for (int b = 0; b < B; b++) {
                z[b] = (float)(p[B4][0] + ref_dot(pool + b * C2, p[W4], C2));
                double x = z[b], y = y_data[b], pw = pos_weight[0];
                double sp_neg = fmax(-x, 0) + log1p(exp(-fabs(x))), sp_pos = fmax(x, 0) + log1p(exp(-fabs(x)));
                loss += pw * y * sp_neg + (1 - y) * sp_pos;
                double s = 1 / (1 + exp(-x));
                dz[b] = (float)(((pw * y + 1 - y) * s - pw * y) / B);
        }
        for (int k = 0; k < NPARAM; k++) {
                g[k] = calloc(sizes[k], sizeof(float));
                ASSERT_TRUE(g[k]);
        }
        for (int b = 0; b < B; b++) {
                g[B4][0] += dz[b];
                for (int j = 0; j < C2; j++) {
                        g[W4][j] += pool[b * C2 + j] * dz[b];
                        dpool[b * C2 + j] = dz[b] * p[W4][j];
                }
        }
        ref_gpool_bwd(POOL_AVG, B, P1, C2, dpool, NULL, d3);
        ref_act_bwd(VK_ACTIVATION_RELU6, N3, a3, d3, d3);
        ref_conv2d_bwd_weight(&s3, a2, d3, g[W3], g[B3]);
        ref_conv2d_bwd_data(&s3, d3, p[W3], d2);
        ref_act_bwd(VK_ACTIVATION_RELU6, N1, a2, d2, d2);
        ref_dwconv_bwd_weight(&s2, a1, d2, g[W2], g[B2]);
        ref_dwconv_bwd_data(&s2, d2, p[W2], d1);
        ref_act_bwd(VK_ACTIVATION_RELU6, N1, a1, d1, d1);
        ref_conv2d_bwd_weight(&s1, x_data, d1, g[W1], g[B1]);

        double bc1 = 1 - pow(adam.beta1, step), bc2 = 1 - pow(adam.beta2, step);
        for (int k = 0; k < NPARAM; k++) {
                for (uint32_t i = 0; i < sizes[k]; i++) {
                        float gi = g[k][i], *mm = &ps->m[k][i], *vv = &ps->v[k][i];
                        *mm = adam.beta1 * *mm + (1 - adam.beta1) * gi;
                        *vv = adam.beta2 * *vv + (1 - adam.beta2) * gi * gi;
                        double q = p[k][i] * (1.0 - (double)adam.lr * adam.weight_decay);
                        p[k][i] = (float)(q - adam.lr * (*mm / bc1) / (sqrt(*vv / bc2) + adam.eps));
                }
                free(g[k]);
        }
        return loss / B;
}

/* ---- the device ---- */

typedef struct Net {
        OpConv2d *conv;
        OpDwconv *dw;
        OpGpool *pool;
        OpGemm *gemm;
        OpRelu *relu;
        OpBce *bce;
        OpReduce *reduce;
        OpAdamW *adamw;
        VkTensor *p[NPARAM], *g[NPARAM], *m[NPARAM], *v[NPARAM];
        VkTensor *x, *y, *pw, *a1, *a2, *a3, *pooled, *z, *l, *lm, *dz, *dpool, *d3, *d2, *d1;
} Net;

static VkTensor *tensor(uint32_t count, const float *data)
{
        VkTensor *t;

        ASSERT_OK(vk_tensor_new(vkt_engine(), VK_DTYPE_F32, 1, (uint32_t[]){ count }, &t));
        if (data)
                ASSERT_OK(vk_tensor_upload(t, data, count * sizeof(float)));
        else
                ASSERT_OK(vk_tensor_fill(t, 0));
        return t;
}

static void net_init(Net *n, const Params *ps)
{
        VkEngine *e = vkt_engine();

        ASSERT_OK(op_conv2d_new(e, &n->conv));
        ASSERT_OK(op_dwconv_new(e, &n->dw));
        ASSERT_OK(op_gpool_new(e, &n->pool));
        ASSERT_OK(op_gemm_new(e, &n->gemm));
        ASSERT_OK(op_relu_new(e, &n->relu));
        ASSERT_OK(op_bce_new(e, &n->bce));
        ASSERT_OK(op_reduce_new(e, &n->reduce));
        ASSERT_OK(op_adamw_new(e, &n->adamw));
        for (int k = 0; k < NPARAM; k++) {
                n->p[k] = tensor(sizes[k], ps->p[k]);
                n->g[k] = tensor(sizes[k], NULL);
                n->m[k] = tensor(sizes[k], NULL);
                n->v[k] = tensor(sizes[k], NULL);
        }
        n->x = tensor(ELEMENTSOF(x_data), x_data);
        n->y = tensor(B, y_data);
        n->pw = tensor(1, pos_weight);
        n->a1 = tensor(N1, NULL);
        n->a2 = tensor(N1, NULL);
        n->a3 = tensor(N3, NULL);
        n->pooled = tensor(B * C2, NULL);
        n->z = tensor(B, NULL);
        n->l = tensor(B, NULL);
        n->lm = tensor(1, NULL);
        n->dz = tensor(B, NULL);
        n->dpool = tensor(B * C2, NULL);
        n->d3 = tensor(N3, NULL);
        n->d2 = tensor(N1, NULL);
        n->d1 = tensor(N1, NULL);
}

static void net_free(Net *n)
{
        op_conv2d_free(n->conv);
        op_dwconv_free(n->dw);
        op_gpool_free(n->pool);
        op_gemm_free(n->gemm);
        op_relu_free(n->relu);
        op_bce_free(n->bce);
        op_reduce_free(n->reduce);
        op_adamw_free(n->adamw);
        for (int k = 0; k < NPARAM; k++) {
                vk_tensor_free(n->p[k]);
                vk_tensor_free(n->g[k]);
                vk_tensor_free(n->m[k]);
                vk_tensor_free(n->v[k]);
        }
        VkTensor *t[] = { n->x, n->y, n->pw, n->a1, n->a2, n->a3, n->pooled, n->z,
                          n->l, n->lm, n->dz, n->dpool, n->d3, n->d2, n->d1 };
        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                vk_tensor_free(t[i]);
}

static float vk_step(Net *n, uint32_t step)
{
        VkRecorder *rec = vkt_recorder();
        OpAdamWParams a = adam;
        float loss;

        a.step = step;
        ASSERT_OK(vk_recorder_begin(rec));
        /* forward */
        ASSERT_OK(op_conv2d_record(n->conv, rec, &s1, VK_ACTIVATION_RELU6, n->x, n->p[W1], n->p[B1], n->a1));
        ASSERT_OK(op_dwconv_record(n->dw, rec, &s2, VK_ACTIVATION_RELU6, n->a1, n->p[W2], n->p[B2], n->a2));
        ASSERT_OK(op_conv2d_record(n->conv, rec, &s3, VK_ACTIVATION_RELU6, n->a2, n->p[W3], n->p[B3], n->a3));
        ASSERT_OK(op_gpool_record(n->pool, rec, POOL_AVG, B, P1, C2, n->a3, n->pooled, NULL));
        ASSERT_OK(op_gemm_record(n->gemm, rec, n->pooled, n->p[W4], n->p[B4], n->z, &(OpGemmParams){ B, 1, C2 }));
        ASSERT_OK(op_bce_record(n->bce, rec, n->z, n->y, n->pw, NULL, n->l, B, 1));
        ASSERT_OK(op_reduce_record(n->reduce, rec, OP_REDUCE_MEAN, n->l, 1, B, 1, n->lm));
        /* backward */
        ASSERT_OK(op_bce_record_backward(n->bce, rec, n->z, n->y, n->pw, NULL, n->dz, B, 1, 1.0f / B));
        ASSERT_OK(op_gemm_record(n->gemm, rec, n->pooled, n->dz, NULL, n->g[W4],
                                 &(OpGemmParams){ C2, 1, B, .trans_a = true }));
        ASSERT_OK(op_reduce_record(n->reduce, rec, OP_REDUCE_SUM, n->dz, B, 1, 0, n->g[B4]));
        ASSERT_OK(op_gemm_record(n->gemm, rec, n->dz, n->p[W4], NULL, n->dpool,
                                 &(OpGemmParams){ B, C2, 1, .trans_b = true }));
        ASSERT_OK(op_gpool_record_bwd(n->pool, rec, POOL_AVG, B, P1, C2, n->dpool, NULL, n->d3));
        ASSERT_OK(op_relu_record_backward(n->relu, rec, VK_ACTIVATION_RELU6, n->a3, n->d3, n->d3, N3));
        ASSERT_OK(op_conv2d_record_bwd_weight(n->conv, rec, &s3, n->a2, n->d3, n->g[W3], n->g[B3]));
        ASSERT_OK(op_conv2d_record_bwd_data(n->conv, rec, &s3, n->d3, n->p[W3], n->d2));
        ASSERT_OK(op_relu_record_backward(n->relu, rec, VK_ACTIVATION_RELU6, n->a2, n->d2, n->d2, N1));
        ASSERT_OK(op_dwconv_record_bwd_weight(n->dw, rec, &s2, n->a1, n->d2, n->g[W2], n->g[B2]));
        ASSERT_OK(op_dwconv_record_bwd_data(n->dw, rec, &s2, n->d2, n->p[W2], n->d1));
        ASSERT_OK(op_relu_record_backward(n->relu, rec, VK_ACTIVATION_RELU6, n->a1, n->d1, n->d1, N1));
        ASSERT_OK(op_conv2d_record_bwd_weight(n->conv, rec, &s1, n->x, n->d1, n->g[W1], n->g[B1]));
        /* update */
        for (int k = 0; k < NPARAM; k++)
                ASSERT_OK(op_adamw_record(n->adamw, rec, n->g[k], n->p[k], n->m[k], n->v[k], sizes[k], &a));
        ASSERT_OK(vk_recorder_download(rec, n->lm, &loss, sizeof(loss)));
        ASSERT_OK(vk_recorder_submit_and_wait(rec));
        return loss;
}

TEST(loss_curve)
{
        Params ps;
        Net n = {};
        float first = 0, last = 0;

        make_data(&ps);
        net_init(&n, &ps);
        for (uint32_t s = 1; s <= STEPS; s++) {
                double want = c_step(&ps, s);
                float got = vk_step(&n, s);
                if (s == 1 || s % 10 == 0)
                        fprintf(stderr, "  step %2u: loss %.6f on the device, %.6f in C\n", s, got, want);
                ASSERT_NEAR(got, want, TOL * (1 + fabs(want)));
                if (s == 1)
                        first = got;
                last = got;
        }
        ASSERT_TRUE(last < 0.7f * first);
        /* The parameters themselves, after 30 steps of both. */
        for (int k = 0; k < NPARAM; k++) {
                _cleanup_free_ float *got = vkt_download(n.p[k], sizes[k]);
                char what[32];
                snprintf(what, sizeof(what), "parameter %d after %d steps", k, STEPS);
                vkt_compare(what, got, ps.p[k], sizes[k], 1e-9);
        }
        net_free(&n);
        params_free(&ps);
}

TEST_MAIN()
