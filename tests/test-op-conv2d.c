/* SPDX-License-Identifier: MIT */
/* conv2d forward, backward-data and backward-weight on the device against the
 * C reference (tests/ref-conv.c) on odd shapes, including TF "same"
 * asymmetric padding and the 1×1 GEMM path; the backward outputs also against
 * central finite differences of the reference forward. Must survive: NaN and
 * inf inputs (propagated exactly as the reference does), shapes that do not
 * match their tensors, zero sizes, pads as large as the kernel (-EINVAL). */
#include "conv-test.h"
#include "op-conv2d.h"
#include "ref-conv.h"

/* fp32 accumulation against double: NMSE ~1e-13 here; an indexing mistake gives ~1. */
#define NMSE_BOUND 1e-9
/* Relative error (vkt_check_gradient) of a device gradient against central
 * differences of the reference forward. The loss is linear in each input, so
 * a large step (0.25) is exact but for float rounding of the loss. */
#define FD_BOUND 1e-4
#define FD_SAMPLES 24

typedef struct FdCtx {
        const ConvShape *s;
        const float *x, *w, *b, *g;
        float *y;
        size_t ny;
} FdCtx;

static double loss(void *userdata, const float *param)
{
        FdCtx *c = userdata;

        ref_conv2d_fwd(c->s, VK_ACTIVATION_NONE, c->x, c->w, c->b, c->y);
        return ref_dot(c->y, c->g, c->ny);
}

static const OpConv2dTiles *tiles; /* NULL: the device's defaults */

