/* SPDX-License-Identifier: MIT */
/* AdamW against a C transcription of torch.optim.AdamW over several steps
 * (moments carried on the device). Must survive: zero gradients, huge
 * gradients (1e15: a bounded update, ≈ lr), step 0 and bad betas (errors).
 * Tolerance: NMSE ≤ 1e-10 after 5 steps. */
#include "op-adamw.h"
#include "vk-test.h"

static void reference_step(float *p, float *m, float *v, const float *g, size_t n, const OpAdamWParams *h)
{
        double bc1 = 1 - pow(h->beta1, h->step), bc2 = 1 - pow(h->beta2, h->step);
        for (size_t i = 0; i < n; i++) {
                m[i] = h->beta1 * m[i] + (1 - h->beta1) * g[i];
                v[i] = h->beta2 * v[i] + (1 - h->beta2) * g[i] * g[i];
                double pi = p[i] * (1.0 - (double)h->lr * h->weight_decay);
                p[i] = (float)(pi - h->lr * (m[i] / bc1) / (sqrt(v[i] / bc2) + h->eps));
        }
}

TEST(steps)
{
        VkEngine *e = vkt_engine();
        VkRecorder *rec = vkt_recorder();
        _cleanup_(op_adamw_freep) OpAdamW *op = NULL;
        static const size_t sizes[] = { 1, 13, 127, 5003 };

        vkt_seed(50);
        ASSERT_OK(op_adamw_new(e, &op));
        for (size_t s = 0; s < ELEMENTSOF(sizes); s++) {
                size_t n = sizes[s];
                float *p = malloc(n * 4), *m = calloc(n, 4), *v = calloc(n, 4), *g = malloc(n * 4);
                ASSERT_TRUE(p && m && v && g);
                vkt_fill(p, n, -1, 1);
                VkTensor *tp = vkt_tensor(e, n, p), *tm = vkt_tensor(e, n, m), *tv = vkt_tensor(e, n, v),
                         *tg = vkt_tensor(e, n, NULL);
                for (uint32_t step = 1; step <= 5; step++) {
                        OpAdamWParams h = { .lr = 0.01f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                                            .weight_decay = 0.05f, .step = step };
                        vkt_fill(g, n, -1, 1);
                        if (n > 13) {
                                g[0] = 0;
                                g[1] = 1e15f; /* g² stays finite in fp32 whatever the association */
                        }
                        ASSERT_OK(vk_recorder_begin(rec));
                        ASSERT_OK(vk_recorder_upload(rec, tg, g, n * 4));
                        ASSERT_OK(op_adamw_record(op, rec, tg, tp, tm, tv, n, &h));
                        ASSERT_OK(vk_recorder_submit_and_wait(rec));
                        reference_step(p, m, v, g, n, &h);
                }
                float *gp = vkt_download(tp, n), *gm = vkt_download(tm, n);
                char what[64];
                snprintf(what, sizeof(what), "adamw params n=%zu", n);
                vkt_compare(what, gp, p, n, 1e-10);
                snprintf(what, sizeof(what), "adamw first moment n=%zu", n);
                vkt_compare(what, gm, m, n, 1e-10);
                vkt_check_guard(tp, n);
                vkt_check_guard(tm, n);
                vkt_check_guard(tv, n);
                free(gp);
                free(gm);
                free(p);
                free(m);
                free(v);
                free(g);
                vk_tensor_free(tp);
                vk_tensor_free(tm);
                vk_tensor_free(tv);
                vk_tensor_free(tg);
        }
}

TEST(invalid)
{
        VkEngine *e = vkt_engine();
        VkRecorder *rec = vkt_recorder();
        _cleanup_(op_adamw_freep) OpAdamW *op = NULL;
        VkTensor *t = vkt_tensor(e, 8, NULL);
        OpAdamWParams h = OP_ADAMW_DEFAULTS;

        ASSERT_OK(op_adamw_new(e, &op));
        ASSERT_OK(vk_recorder_begin(rec));
        h.step = 0;
        ASSERT_ERROR(op_adamw_record(op, rec, t, t, t, t, 8, &h), EINVAL);
        h.step = 1;
        h.beta2 = 1.0f;
        ASSERT_ERROR(op_adamw_record(op, rec, t, t, t, t, 8, &h), EINVAL);
        h.beta2 = 0.999f;
        ASSERT_ERROR(op_adamw_record(op, rec, t, t, t, t, 8 + VKT_GUARD + 1, &h), EINVAL);
        ASSERT_ERROR(op_adamw_record(op, rec, t, t, t, t, 8, NULL), EINVAL);
        ASSERT_EQ(vk_recorder_n_dispatches(rec), 0);
        ASSERT_OK(vk_recorder_submit_and_wait(rec));
        vk_tensor_free(t);
}

TEST_MAIN()
