/* SPDX-License-Identifier: MIT */
/* Depthwise 3×3 forward, backward-data and backward-weight on the device
 * against the C reference on odd channel counts and sizes, strides 1 and 2
 * with TF "same" asymmetric padding, fused bias + ReLU6; backward outputs also
 * against central finite differences. Must survive: NaN/inf inputs, kernel
 * sizes and strides it does not do (-EOPNOTSUPP), mismatched tensors (-EINVAL). */
#include "conv-test.h"
#include "op-dwconv.h"
#include "ref-conv.h"

static const OpDwconvTiles *tiles; /* NULL: the device's defaults */
static const VktConvRef ref = {ref_dwconv_fwd, ref_dwconv_bwd_data, ref_dwconv_bwd_weight};

static void run_case(const char *name, const ConvShape *s, VkActivation act, bool bias, bool specials,
                     uint64_t seed)
{
        VkRecorder *rec = vkt_recorder();
        _cleanup_(op_dwconv_freep) OpDwconv *op = NULL;
        _cleanup_(vkt_conv_case_done) VktConvCase c = {};

        vkt_conv_case_init(&c, s, act, bias, specials, (size_t)9 * s->c, s->c, 1.0f, seed);
        fprintf(stderr, " %s: n%u %ux%ux%u → %ux%u, s%u pad %u,%u,%u,%u act %d%s\n", name, s->n, s->h, s->w,
                s->c, c.oh, c.ow, s->stride_h, s->pad_top, s->pad_left, s->pad_bottom, s->pad_right, act,
                bias ? " bias" : "");
        ASSERT_OK(op_dwconv_new_tiled(vkt_engine(), tiles, &op));
        ASSERT_OK(vk_recorder_begin(rec));
        ASSERT_OK(op_dwconv_record(op, rec, s, act, c.tx, c.tw, bias ? c.tb : NULL, c.y));
        if (!specials) {
                ASSERT_OK(op_dwconv_record_bwd_data(op, rec, s, c.tg, c.tw, c.dx));
                ASSERT_OK(op_dwconv_record_bwd_weight(op, rec, s, c.tx, c.tg, c.dw, bias ? c.db : NULL));
        }
        ASSERT_OK(vk_recorder_submit_and_wait(rec));
        vkt_conv_case_check(&c, name, &ref);
}

TEST(stride1)
{
        run_case("13ch 13x13", &(ConvShape){2, 13, 13, 13, 13, 3, 3, 1, 1, 1, 1, 1, 1}, VK_ACTIVATION_RELU6,
                 true, false, 11);
        run_case("127ch 5x19", &(ConvShape){1, 5, 19, 127, 127, 3, 3, 1, 1, 1, 1, 1, 1}, VK_ACTIVATION_NONE,
                 false, false, 12);
        run_case("1ch 1x1", &(ConvShape){3, 1, 1, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1}, VK_ACTIVATION_NONE, true,
                 false, 13);
        run_case("valid 8ch", &(ConvShape){2, 6, 11, 8, 8, 3, 3, 1, 1, 0, 0, 0, 0}, VK_ACTIVATION_RELU, true,
                 false, 14);
        /* c % 4 == 0: 4 channels per lane, with a workgroup only partly used */
        run_case("36ch 13x9", &(ConvShape){2, 13, 9, 36, 36, 3, 3, 1, 1, 1, 1, 1, 1}, VK_ACTIVATION_RELU6,
                 true, false, 21);
        run_case("4ch 1x1", &(ConvShape){3, 1, 1, 4, 4, 3, 3, 1, 1, 1, 1, 1, 1}, VK_ACTIVATION_NONE, true,
                 false, 22);
        run_case("132ch 5x19", &(ConvShape){1, 5, 19, 132, 132, 3, 3, 1, 1, 1, 1, 1, 1}, VK_ACTIVATION_NONE,
                 false, false, 23);
}

TEST(stride2)
{
        /* TF "same" at even sizes: 0 before, 1 after (MobileNetV2's stride-2 layers). */
        run_case("s2 tf-same 16ch 14x14", &(ConvShape){2, 14, 14, 16, 16, 3, 3, 2, 2, 0, 0, 1, 1},
                 VK_ACTIVATION_RELU6, true, false, 15);
        run_case("s2 odd 13ch 13x9", &(ConvShape){1, 13, 9, 13, 13, 3, 3, 2, 2, 1, 1, 1, 1},
                 VK_ACTIVATION_NONE, true, false, 16);
        run_case("s2 27ch 17x17 pad 0,1", &(ConvShape){1, 17, 17, 27, 27, 3, 3, 2, 2, 0, 1, 2, 1},
                 VK_ACTIVATION_NONE, false, false, 17);
        run_case("s2 44ch 15x13 pad 0,1", &(ConvShape){2, 15, 13, 44, 44, 3, 3, 2, 2, 0, 1, 2, 1},
                 VK_ACTIVATION_RELU6, true, false, 24);
}

