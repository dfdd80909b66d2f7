/* SPDX-License-Identifier: MIT */
/* Image preprocessing and augmentation on the device against the C
 * reference: resize of a window (TF.js default and half-pixel centres),
 * normalisation, NHWC and NCHW, fixed and seeded random crops and flips (the
 * draws reproducible and actually varied). Must survive: windows outside the
 * image, unknown flags, wrong tensor types and sizes (-EINVAL). */
#include "conv-test.h"
#include "op-preprocess.h"
#include "ref-conv.h"

/* Bilinear weights are computed in float on both sides; fused multiply-adds
 * may move a sample by an ulp, which bilinear interpolation keeps continuous. */
#define NMSE_BOUND 1e-10

static uint8_t *random_images(size_t bytes, uint64_t seed)
{
        uint8_t *p = malloc(bytes + 4);

        ASSERT_TRUE(p);
        for (size_t i = 0; i < bytes; i++) {
                seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                p[i] = (uint8_t)(seed >> 56);
        }
        return p;
}

static void run_case(const char *name, const PreprocShape *p, uint64_t seed)
{
        VkEngine *e = vkt_engine();
        VkRecorder *rec = vkt_recorder();
        _cleanup_(op_preprocess_freep) OpPreprocess *op = NULL;
        size_t in = (size_t)p->n * p->src_h * p->src_w * 3, out = (size_t)p->n * p->out_h * p->out_w * 3;
        _cleanup_(vk_tensor_freep) VkTensor *src = NULL;

        vkt_seed(seed);
        _cleanup_free_ uint8_t *img = random_images(in, seed);
        _cleanup_free_ float *want = calloc(out, sizeof(float));
        ASSERT_TRUE(want);
        ASSERT_OK(op_preprocess_new(e, &op));
        ASSERT_OK(vk_tensor_new(e, VK_DTYPE_U8, 1, (uint32_t[]){(uint32_t)in}, &src));
        ASSERT_OK(vk_tensor_upload(src, img, in));
        _cleanup_(vk_tensor_freep) VkTensor *dst = vkt_tensor(e, out, NULL);

        ASSERT_OK(vk_recorder_begin(rec));
        ASSERT_OK(op_preprocess_record(op, rec, p, src, dst));
        ASSERT_OK(vk_recorder_submit_and_wait(rec));
        vkt_check_guard(dst, out);
        _cleanup_free_ float *got = vkt_download(dst, out);
        ref_preprocess(p, img, want);
        vkt_compare(name, got, want, out, NMSE_BOUND);
}

#define TFJS_SCALE .scale = {1.0f / 127.5f, 1.0f / 127.5f, 1.0f / 127.5f}, .offset = {-1.0f, -1.0f, -1.0f}

TEST(resize_and_normalise)
{
        run_case("448→224 centre, x/127.5-1",
                 &(PreprocShape){.n = 2,
                                 .src_h = 448,
                                 .src_w = 448,
                                 .crop_h = 448,
                                 .crop_w = 448,
                                 .out_h = 224,
                                 .out_w = 224,
                                 .scale = {1 / 255.f, 1 / 255.f, 1 / 255.f}},
                 1);
        run_case("13x17 window of 31x29 → 7x5, half pixel, NCHW",
                 &(PreprocShape){.n = 3,
                                 .src_h = 31,
                                 .src_w = 29,
                                 .crop_h = 13,
                                 .crop_w = 17,
                                 .crop_y = 18,
                                 .crop_x = 12,
                                 .out_h = 7,
                                 .out_w = 5,
                                 .flags = PREPROC_HALF_PIXEL | PREPROC_NCHW,
                                 TFJS_SCALE},
                 2);
        run_case("upscale 5x5 → 13x13, ImageNet mean/std",
                 &(PreprocShape){.n = 1,
                                 .src_h = 5,
                                 .src_w = 5,
                                 .crop_h = 5,
                                 .crop_w = 5,
                                 .out_h = 13,
                                 .out_w = 13,
                                 .scale = {1 / (255 * .229f), 1 / (255 * .224f), 1 / (255 * .225f)},
                                 .offset = {-.485f / .229f, -.456f / .224f, -.406f / .225f}},
                 3);
        run_case("1x1",
                 &(PreprocShape){.n = 1,
                                 .src_h = 1,
                                 .src_w = 1,
                                 .crop_h = 1,
                                 .crop_w = 1,
                                 .out_h = 1,
                                 .out_w = 1,
                                 TFJS_SCALE},
                 4);
        /* The same size, whole image, NHWC: the identity path (4 pixels per invocation). */
        run_case("identity",
                 &(PreprocShape){.n = 3,
                                 .src_h = 7,
                                 .src_w = 12,
                                 .crop_h = 7,
                                 .crop_w = 12,
                                 .out_h = 7,
                                 .out_w = 12,
                                 .flags = PREPROC_HALF_PIXEL,
                                 TFJS_SCALE},
                 6);
        run_case("flip all",
                 &(PreprocShape){.n = 2,
                                 .src_h = 9,
                                 .src_w = 10,
                                 .crop_h = 9,
                                 .crop_w = 10,
                                 .out_h = 9,
                                 .out_w = 10,
                                 .flags = PREPROC_FLIP,
                                 TFJS_SCALE},
                 5);
}

