/* SPDX-License-Identifier: MIT */
/* Global average and max pooling, forward and backward, on the device against
 * the C reference and (backward) finite differences; ties go to the first
 * maximum and NaN wins and propagates. Must survive: a missing argmax for max
 * pooling, mismatched tensors and zero sizes (-EINVAL). */
#include "conv-test.h"
#include "op-gpool.h"
#include "ref-conv.h"

#define NMSE_BOUND 1e-10
#define FD_BOUND 5e-3

typedef struct FdCtx {
        PoolMode mode;
        uint32_t n, hw, c;
        const float *x, *g;
        float *y;
} FdCtx;

static double loss(void *userdata, const float *param)
{
        FdCtx *c = userdata;

        ref_gpool_fwd(c->mode, c->n, c->hw, c->c, c->x, c->y, NULL);
        return ref_dot(c->y, c->g, (size_t)c->n * c->c);
}

static void run_case(PoolMode mode, uint32_t n, uint32_t hw, uint32_t c, const float *given, uint64_t seed)
{
        VkEngine *e = vkt_engine();
        VkRecorder *rec = vkt_recorder();
        _cleanup_(op_gpool_freep) OpGpool *op = NULL;
        size_t nx = (size_t)n * hw * c, ny = (size_t)n * c;
        char label[96];

        vkt_seed(seed);
        _cleanup_free_ float *x = random_floats(nx, -1.0f, 1.0f);
        _cleanup_free_ float *g = random_floats(ny, -1.0f, 1.0f);
        _cleanup_free_ float *want_y = calloc(ny, sizeof(float));
        _cleanup_free_ float *want_dx = calloc(nx, sizeof(float));
        _cleanup_free_ uint32_t *want_arg = calloc(ny, sizeof(uint32_t));
        _cleanup_free_ uint32_t *got_arg = calloc(ny, sizeof(uint32_t));
        ASSERT_TRUE(want_y && want_dx && want_arg && got_arg);
        if (given)
                memcpy(x, given, nx * sizeof(float));
        ASSERT_OK(op_gpool_new(e, &op));
        _cleanup_(vk_tensor_freep) VkTensor *tx = vkt_tensor(e, nx, x);
        _cleanup_(vk_tensor_freep) VkTensor *tg = vkt_tensor(e, ny, g);
        _cleanup_(vk_tensor_freep) VkTensor *y = vkt_tensor(e, ny, NULL);
        _cleanup_(vk_tensor_freep) VkTensor *arg = guarded_u32(e, ny);
        _cleanup_(vk_tensor_freep) VkTensor *dx = vkt_tensor(e, nx, NULL);

        ASSERT_OK(vk_recorder_begin(rec));
        ASSERT_OK(op_gpool_record(op, rec, mode, n, hw, c, tx, y, mode == POOL_MAX ? arg : NULL));
        ASSERT_OK(op_gpool_record_bwd(op, rec, mode, n, hw, c, tg, mode == POOL_MAX ? arg : NULL, dx));
        ASSERT_OK(vk_recorder_submit_and_wait(rec));
        vkt_check_guard(y, ny);
        vkt_check_guard(dx, nx);
        vkt_check_guard(arg, ny);

        _cleanup_free_ float *got_y = vkt_download(y, ny);
        _cleanup_free_ float *got_dx = vkt_download(dx, nx);
        ref_gpool_fwd(mode, n, hw, c, x, want_y, want_arg);
        ref_gpool_bwd(mode, n, hw, c, g, want_arg, want_dx);
        snprintf(label, sizeof(label), "%s n%u hw%u c%u forward", mode == POOL_MAX ? "max" : "avg", n, hw, c);
        vkt_compare(label, got_y, want_y, ny, NMSE_BOUND);
        if (mode == POOL_MAX) {
                ASSERT_OK(vk_tensor_download(arg, got_arg, ny * sizeof(uint32_t)));
                for (size_t i = 0; i < ny; i++)
                        if (got_arg[i] != want_arg[i])
                                TEST_FAIL("argmax %zu is %u, expected %u", i, got_arg[i], want_arg[i]);
        }
        snprintf(label, sizeof(label), "%s n%u hw%u c%u backward", mode == POOL_MAX ? "max" : "avg", n, hw, c);
        vkt_compare(label, got_dx, want_dx, nx, NMSE_BOUND);
        if (given)
                return;

        FdCtx ctx = { .mode = mode, .n = n, .hw = hw, .c = c, .x = x, .g = g, .y = want_y };
        vkt_check_gradient(label, loss, &ctx, x, nx, got_dx, 32, 1e-3f, FD_BOUND);
}

