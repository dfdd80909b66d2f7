/* SPDX-License-Identifier: MIT */
/* The fine-tuned backbone tail (1×1 conv, ReLU6, mean+max pooling) on the
 * device against a plain C forward pass in double, and its weight and bias
 * gradients against finite differences of that C pass. Bad input: a batch
 * larger than the tail was built for, or a backward without its forward, is
 * refused with -EINVAL. */
#include "ft-tail.h"
#include "vk-test.h"

#define HW 7
#define CIN 13
#define COUT 11
#define N 5

typedef struct Case {
        float act[N * HW * CIN], w[CIN * COUT], b[COUT];
        float gmean[N * COUT], gmax[N * COUT]; /* the loss is Σ gmean·mean + Σ gmax·max */
} Case;

static void c_forward(const Case *c, double *mean, double *max)
{
        for (int n = 0; n < N; n++)
                for (int k = 0; k < COUT; k++) {
                        double s = 0, m = -1;
                        for (int p = 0; p < HW; p++) {
                                double y = c->b[k];
                                for (int j = 0; j < CIN; j++)
                                        y += (double)c->act[(n * HW + p) * CIN + j] * c->w[j * COUT + k];
                                y = fmin(fmax(y, 0), 6);
                                s += y;
                                m = fmax(m, y);
                        }
                        mean[n * COUT + k] = s / HW;
                        max[n * COUT + k] = m;
                }
}

static double c_loss(void *userdata, const float *x)
{
        const Case *c = userdata;
        double mean[N * COUT], max[N * COUT], l = 0;
        (void)x; /* perturbed in place: x points into c */
        c_forward(c, mean, max);
        for (int i = 0; i < N * COUT; i++)
                l += c->gmean[i] * mean[i] + c->gmax[i] * max[i];
        return l;
}

static void random_case(Case *c)
{
        vkt_seed(11);
        /* a wide spread so some units sit below 0 and some above 6 */
        vkt_fill(c->act, ELEMENTSOF(c->act), -1.5f, 2.5f);
        vkt_fill(c->w, ELEMENTSOF(c->w), -1.0f, 1.0f);
        vkt_fill(c->b, ELEMENTSOF(c->b), -1.0f, 2.0f);
        vkt_fill(c->gmean, ELEMENTSOF(c->gmean), -1.0f, 1.0f);
        vkt_fill(c->gmax, ELEMENTSOF(c->gmax), -1.0f, 1.0f);
}

TEST(forward_matches_c)
{
        _cleanup_(ft_tail_freep) FtTail *t = NULL;
        static Case c;
        float mean[N * COUT], max[N * COUT], want_mean[N * COUT], want_max[N * COUT];
        double dm[N * COUT], dx[N * COUT];

        random_case(&c);
        ASSERT_OK(ft_tail_new(vkt_engine(), HW, CIN, COUT, N, &t));
        ASSERT_OK(ft_tail_upload(t, c.w, c.b));
        ASSERT_OK(ft_tail_forward(t, c.act, N, mean, max));
        c_forward(&c, dm, dx);
        unsigned clipped = 0;
        for (int i = 0; i < N * COUT; i++) {
                want_mean[i] = (float)dm[i];
                want_max[i] = (float)dx[i];
                clipped += dx[i] == 6.0 || dx[i] == 0.0;
        }
        ASSERT_TRUE(clipped > 0); /* the case reaches ReLU6's flat parts */
        vkt_compare("tail mean", mean, want_mean, N * COUT, 1e-10);
        vkt_compare("tail max", max, want_max, N * COUT, 1e-10);
}

TEST(backward_matches_finite_differences)
{
        _cleanup_(ft_tail_freep) FtTail *t = NULL;
        static Case c;
        float dw[CIN * COUT], db[COUT];

        random_case(&c);
        ASSERT_OK(ft_tail_new(vkt_engine(), HW, CIN, COUT, N, &t));
        ASSERT_OK(ft_tail_upload(t, c.w, c.b));
        ASSERT_OK(ft_tail_forward(t, c.act, N, NULL, NULL));
        ASSERT_OK(ft_tail_backward(t, c.gmean, c.gmax, N, NULL, dw, db));
        vkt_check_gradient("tail dw", c_loss, &c, c.w, CIN * COUT, dw, 60, 1e-3f, 2e-2);
        vkt_check_gradient("tail db", c_loss, &c, c.b, COUT, db, COUT, 1e-3f, 2e-2);

        /* without a step, the weights are untouched */
        float w2[CIN * COUT], b2[COUT];
        ASSERT_OK(ft_tail_download(t, w2, b2));
        ASSERT_TRUE(memcmp(w2, c.w, sizeof(w2)) == 0);
        ASSERT_TRUE(memcmp(b2, c.b, sizeof(b2)) == 0);
}

TEST(adamw_step_descends)
{
        /* AdamW's first step moves each weight by -lr·sign(grad) (no decay). */
        _cleanup_(ft_tail_freep) FtTail *t = NULL;
        static Case c;
        float dw[CIN * COUT], db[COUT], w2[CIN * COUT], b2[COUT];
        const float lr = 1e-4f;
        OpAdamWParams a = {
                .lr = lr, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-12f, .weight_decay = 0, .step = 1};

        random_case(&c);
        ASSERT_OK(ft_tail_new(vkt_engine(), HW, CIN, COUT, N, &t));
        ASSERT_OK(ft_tail_upload(t, c.w, c.b));
        ASSERT_OK(ft_tail_forward(t, c.act, N, NULL, NULL));
        ASSERT_OK(ft_tail_backward(t, c.gmean, c.gmax, N, &a, dw, db));
        ASSERT_OK(ft_tail_download(t, w2, b2));
        unsigned checked = 0, agree = 0;
        for (int i = 0; i < CIN * COUT; i++) {
                if (fabsf(dw[i]) < 1e-6f)
                        continue; /* dead units */
                checked++;
                float moved = w2[i] - c.w[i];
                agree += (moved < 0) == (dw[i] > 0) && fabsf(fabsf(moved) - lr) < 0.2f * lr;
        }
        ASSERT_TRUE(checked > CIN * COUT / 2);
        ASSERT_EQ(agree, checked);
        double before = c_loss(&c, NULL);
        memcpy(c.w, w2, sizeof(w2));
        memcpy(c.b, b2, sizeof(b2));
        ASSERT_TRUE(c_loss(&c, NULL) < before);
}

TEST(bad_input)
{
        _cleanup_(ft_tail_freep) FtTail *t = NULL;
        static Case c;
        random_case(&c);
        ASSERT_EQ(ft_tail_new(vkt_engine(), 0, CIN, COUT, N, &t), -EINVAL);
        ASSERT_OK(ft_tail_new(vkt_engine(), HW, CIN, COUT, N, &t));
        ASSERT_OK(ft_tail_upload(t, c.w, c.b));
        ASSERT_EQ(ft_tail_backward(t, c.gmean, c.gmax, N, NULL, NULL, NULL), -EINVAL); /* no forward yet */
        ASSERT_EQ(ft_tail_forward(t, c.act, N + 1, NULL, NULL), -EINVAL);
        ASSERT_OK(ft_tail_forward(t, c.act, N - 1, NULL, NULL));
        ASSERT_EQ(ft_tail_backward(t, c.gmean, c.gmax, N, NULL, NULL, NULL), -EINVAL); /* batch mismatch */
        ASSERT_OK(ft_tail_backward(t, c.gmean, c.gmax, N - 1, NULL, NULL, NULL));
}

TEST_MAIN()