static void run_case(const char *name, const ConvShape *s, VkActivation act, bool bias, bool specials, uint64_t seed)
{
        VkEngine *e = vkt_engine();
        VkRecorder *rec = vkt_recorder();
        _cleanup_(op_conv2d_freep) OpConv2d *op = NULL;
        uint32_t oh, ow;
        char label[128];

        vkt_seed(seed);
        ASSERT_OK(conv_shape_out(s, &oh, &ow));
        size_t nx = (size_t)s->n * s->h * s->w * s->c, nw = (size_t)s->kh * s->kw * s->c * s->k;
        size_t ny = (size_t)s->n * oh * ow * s->k;
        fprintf(stderr, " %s: n%u %ux%ux%u → %ux%ux%u, k%ux%u s%u,%u pad %u,%u,%u,%u act %d%s\n", name, s->n, s->h,
                s->w, s->c, oh, ow, s->k, s->kh, s->kw, s->stride_h, s->stride_w, s->pad_top, s->pad_left,
                s->pad_bottom, s->pad_right, act, bias ? " bias" : "");

        _cleanup_free_ float *x = random_floats(nx, -1.0f, 1.0f);
        _cleanup_free_ float *w = random_floats(nw, -0.5f, 0.5f);
        _cleanup_free_ float *b = random_floats(s->k, -1.0f, 1.0f);
        _cleanup_free_ float *g = random_floats(ny, -1.0f, 1.0f);
        _cleanup_free_ float *want = calloc(nx + nw + ny + s->k, sizeof(float));
        ASSERT_TRUE(want);
        if (specials) {
                x[nx / 3] = NAN;
                x[nx / 2] = INFINITY;
                x[nx - 1] = -INFINITY;
        }
        ASSERT_OK(op_conv2d_new_tiled(e, tiles, &op));
        _cleanup_(vk_tensor_freep) VkTensor *tx = vkt_tensor(e, nx, x);
        _cleanup_(vk_tensor_freep) VkTensor *tw = vkt_tensor(e, nw, w);
        _cleanup_(vk_tensor_freep) VkTensor *tb = vkt_tensor(e, s->k, b);
        _cleanup_(vk_tensor_freep) VkTensor *tg = vkt_tensor(e, ny, g);
        _cleanup_(vk_tensor_freep) VkTensor *y = vkt_tensor(e, ny, NULL);
        _cleanup_(vk_tensor_freep) VkTensor *dx = vkt_tensor(e, nx, NULL);
        _cleanup_(vk_tensor_freep) VkTensor *dw = vkt_tensor(e, nw, NULL);
        _cleanup_(vk_tensor_freep) VkTensor *db = vkt_tensor(e, s->k, NULL);

        ASSERT_OK(vk_recorder_begin(rec));
        ASSERT_OK(op_conv2d_record(op, rec, s, act, tx, tw, bias ? tb : NULL, y));
        if (!specials) {
                ASSERT_OK(op_conv2d_record_bwd_data(op, rec, s, tg, tw, dx));
                ASSERT_OK(op_conv2d_record_bwd_weight(op, rec, s, tx, tg, dw, bias ? db : NULL));
        }
        ASSERT_OK(vk_recorder_submit_and_wait(rec));
        vkt_check_guard(y, ny);

        _cleanup_free_ float *got_y = vkt_download(y, ny);
        ref_conv2d_fwd(s, act, x, w, bias ? b : NULL, want);
        snprintf(label, sizeof(label), "%s forward", name);
        vkt_compare(label, got_y, want, ny, NMSE_BOUND);
        if (specials)
                return;

        vkt_check_guard(dx, nx);
        vkt_check_guard(dw, nw);
        vkt_check_guard(db, s->k);
        _cleanup_free_ float *got_dx = vkt_download(dx, nx);
        _cleanup_free_ float *got_dw = vkt_download(dw, nw);
        _cleanup_free_ float *got_db = vkt_download(db, s->k);

        ref_conv2d_bwd_data(s, g, w, want);
        snprintf(label, sizeof(label), "%s backward-data", name);
        vkt_compare(label, got_dx, want, nx, NMSE_BOUND);
        ref_conv2d_bwd_weight(s, x, g, want, want + nw);
        snprintf(label, sizeof(label), "%s backward-weight", name);
        vkt_compare(label, got_dw, want, nw, NMSE_BOUND);
        if (bias) {
                snprintf(label, sizeof(label), "%s backward-bias", name);
                vkt_compare(label, got_db, want + nw, s->k, NMSE_BOUND);
        }

        FdCtx c = { .s = s, .x = x, .w = w, .b = b, .g = g, .y = want, .ny = ny };
        snprintf(label, sizeof(label), "%s dx", name);
        vkt_check_gradient(label, loss, &c, x, nx, got_dx, FD_SAMPLES, 0.25f, FD_BOUND);
        snprintf(label, sizeof(label), "%s dw", name);
        vkt_check_gradient(label, loss, &c, w, nw, got_dw, FD_SAMPLES, 0.25f, FD_BOUND);
        if (bias) {
                snprintf(label, sizeof(label), "%s db", name);
                vkt_check_gradient(label, loss, &c, b, s->k, got_db, FD_SAMPLES, 0.25f, FD_BOUND);
        }
}

TEST(odd_shapes)
{
        run_case("3x3 pad1 relu6", &(ConvShape){ 2, 13, 13, 3, 5, 3, 3, 1, 1, 1, 1, 1, 1 }, VK_ACTIVATION_RELU6,
                 true, false, 1);
        run_case("3x3 s2 tf-same", &(ConvShape){ 2, 14, 14, 8, 13, 3, 3, 2, 2, 0, 0, 1, 1 }, VK_ACTIVATION_NONE,
                 false, false, 2);
        run_case("wide k", &(ConvShape){ 1, 7, 9, 13, 127, 3, 3, 1, 1, 1, 1, 1, 1 }, VK_ACTIVATION_RELU, true,
                 false, 3);
        run_case("5x3 s2,1 uneven pad", &(ConvShape){ 3, 11, 6, 2, 7, 5, 3, 2, 1, 2, 1, 0, 2 },
                 VK_ACTIVATION_NONE, true, false, 4);
        run_case("all ones", &(ConvShape){ 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0 }, VK_ACTIVATION_NONE, true,
                 false, 5);
        run_case("1x1 s2", &(ConvShape){ 2, 9, 9, 6, 10, 1, 1, 2, 2, 0, 0, 0, 0 }, VK_ACTIVATION_RELU6, true, false,
                 6);
}

