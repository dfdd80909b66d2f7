/* SPDX-License-Identifier: MIT */
/* conv2d forward, backward-data and backward-weight on the device against the
 * C reference (tests/ref-conv.c) on odd shapes, including TF "same"
 * asymmetric padding and the 1×1 GEMM path; the backward outputs also against
 * central finite differences of the reference forward. Must survive: NaN and
 * inf inputs (propagated exactly as the reference does), shapes that do not
 * match their tensors, zero sizes, pads as large as the kernel (-EINVAL). */
#include "conv-push.h"
#include "conv-test.h"
#include "op-conv2d.h"
#include "ref-conv.h"

/* fp32 accumulation against double: NMSE ~1e-13 here; an indexing mistake gives ~1. */
static const OpConv2dTiles *tiles; /* NULL: the device's defaults */
static const VktConvRef ref = {ref_conv2d_fwd, ref_conv2d_bwd_data, ref_conv2d_bwd_weight};

static void run_case(const char *name, const ConvShape *s, VkActivation act, bool bias, bool specials,
                     uint64_t seed)
{
        VkRecorder *rec = vkt_recorder();
        _cleanup_(op_conv2d_freep) OpConv2d *op = NULL;
        _cleanup_(vkt_conv_case_done) VktConvCase c = {};

        vkt_conv_case_init(&c, s, act, bias, specials, (size_t)s->kh * s->kw * s->c * s->k, s->k, 0.5f,
                           seed);
        fprintf(stderr, " %s: n%u %ux%ux%u → %ux%ux%u, k%ux%u s%u,%u pad %u,%u,%u,%u act %d%s\n", name, s->n,
                s->h, s->w, s->c, c.oh, c.ow, s->k, s->kh, s->kw, s->stride_h, s->stride_w, s->pad_top,
                s->pad_left, s->pad_bottom, s->pad_right, act, bias ? " bias" : "");
        ASSERT_OK(op_conv2d_new_tiled(vkt_engine(), tiles, &op));
        ASSERT_OK(vk_recorder_begin(rec));
        ASSERT_OK(op_conv2d_record(op, rec, s, act, c.tx, c.tw, bias ? c.tb : NULL, c.y));
        if (!specials) {
                ASSERT_OK(op_conv2d_record_bwd_data(op, rec, s, c.tg, c.tw, c.dx));
                ASSERT_OK(op_conv2d_record_bwd_weight(op, rec, s, c.tx, c.tg, c.dw, bias ? c.db : NULL));
        }
        ASSERT_OK(vk_recorder_submit_and_wait(rec));
        vkt_conv_case_check(&c, name, &ref);
}

TEST(odd_shapes)
{
        run_case("3x3 pad1 relu6", &(ConvShape){2, 13, 13, 3, 5, 3, 3, 1, 1, 1, 1, 1, 1},
                 VK_ACTIVATION_RELU6, true, false, 1);
        run_case("3x3 s2 tf-same", &(ConvShape){2, 14, 14, 8, 13, 3, 3, 2, 2, 0, 0, 1, 1},
                 VK_ACTIVATION_NONE, false, false, 2);
        run_case("wide k", &(ConvShape){1, 7, 9, 13, 127, 3, 3, 1, 1, 1, 1, 1, 1}, VK_ACTIVATION_RELU, true,
                 false, 3);
        run_case("5x3 s2,1 uneven pad", &(ConvShape){3, 11, 6, 2, 7, 5, 3, 2, 1, 2, 1, 0, 2},
                 VK_ACTIVATION_NONE, true, false, 4);
        run_case("all ones", &(ConvShape){1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0}, VK_ACTIVATION_NONE, true,
                 false, 5);
        run_case("1x1 s2", &(ConvShape){2, 9, 9, 6, 10, 1, 1, 2, 2, 0, 0, 0, 0}, VK_ACTIVATION_RELU6, true,
                 false, 6);
}

