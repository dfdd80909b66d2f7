/* SPDX-License-Identifier: MIT */
/* The head on the device against a plain C forward pass and finite
 * differences of the training loss, on random weights and random bags
 * (empty bags and unknown tags included). */
#include "head.h"
#include "vk-test.h"

#define D 37
#define V 53
#define T 5
#define H 11
#define B 19

static void random_model(Model **ret)
{
        Model *m;
        ASSERT_OK(model_new(D, V, T, H, &m));
        vkt_seed(5);
        for (int j = 0; j < D; j++) {
                m->mean[j] = vkt_normal();
                m->inv_std[j] = vkt_uniform(0.5f, 1.5f);
        }
        for (int i = 0; i < D * H; i++)
                m->w1x[i] = vkt_normal() * 0.3f;
        for (int i = 0; i < T * H; i++)
                m->w1t[i] = vkt_normal();
        for (int i = 0; i < H; i++) {
                m->b1[i] = vkt_normal() * 0.1f;
                m->w2[i] = vkt_normal();
        }
        m->b2[0] = 0.2f;
        for (int i = 0; i < V * T; i++)
                m->emb[i] = vkt_normal();
        *ret = m;
}

static void random_batch(float *x, uint32_t *offs, uint32_t *tags, float *y)
{
        uint32_t nnz = 0;
        offs[0] = 0;
        for (int b = 0; b < B; b++) {
                for (int j = 0; j < D; j++)
                        x[b * D + j] = vkt_normal();
                uint32_t k = b % 4 == 0 ? 0 : 1 + vkt_u32() % 6; /* some empty bags */
                uint32_t t = vkt_u32() % 5;
                for (uint32_t i = 0; i < k && t < V; i++, t += 1 + vkt_u32() % 9)
                        tags[nnz++] = t;
                offs[b + 1] = nnz;
                y[b] = (float)(vkt_u32() % 2);
        }
}

static void c_forward(const Model *m, const float *x, const uint32_t *offs, const uint32_t *tags, float *z)
{
        for (int b = 0; b < B; b++) {
                float t[T] = {};
                uint32_t n = offs[b + 1] - offs[b];
                for (uint32_t a = offs[b]; a < offs[b + 1]; a++)
                        for (int j = 0; j < T; j++)
                                t[j] += m->emb[tags[a] * T + j] / n;
                double zz = m->b2[0];
                for (int q = 0; q < H; q++) {
                        double s = m->b1[q];
                        for (int j = 0; j < D; j++)
                                s += x[b * D + j] * m->w1x[j * H + q];
                        for (int j = 0; j < T; j++)
                                s += t[j] * m->w1t[j * H + q];
                        zz += fmax(s, 0) * m->w2[q];
                }
                z[b] = (float)zz;
        }
}

TEST(forward_matches_c)
{
        _cleanup_(model_freep) Model *m = NULL;
        _cleanup_(head_freep) Head *h = NULL;
        float x[B * D], y[B], z[B], want[B];
        uint32_t offs[B + 1], tags[B * 8];

        random_model(&m);
        random_batch(x, offs, tags, y);
        ASSERT_OK(head_new(vkt_engine(), m, B, B * 8, &h));
        ASSERT_OK(head_upload(h, m));
        ASSERT_OK(head_forward(h, &(HeadBatch){B, x, offs, tags, y}, z, NULL));
        c_forward(m, x, offs, tags, want);
        vkt_compare("head logits", z, want, B, 1e-10);
}

static double bce_mean(const float *z, const float *y, float pw)
{
        double l = 0;
        for (int b = 0; b < B; b++) {
                double s = z[b];
                double spn = fmax(-s, 0) + log1p(exp(-fabs(s))), spp = fmax(s, 0) + log1p(exp(-fabs(s)));
                l += pw * y[b] * spn + (1 - y[b]) * spp;
        }
        return l / B;
}