TEST(pointwise)
{
        run_case("1x1 24->33", &(ConvShape){ 2, 5, 7, 24, 33, 1, 1, 1, 1, 0, 0, 0, 0 }, VK_ACTIVATION_RELU6, true,
                 false, 7);
        run_case("1x1 127->13", &(ConvShape){ 3, 4, 3, 127, 13, 1, 1, 1, 1, 0, 0, 0, 0 }, VK_ACTIVATION_NONE,
                 false, false, 8);
}

TEST(other_tiles)
{
        /* The tiles a GPU gets, and lavapipe's without the subgroup broadcast. */
        static const OpConv2dTiles other[] = { { 32, 2, 2 }, { 8, 4, 4 }, { 16, 16, 1 } };

        for (size_t i = 0; i < ELEMENTSOF(other); i++) {
                tiles = &other[i];
                fprintf(stderr, " tiles %u,%u,%u\n", other[i].lanes, other[i].pixels, other[i].channels);
                run_case("3x3 s2 tf-same", &(ConvShape){ 2, 14, 14, 8, 13, 3, 3, 2, 2, 0, 0, 1, 1 },
                         VK_ACTIVATION_RELU6, true, false, 30 + i);
                run_case("1x1 s2 specials", &(ConvShape){ 1, 6, 5, 4, 9, 1, 1, 2, 2, 0, 0, 0, 0 },
                         VK_ACTIVATION_RELU6, true, true, 40 + i);
        }
        tiles = NULL;
}

TEST(pointwise_is_gemm)
{
        _cleanup_(op_conv2d_freep) OpConv2d *op = NULL;
        ConvShape pw = { 32, 56, 56, 24, 144, 1, 1, 1, 1, 0, 0, 0, 0 }, s2 = pw, k3 = pw;

        ASSERT_OK(op_conv2d_new(vkt_engine(), &op));
        s2.stride_h = s2.stride_w = 2;
        k3.kh = k3.kw = 3;
        k3.pad_top = k3.pad_left = k3.pad_bottom = k3.pad_right = 1;
        if (!vk_engine_has_subgroup_ops(vkt_engine())) {
                fprintf(stderr, "  no subgroup operations: the GEMM kernel cannot run here, skipped\n");
                return;
        }
        /* MobileNetV2's 1×1 layers (most of its FLOPs) must take the GEMM kernel. */
        ASSERT_TRUE(op_conv2d_is_gemm(op, &pw));
        ASSERT_FALSE(op_conv2d_is_gemm(op, &s2));
        ASSERT_FALSE(op_conv2d_is_gemm(op, &k3));
}

TEST(nan_and_inf)
{
        run_case("3x3 specials", &(ConvShape){ 1, 6, 5, 4, 9, 3, 3, 1, 1, 1, 1, 1, 1 }, VK_ACTIVATION_RELU6, true,
                 true, 9);
        /* More workgroup rows than a dispatch's y count may hold (they spill into z). */
        run_case("600x1000 single channel", &(ConvShape){ 1, 600, 1000, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1 },
                 VK_ACTIVATION_NONE, false, true, 11);
        run_case("1x1 specials", &(ConvShape){ 1, 6, 5, 4, 9, 1, 1, 1, 1, 0, 0, 0, 0 }, VK_ACTIVATION_RELU6, true,
                 true, 10);
}