TEST(augment)
{
        PreprocShape p = {.n = 16,
                          .src_h = 40,
                          .src_w = 36,
                          .crop_h = 32,
                          .crop_w = 30,
                          .out_h = 16,
                          .out_w = 15,
                          .flags = PREPROC_RANDOM_CROP | PREPROC_RANDOM_FLIP,
                          .seed = 1234,
                          TFJS_SCALE};
        unsigned flips = 0, origins = 0;
        uint32_t y0, x0, f0;

        run_case("random crop + flip, seed 1234", &p, 6);
        preproc_draw(&p, 0, &y0, &x0, &f0);
        for (uint32_t i = 0; i < p.n; i++) {
                uint32_t y, x, f;
                preproc_draw(&p, i, &y, &x, &f);
                ASSERT_TRUE(y + p.crop_h <= p.src_h && x + p.crop_w <= p.src_w);
                flips += f;
                origins += y != y0 || x != x0;
        }
        /* Sixteen images: both flips and several origins, or the draws are broken. */
        ASSERT_TRUE(flips > 0 && flips < p.n);
        ASSERT_TRUE(origins >= 8);
        p.seed = 99;
        p.flags |= PREPROC_NCHW | PREPROC_HALF_PIXEL;
        run_case("random crop + flip, seed 99, NCHW", &p, 7);
}

TEST(invalid)
{
        VkEngine *e = vkt_engine();
        VkRecorder *rec = vkt_recorder();
        _cleanup_(op_preprocess_freep) OpPreprocess *op = NULL;
        PreprocShape ok = {.n = 1,
                           .src_h = 4,
                           .src_w = 4,
                           .crop_h = 4,
                           .crop_w = 4,
                           .out_h = 2,
                           .out_w = 2,
                           TFJS_SCALE};
        _cleanup_(vk_tensor_freep) VkTensor *src = NULL, *dst = NULL, *f = NULL;
        ASSERT_OK(op_preprocess_new(e, &op));
        ASSERT_OK(vk_tensor_new(e, VK_DTYPE_U8, 1, (uint32_t[]){48}, &src));
        ASSERT_OK(vk_tensor_new(e, VK_DTYPE_F32, 1, (uint32_t[]){12}, &dst));
        ASSERT_OK(vk_tensor_new(e, VK_DTYPE_F32, 1, (uint32_t[]){48}, &f));
        ASSERT_OK(vk_recorder_begin(rec));
        ASSERT_OK(op_preprocess_record(op, rec, &ok, src, dst));
        PreprocShape bad = ok;
        bad.crop_h = 5;
        ASSERT_ERROR(op_preprocess_record(op, rec, &bad, src, dst), EINVAL);
        bad = ok;
        bad.crop_h = 2;
        bad.crop_y = 3;
        ASSERT_ERROR(op_preprocess_record(op, rec, &bad, src, dst), EINVAL);
        bad = ok;
        bad.flags = 1u << 20;
        ASSERT_ERROR(op_preprocess_record(op, rec, &bad, src, dst), EINVAL);
        bad = ok;
        bad.out_w = 0;
        ASSERT_ERROR(op_preprocess_record(op, rec, &bad, src, dst), EINVAL);
        bad = ok;
        bad.scale[1] = NAN;
        ASSERT_ERROR(op_preprocess_record(op, rec, &bad, src, dst), EINVAL);
        ASSERT_ERROR(op_preprocess_record(op, rec, &ok, f, dst), EINVAL);
        ASSERT_ERROR(op_preprocess_record(op, rec, &ok, src, src), EINVAL);
        ASSERT_OK(vk_recorder_submit_and_wait(rec));
}

TEST_MAIN()
