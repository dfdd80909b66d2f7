/* SPDX-License-Identifier: MIT */
/* Element-wise add, scale and in-place accumulate against C; must survive:
 * NaN/inf inputs (propagated where C propagates them), sizes that leave a
 * partial workgroup, and tensors too small for n (an error, no dispatch). */
#include "op-eltwise.h"
#include "vk-test.h"

/* n % 4 == 0 takes the 4-floats-per-invocation kernel. */
static const size_t sizes[] = {1, 4, 13, 127, 4096, 4097, 100003, 100004};

static void run_case(size_t n, int mode)
{
        VkEngine *e = vkt_engine();
        VkRecorder *rec = vkt_recorder();
        _cleanup_(op_eltwise_freep) OpEltwise *op = NULL;
        float *ha = malloc(n * 4), *hb = malloc(n * 4), *want = malloc(n * 4);
        const float alpha = -0.75f;

        ASSERT_TRUE(ha && hb && want);
        vkt_fill(ha, n, -10, 10);
        vkt_fill(hb, n, -10, 10);
        if (n > 13) {
                ha[3] = NAN;
                hb[5] = INFINITY;
                ha[7] = -INFINITY;
        }
        for (size_t i = 0; i < n; i++)
                want[i] = mode == 0 ? ha[i] + hb[i] : mode == 1 ? alpha * ha[i] : hb[i] + alpha * ha[i];

        VkTensor *a = vkt_tensor(e, n, ha), *b = vkt_tensor(e, n, hb), *c = vkt_tensor(e, n, NULL);
        ASSERT_OK(op_eltwise_new(e, &op));
        ASSERT_OK(vk_recorder_begin(rec));
        if (mode == 0)
                ASSERT_OK(op_eltwise_record_add(op, rec, a, b, c, n));
        else if (mode == 1)
                ASSERT_OK(op_eltwise_record_scale(op, rec, alpha, a, c, n));
        else
                ASSERT_OK(op_eltwise_record_axpy(op, rec, alpha, a, b, n));
        ASSERT_OK(vk_recorder_submit_and_wait(rec));

        VkTensor *out = mode == 2 ? b : c;
        float *got = vkt_download(out, n);
        char what[64];
        snprintf(what, sizeof(what), "%s n=%zu", mode == 0 ? "add" : mode == 1 ? "scale" : "axpy", n);
        /* Each element is one rounding of the same float expression: exact up to FMA contraction. */
        vkt_compare(what, got, want, n, 1e-12);
        vkt_check_guard(out, n);
        free(got);
        free(ha);
        free(hb);
        free(want);
        vk_tensor_free(a);
        vk_tensor_free(b);
        vk_tensor_free(c);
}

TEST(add)
{
        vkt_seed(1);
        for (size_t i = 0; i < ELEMENTSOF(sizes); i++)
                run_case(sizes[i], 0);
}

TEST(scale)
{
        vkt_seed(2);
        for (size_t i = 0; i < ELEMENTSOF(sizes); i++)
                run_case(sizes[i], 1);
}

TEST(axpy)
{
        vkt_seed(3);
        for (size_t i = 0; i < ELEMENTSOF(sizes); i++)
                run_case(sizes[i], 2);
}

TEST(invalid_sizes)
{
        VkEngine *e = vkt_engine();
        VkRecorder *rec = vkt_recorder();
        _cleanup_(op_eltwise_freep) OpEltwise *op = NULL;
        VkTensor *a = vkt_tensor(e, 10, NULL), *u = vkt_tensor_u32(e, 64, (uint32_t[64]){0});

        ASSERT_OK(op_eltwise_new(e, &op));
        ASSERT_OK(vk_recorder_begin(rec));
        /* 10 + guard words = 26 elements: 27 is one too many. */
        ASSERT_ERROR(op_eltwise_record_add(op, rec, a, a, a, 27), EINVAL);
        ASSERT_ERROR(op_eltwise_record_add(op, rec, a, a, NULL, 1), EINVAL);
        ASSERT_ERROR(op_eltwise_record_add(op, rec, u, a, a, 1), EINVAL);
        ASSERT_EQ(vk_recorder_n_dispatches(rec), 0);
        /* n = 0 is valid and records nothing. */
        ASSERT_OK(op_eltwise_record_add(op, rec, a, a, a, 0));
        ASSERT_EQ(vk_recorder_n_dispatches(rec), 0);
        ASSERT_OK(vk_recorder_submit_and_wait(rec));
        vk_tensor_free(a);
        vk_tensor_free(u);
}

TEST_MAIN()