TEST(invalid)
{
        VkEngine *e = vkt_engine();
        VkRecorder *rec = vkt_recorder();
        _cleanup_(op_conv2d_freep) OpConv2d *op = NULL;
        ConvShape s = { 1, 4, 4, 2, 3, 3, 3, 1, 1, 1, 1, 1, 1 };
        _cleanup_(vk_tensor_freep) VkTensor *x = NULL, *w = NULL, *y = NULL, *u = NULL;
        ASSERT_OK(op_conv2d_new(e, &op));
        ASSERT_OK(vk_tensor_new(e, VK_DTYPE_F32, 1, (uint32_t[]){ 32 }, &x));
        ASSERT_OK(vk_tensor_new(e, VK_DTYPE_F32, 1, (uint32_t[]){ 54 }, &w));
        ASSERT_OK(vk_tensor_new(e, VK_DTYPE_F32, 1, (uint32_t[]){ 48 }, &y));
        ASSERT_OK(vk_tensor_new(e, VK_DTYPE_U32, 1, (uint32_t[]){ 48 }, &u));
        ASSERT_OK(vk_recorder_begin(rec));
        ASSERT_OK(op_conv2d_record(op, rec, &s, VK_ACTIVATION_NONE, x, w, NULL, y));
        ASSERT_ERROR(op_conv2d_record(op, rec, &s, VK_ACTIVATION_NONE, x, w, NULL, u), EINVAL);
        ASSERT_ERROR(op_conv2d_record(op, rec, &s, VK_ACTIVATION_NONE, x, w, NULL, x), EINVAL);
        ASSERT_ERROR(op_conv2d_record(op, rec, &s, 7, x, w, NULL, y), EINVAL);
        ASSERT_ERROR(op_conv2d_record(op, rec, NULL, VK_ACTIVATION_NONE, x, w, NULL, y), EINVAL);
        ASSERT_ERROR(op_conv2d_record(op, rec, &s, VK_ACTIVATION_NONE, NULL, w, NULL, y), EINVAL);
        ASSERT_ERROR(op_conv2d_record_bwd_data(op, rec, &s, x, w, y), EINVAL);
        ASSERT_ERROR(op_conv2d_record_bwd_weight(op, rec, &s, x, y, x, NULL), EINVAL);
        ConvShape bad = s;
        bad.pad_top = 3;
        ASSERT_ERROR(op_conv2d_record(op, rec, &bad, VK_ACTIVATION_NONE, x, w, NULL, y), EINVAL);
        bad = s;
        bad.c = 0;
        ASSERT_ERROR(op_conv2d_record(op, rec, &bad, VK_ACTIVATION_NONE, x, w, NULL, y), EINVAL);
        bad = s;
        bad.stride_w = 0;
        ASSERT_ERROR(op_conv2d_record(op, rec, &bad, VK_ACTIVATION_NONE, x, w, NULL, y), EINVAL);
        bad = (ConvShape){ 1, 2, 2, 2, 3, 5, 5, 1, 1, 1, 1, 1, 1 };
        ASSERT_ERROR(op_conv2d_record(op, rec, &bad, VK_ACTIVATION_NONE, x, w, NULL, y), EINVAL);
        bad = (ConvShape){ 65536, 65536, 65536, 2, 3, 3, 3, 1, 1, 1, 1, 1, 1 };
        ASSERT_ERROR(op_conv2d_record(op, rec, &bad, VK_ACTIVATION_NONE, x, w, NULL, y), EINVAL);
        ASSERT_OK(vk_recorder_submit_and_wait(rec));
}

TEST(same_padding)
{
        uint32_t a, b;

        conv_pad_same(224, 3, 2, &a, &b);
        ASSERT_EQ(a, 0u);
        ASSERT_EQ(b, 1u);
        conv_pad_same(56, 3, 1, &a, &b);
        ASSERT_EQ(a, 1u);
        ASSERT_EQ(b, 1u);
        conv_pad_same(7, 3, 2, &a, &b);
        ASSERT_EQ(a, 1u);
        ASSERT_EQ(b, 1u);
        conv_pad_same(14, 1, 1, &a, &b);
        ASSERT_EQ(a + b, 0u);
}

TEST_MAIN()