TEST(fixed_shape_kernel)
{
        /* Few weights and k % 4 == 0 take the FIXED_C kernel on a CPU device (the
         * stem): TF-same padding, more pixels than one workgroup's rounds with a
         * partial last one, a 5×3 kernel on one channel, NaN and inf. */
        run_case("stem 3->32 s2 tf-same", &(ConvShape){2, 33, 31, 3, 32, 3, 3, 2, 2, 0, 0, 1, 1},
                 VK_ACTIVATION_RELU6, true, false, 50);
        run_case("5x3 1->4 pad", &(ConvShape){3, 9, 7, 1, 4, 5, 3, 1, 1, 2, 1, 2, 1}, VK_ACTIVATION_NONE,
                 false, false, 51);
        run_case("stem specials", &(ConvShape){1, 11, 13, 3, 8, 3, 3, 2, 2, 1, 1, 1, 1}, VK_ACTIVATION_RELU,
                 true, true, 52);
        /* 1×1 with few inputs: channels split over workgroups (3 of 32, 6 of 24, 1 of 12, 5 of 4; 144 inputs
         * take the GEMM), x read 4 channels per fetch where c % 4 == 0 and one at a time where not, stride
         * 2, NaN. */
        run_case("1x1 16->96", &(ConvShape){2, 9, 11, 16, 96, 1, 1, 1, 1, 0, 0, 0, 0}, VK_ACTIVATION_RELU6,
                 true, false, 53);
        run_case("1x1 24->144 s2", &(ConvShape){1, 13, 10, 24, 144, 1, 1, 2, 2, 0, 0, 0, 0},
                 VK_ACTIVATION_NONE, true, false, 54);
        run_case("1x1 5->12", &(ConvShape){3, 7, 5, 5, 12, 1, 1, 1, 1, 0, 0, 0, 0}, VK_ACTIVATION_NONE,
                 false, false, 55);
        run_case("1x1 144->24", &(ConvShape){2, 5, 6, 144, 24, 1, 1, 1, 1, 0, 0, 0, 0}, VK_ACTIVATION_NONE,
                 true, false, 57);
        run_case("1x1 64->20 specials", &(ConvShape){1, 5, 7, 64, 20, 1, 1, 1, 1, 0, 0, 0, 0},
                 VK_ACTIVATION_RELU, true, true, 56);
}

TEST(pointwise)
{
        run_case("1x1 24->33", &(ConvShape){2, 5, 7, 24, 33, 1, 1, 1, 1, 0, 0, 0, 0}, VK_ACTIVATION_RELU6,
                 true, false, 7);
        run_case("1x1 127->13", &(ConvShape){3, 4, 3, 127, 13, 1, 1, 1, 1, 0, 0, 0, 0}, VK_ACTIVATION_NONE,
                 false, false, 8);
}

TEST(other_tiles)
{
        /* The tiles a GPU gets, and lavapipe's without the subgroup broadcast. */
        static const OpConv2dTiles other[] = {{32, 2, 2}, {8, 4, 4}, {16, 16, 1}};

        for (size_t i = 0; i < ELEMENTSOF(other); i++) {
                tiles = &other[i];
                fprintf(stderr, " tiles %u,%u,%u\n", other[i].lanes, other[i].pixels, other[i].channels);
                run_case("3x3 s2 tf-same", &(ConvShape){2, 14, 14, 8, 13, 3, 3, 2, 2, 0, 0, 1, 1},
                         VK_ACTIVATION_RELU6, true, false, 30 + i);
                run_case("1x1 s2 specials", &(ConvShape){1, 6, 5, 4, 9, 1, 1, 2, 2, 0, 0, 0, 0},
                         VK_ACTIVATION_RELU6, true, true, 40 + i);
        }
        tiles = NULL;
}