TEST(average)
{
        run_case(POOL_AVG, 3, 49, 13, NULL, 1);
        run_case(POOL_AVG, 1, 1, 1, NULL, 2);
        run_case(POOL_AVG, 2, 196, 127, NULL, 3);
}

TEST(max)
{
        run_case(POOL_MAX, 3, 49, 13, NULL, 4);
        run_case(POOL_MAX, 1, 1, 1, NULL, 5);
        run_case(POOL_MAX, 2, 13, 127, NULL, 6);
}

TEST(ties_and_nan)
{
        /* [hw][c] for n = 1, c = 3: channel 0 ties (first wins), channel 1 has a
         * NaN after the maximum (NaN wins), channel 2 has -inf and +inf. */
        const float x[] = {
                1.0f, 0.0f, -INFINITY,
                1.0f, 3.0f, 2.0f,
                1.0f, 3.0f, INFINITY,
                0.5f, NAN, INFINITY,
                1.0f, 3.0f, 1.0f,
        };
        float y[3];
        uint32_t arg[3];

        ref_gpool_fwd(POOL_MAX, 1, 5, 3, x, y, arg);
        ASSERT_EQ(arg[0], 0u);
        ASSERT_EQ(arg[1], 3u);
        ASSERT_EQ(arg[2], 2u);
        ASSERT_TRUE(isnan(y[1]));
        run_case(POOL_MAX, 1, 5, 3, x, 7);
        run_case(POOL_AVG, 1, 5, 3, x, 8);
}

TEST(invalid)
{
        VkEngine *e = vkt_engine();
        VkRecorder *rec = vkt_recorder();
        _cleanup_(op_gpool_freep) OpGpool *op = NULL;
        _cleanup_(vk_tensor_freep) VkTensor *x = NULL, *y = NULL, *arg = NULL;
        ASSERT_OK(op_gpool_new(e, &op));
        ASSERT_OK(vk_tensor_new(e, VK_DTYPE_F32, 1, (uint32_t[]){ 24 }, &x));
        ASSERT_OK(vk_tensor_new(e, VK_DTYPE_F32, 1, (uint32_t[]){ 6 }, &y));
        ASSERT_OK(vk_tensor_new(e, VK_DTYPE_U32, 1, (uint32_t[]){ 6 }, &arg));
        ASSERT_OK(vk_recorder_begin(rec));
        ASSERT_OK(op_gpool_record(op, rec, POOL_MAX, 2, 4, 3, x, y, arg));
        ASSERT_ERROR(op_gpool_record(op, rec, POOL_MAX, 2, 4, 3, x, y, NULL), EINVAL);
        ASSERT_ERROR(op_gpool_record(op, rec, POOL_MAX, 2, 4, 3, x, y, y), EINVAL);
        ASSERT_ERROR(op_gpool_record(op, rec, POOL_AVG, 2, 5, 3, x, y, NULL), EINVAL);
        ASSERT_ERROR(op_gpool_record(op, rec, POOL_AVG, 0, 4, 3, x, y, NULL), EINVAL);
        ASSERT_ERROR(op_gpool_record(op, rec, 2, 2, 4, 3, x, y, arg), EINVAL);
        ASSERT_ERROR(op_gpool_record_bwd(op, rec, POOL_MAX, 2, 4, 3, y, NULL, x), EINVAL);
        ASSERT_OK(vk_recorder_submit_and_wait(rec));
}

TEST_MAIN()