TEST(update_descends_along_c_gradient)
{
        /* One AdamW step with lr tiny and no decay moves every weight by about
         * -lr·sign(grad): compare the sign pattern with finite differences of the C loss. */
        _cleanup_(model_freep) Model *m = NULL, *after = NULL;
        _cleanup_(head_freep) Head *h = NULL;
        float x[B * D], y[B], z[B];
        uint32_t offs[B + 1], tags[B * 8];
        const float pw = 1.7f, lr = 1e-4f;

        random_model(&m);
        random_model(&after);
        random_batch(x, offs, tags, y);
        ASSERT_OK(head_new(vkt_engine(), m, B, B * 8, &h));
        ASSERT_OK(head_upload(h, m));
        OpAdamWParams a = {
                .lr = lr, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-12f, .weight_decay = 0, .step = 1};
        float loss;
        ASSERT_OK(head_train_step(h, &(HeadBatch){B, x, offs, tags, y}, pw, &a, &loss));
        c_forward(m, x, offs, tags, z);
        ASSERT_NEAR(loss, bce_mean(z, y, pw), 1e-4);
        ASSERT_OK(head_download(h, after));

        struct {
                const char *name;
                float *p, *q;
                size_t n;
        } ps[] = {{"w1x", m->w1x, after->w1x, D * H}, {"w1t", m->w1t, after->w1t, T * H},
                  {"b1", m->b1, after->b1, H},        {"w2", m->w2, after->w2, H},
                  {"b2", m->b2, after->b2, 1},        {"emb", m->emb, after->emb, V * T}};
        for (size_t k = 0; k < ELEMENTSOF(ps); k++) {
                unsigned checked = 0, agree = 0;
                for (size_t i = 0; i < ps[k].n; i += 1 + ps[k].n / 40) {
                        float old = ps[k].p[i];
                        ps[k].p[i] = old + 1e-2f;
                        c_forward(m, x, offs, tags, z);
                        double lp = bce_mean(z, y, pw);
                        ps[k].p[i] = old - 1e-2f;
                        c_forward(m, x, offs, tags, z);
                        double lm = bce_mean(z, y, pw);
                        ps[k].p[i] = old;
                        double g = (lp - lm) / 2e-2;
                        if (fabs(g) < 1e-4)
                                continue; /* rows not in the batch, dead units */
                        checked++;
                        double moved = ps[k].q[i] - old;
                        agree += (moved < 0) == (g > 0) && fabs(fabs(moved) - lr) < 0.2 * lr;
                }
                fprintf(stderr, "  %s: %u of %u sampled weights moved by -lr·sign(∂loss)\n", ps[k].name,
                        agree, checked);
                ASSERT_TRUE(checked > 0);
                ASSERT_TRUE(agree >= checked * 9 / 10);
        }
}

typedef struct DxCase {
        const Model *m;
        const uint32_t *offs, *tags;
        const float *y;
        float pw;
} DxCase;

static double dx_loss(void *userdata, const float *x)
{
        const DxCase *c = userdata;
        float z[B];
        c_forward(c->m, x, c->offs, c->tags, z);
        return bce_mean(z, c->y, c->pw);
}

TEST(dx_matches_finite_differences)
{
        /* what a fine-tuned backbone tail below the head trains on */
        _cleanup_(model_freep) Model *m = NULL;
        _cleanup_(head_freep) Head *h = NULL;
        float x[B * D], y[B], dx[B * D], loss;
        uint32_t offs[B + 1], tags[B * 8];
        OpAdamWParams a = {.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .step = 1};

        random_model(&m);
        random_batch(x, offs, tags, y);
        ASSERT_OK(head_new(vkt_engine(), m, B, B * 8, &h));
        ASSERT_OK(head_upload(h, m));
        ASSERT_OK(head_train_step_dx(h, &(HeadBatch){B, x, offs, tags, y}, 1.3f, &a, &loss, dx));
        DxCase c = {m, offs, tags, y, 1.3f};
        vkt_check_gradient("head dx", dx_loss, &c, x, B * D, dx, 80, 1e-2f, 2e-2);
}

TEST_MAIN()
