/* SPDX-License-Identifier: MIT */
/* Sum and mean along either axis against a double-precision C reference.
 * Must survive: 1×1, odd shapes, reductions longer than a workgroup (100003),
 * more outputs than fit the device's x dispatch limit in one go, NaN/inf
 * inputs (propagated to exactly their output), and bad axes or sizes.
 * Tolerance: NMSE ≤ 1e-7: each lane sums up to ~1600 terms in fp32 before the
 * tree, and uniform(-1, 1) data cancel (a sum of 1e5 terms is ~180 in size). */
#include "op-reduce.h"
#include "vk-test.h"

typedef struct Case {
        uint32_t rows, cols;
        unsigned axis;
} Case;

static const Case cases[] = {
        { 1, 1, 0 },   { 1, 1, 1 },    { 13, 127, 0 }, { 13, 127, 1 },     { 127, 13, 0 },
        { 1, 100003, 1 }, { 4097, 3, 0 }, { 3, 4097, 0 }, { 100003, 1, 0 }, { 70001, 2, 1 },
};

TEST(sum_and_mean)
{
        VkEngine *e = vkt_engine();
        VkRecorder *rec = vkt_recorder();
        _cleanup_(op_reduce_freep) OpReduce *op = NULL;

        vkt_seed(30);
        ASSERT_OK(op_reduce_new(e, &op));
        for (size_t c = 0; c < ELEMENTSOF(cases); c++)
                for (int kind = 0; kind < _OP_REDUCE_MAX; kind++) {
                        uint32_t rows = cases[c].rows, cols = cases[c].cols;
                        unsigned axis = cases[c].axis;
                        size_t n = (size_t)rows * cols, n_out = axis == 0 ? cols : rows;
                        uint32_t len = axis == 0 ? rows : cols;
                        float *hx = malloc(n * 4), *want = malloc(n_out * 4);
                        ASSERT_TRUE(hx && want);
                        vkt_fill(hx, n, -1, 1);
                        if (n > 1000 && n_out > 2) {
                                hx[n / 3] = NAN;
                                hx[n / 2] = INFINITY;
                        }
                        for (size_t o = 0; o < n_out; o++) {
                                double s = 0;
                                for (uint32_t j = 0; j < len; j++)
                                        s += axis == 0 ? hx[(size_t)j * cols + o] : hx[o * cols + j];
                                want[o] = (float)(kind == OP_REDUCE_MEAN ? s / len : s);
                        }
                        VkTensor *x = vkt_tensor(e, n, hx), *y = vkt_tensor(e, n_out, NULL);
                        ASSERT_OK(vk_recorder_begin(rec));
                        ASSERT_OK(op_reduce_record(op, rec, kind, x, rows, cols, axis, y));
                        ASSERT_OK(vk_recorder_submit_and_wait(rec));
                        float *got = vkt_download(y, n_out);
                        char what[80];
                        snprintf(what, sizeof(what), "%s %ux%u axis %u", kind ? "mean" : "sum", rows, cols, axis);
                        vkt_compare(what, got, want, n_out, 1e-7);
                        vkt_check_guard(y, n_out);
                        free(got);
                        free(hx);
                        free(want);
                        vk_tensor_free(x);
                        vk_tensor_free(y);
                }
}

TEST(invalid)
{
        VkEngine *e = vkt_engine();
        VkRecorder *rec = vkt_recorder();
        _cleanup_(op_reduce_freep) OpReduce *op = NULL;
        VkTensor *t = vkt_tensor(e, 10, NULL);

        ASSERT_OK(op_reduce_new(e, &op));
        ASSERT_OK(vk_recorder_begin(rec));
        ASSERT_ERROR(op_reduce_record(op, rec, OP_REDUCE_SUM, t, 0, 5, 0, t), EINVAL);
        ASSERT_ERROR(op_reduce_record(op, rec, OP_REDUCE_SUM, t, 2, 5, 2, t), EINVAL);
        ASSERT_ERROR(op_reduce_record(op, rec, OP_REDUCE_SUM, t, 100, 100, 0, t), EINVAL);
        ASSERT_ERROR(op_reduce_record(op, rec, _OP_REDUCE_MAX, t, 2, 5, 0, t), EINVAL);
        ASSERT_EQ(vk_recorder_n_dispatches(rec), 0);
        ASSERT_OK(vk_recorder_submit_and_wait(rec));
        vk_tensor_free(t);
}

TEST_MAIN()