TEST(other_tiles)
{
        /* The tiles a GPU gets, and a few lavapipe did not choose. */
        static const OpDwconvTiles other[] = {
                {32, 2, 4},
                {8, 1, 8},
                {64, 3, 5},
                {0, 0, 0, .scalar = true},
                /* bands of 4 rows (the loop over rows goes 3 at a time) and bands
                 * taller than the image */
                {8, 4, 3},
                {8, 100, 2},
        };

        for (size_t i = 0; i < ELEMENTSOF(other); i++) {
                tiles = &other[i];
                fprintf(stderr, " tiles %u,%u,%u%s\n", other[i].lanes, other[i].rows, other[i].cols,
                        other[i].scalar ? " scalar" : "");
                run_case("s1 13ch 13x9", &(ConvShape){1, 13, 9, 13, 13, 3, 3, 1, 1, 1, 1, 1, 1},
                         VK_ACTIVATION_RELU6, true, false, 50 + i);
                run_case("s2 tf-same 16ch 14x14", &(ConvShape){2, 14, 14, 16, 16, 3, 3, 2, 2, 0, 0, 1, 1},
                         VK_ACTIVATION_NONE, false, false, 60 + i);
                run_case("s1 20ch 11x7", &(ConvShape){1, 11, 7, 20, 20, 3, 3, 1, 1, 1, 1, 1, 1},
                         VK_ACTIVATION_RELU, true, false, 70 + i);
        }
        tiles = NULL;
}

TEST(nan_and_inf)
{
        run_case("s1 specials", &(ConvShape){1, 6, 7, 5, 5, 3, 3, 1, 1, 1, 1, 1, 1}, VK_ACTIVATION_RELU6,
                 true, true, 18);
        /* More workgroup rows than a dispatch's y count may hold (they spill into z):
         * 800 bands of 2 rows × 200 strips of 7. */
        tiles = &(OpDwconvTiles){0, 2, 7};
        run_case("1600x1400 single channel", &(ConvShape){1, 1600, 1400, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1},
                 VK_ACTIVATION_RELU6, true, true, 20);
        tiles = NULL;
        run_case("s2 specials", &(ConvShape){1, 6, 7, 5, 5, 3, 3, 2, 2, 0, 0, 1, 1}, VK_ACTIVATION_NONE,
                 true, true, 19);
        run_case("s1 specials 8ch", &(ConvShape){1, 6, 7, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1}, VK_ACTIVATION_RELU6,
                 true, true, 25);
}

TEST(invalid)
{
        VkEngine *e = vkt_engine();
        VkRecorder *rec = vkt_recorder();
        _cleanup_(op_dwconv_freep) OpDwconv *op = NULL;
        ConvShape s = {1, 4, 4, 2, 2, 3, 3, 1, 1, 1, 1, 1, 1};
        _cleanup_(vk_tensor_freep) VkTensor *x = NULL, *w = NULL, *y = NULL;
        ASSERT_OK(op_dwconv_new(e, &op));
        ASSERT_OK(vk_tensor_new(e, VK_DTYPE_F32, 1, (uint32_t[]){32}, &x));
        ASSERT_OK(vk_tensor_new(e, VK_DTYPE_F32, 1, (uint32_t[]){18}, &w));
        ASSERT_OK(vk_tensor_new(e, VK_DTYPE_F32, 1, (uint32_t[]){32}, &y));
        ASSERT_OK(vk_recorder_begin(rec));
        ASSERT_OK(op_dwconv_record(op, rec, &s, VK_ACTIVATION_RELU6, x, w, NULL, y));
        ASSERT_ERROR(op_dwconv_record(op, rec, &s, VK_ACTIVATION_NONE, x, w, NULL, w), EINVAL);
        ASSERT_ERROR(op_dwconv_record_bwd_data(op, rec, &s, w, w, x), EINVAL);
        ASSERT_ERROR(op_dwconv_record_bwd_weight(op, rec, &s, x, w, w, NULL), EINVAL);
        ConvShape bad = s;
        bad.k = 3;
        ASSERT_ERROR(op_dwconv_record(op, rec, &bad, VK_ACTIVATION_NONE, x, w, NULL, y), EINVAL);
        bad = s;
        bad.stride_h = bad.stride_w = 3;
        ASSERT_ERROR(op_dwconv_record(op, rec, &bad, VK_ACTIVATION_NONE, x, w, NULL, y), EOPNOTSUPP);
        bad = s;
        bad.stride_w = 2;
        ASSERT_ERROR(op_dwconv_record(op, rec, &bad, VK_ACTIVATION_NONE, x, w, NULL, y), EOPNOTSUPP);
        bad = (ConvShape){1, 4, 4, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0};
        ASSERT_ERROR(op_dwconv_record(op, rec, &bad, VK_ACTIVATION_NONE, x, w, NULL, y), EOPNOTSUPP);
        bad = s;
        bad.h = 0;
        ASSERT_ERROR(op_dwconv_record(op, rec, &bad, VK_ACTIVATION_NONE, x, w, NULL, y), EINVAL);
        ASSERT_OK(vk_recorder_submit_and_wait(rec));
}

TEST_MAIN()