TEST(pointwise_is_gemm)
{
        _cleanup_(op_conv2d_freep) OpConv2d *op = NULL;
        ConvShape pw = {32, 56, 56, 24, 144, 1, 1, 1, 1, 0, 0, 0, 0}, s2 = pw, k3 = pw;

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
        run_case("3x3 specials", &(ConvShape){1, 6, 5, 4, 9, 3, 3, 1, 1, 1, 1, 1, 1}, VK_ACTIVATION_RELU6,
                 true, true, 9);
        /* More workgroup rows than a dispatch's y count may hold (they spill into z). */
        run_case("600x1000 single channel", &(ConvShape){1, 600, 1000, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1},
                 VK_ACTIVATION_NONE, false, true, 11);
        run_case("1x1 specials", &(ConvShape){1, 6, 5, 4, 9, 1, 1, 1, 1, 0, 0, 0, 0}, VK_ACTIVATION_RELU6,
                 true, true, 10);
}

TEST(invalid)
{
        VkEngine *e = vkt_engine();
        VkRecorder *rec = vkt_recorder();
        _cleanup_(op_conv2d_freep) OpConv2d *op = NULL;
        ConvShape s = {1, 4, 4, 2, 3, 3, 3, 1, 1, 1, 1, 1, 1};
        _cleanup_(vk_tensor_freep) VkTensor *x = NULL, *w = NULL, *y = NULL, *u = NULL;
        ASSERT_OK(op_conv2d_new(e, &op));
        ASSERT_OK(vk_tensor_new(e, VK_DTYPE_F32, 1, (uint32_t[]){32}, &x));
        ASSERT_OK(vk_tensor_new(e, VK_DTYPE_F32, 1, (uint32_t[]){54}, &w));
        ASSERT_OK(vk_tensor_new(e, VK_DTYPE_F32, 1, (uint32_t[]){48}, &y));
        ASSERT_OK(vk_tensor_new(e, VK_DTYPE_U32, 1, (uint32_t[]){48}, &u));
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
        bad = (ConvShape){1, 2, 2, 2, 3, 5, 5, 1, 1, 1, 1, 1, 1};
        ASSERT_ERROR(op_conv2d_record(op, rec, &bad, VK_ACTIVATION_NONE, x, w, NULL, y), EINVAL);
        bad = (ConvShape){65536, 65536, 65536, 2, 3, 3, 3, 1, 1, 1, 1, 1, 1};
        ASSERT_ERROR(op_conv2d_record(op, rec, &bad, VK_ACTIVATION_NONE, x, w, NULL, y), EINVAL);
        ASSERT_OK(vk_recorder_submit_and_wait(rec));
}

TEST(fast_division)
{
        /* The shaders divide by multiply-high and shifts (conv_div()); it must be
         * exact for every dividend, here the edges and a spread of others. */
        static const uint32_t big[] = {65535,  65536,    65537,          100352,
                                       401408, 1u << 30, (1u << 31) - 1, 1u << 31};

        for (uint32_t i = 0; i < 3000 + ELEMENTSOF(big); i++) {
                uint32_t d = i < 3000 ? i + 1 : big[i - 3000];
                ConvDiv m = conv_div(d);
                uint32_t qs[] = {0,
                                 1,
                                 d - 1,
                                 d,
                                 d + 1,
                                 2 * d - 1,
                                 2 * d,
                                 UINT32_MAX,
                                 UINT32_MAX - 1,
                                 UINT32_MAX / d * d,
                                 UINT32_MAX / d * d - 1,
                                 12345678u,
                                 3u * d + d / 2};
                for (size_t j = 0; j < ELEMENTSOF(qs); j++)
                        if (conv_div_apply(qs[j], m) != qs[j] / d)
                                TEST_FAIL("%u / %u gave %u", qs[j], d, conv_div_apply(qs[j], m));
                for (uint32_t k = 0; k < 200; k++) {
                        uint32_t q = vkt_u32() ^ (vkt_u32() << 16);
                        if (conv_div_apply(q, m) != q / d)
                                TEST_FAIL("%u / %u gave %u", q, d, conv_div_apply(q, m));
                }
        }
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
