/* SPDX-License-Identifier: MIT */
/* Depthwise 3×3 forward, backward-data and backward-weight on the device
 * against the C reference on odd channel counts and sizes, strides 1 and 2
 * with TF "same" asymmetric padding, fused bias + ReLU6; backward outputs also
 * against central finite differences. Must survive: NaN/inf inputs, kernel
 * sizes and strides it does not do (-EOPNOTSUPP), mismatched tensors (-EINVAL). */
#include "conv-test.h"
#include "op-dwconv.h"
#include "ref-conv.h"

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

        ref_dwconv_fwd(c->s, VK_ACTIVATION_NONE, c->x, c->w, c->b, c->y);
        return ref_dot(c->y, c->g, c->ny);
}

static const OpDwconvTiles *tiles; /* NULL: the device's defaults */

static void run_case(const char *name, const ConvShape *s, VkActivation act, bool bias, bool specials, uint64_t seed)
{
        VkEngine *e = vkt_engine();
        VkRecorder *rec = vkt_recorder();
        _cleanup_(op_dwconv_freep) OpDwconv *op = NULL;
        uint32_t oh, ow;
        char label[128];

        vkt_seed(seed);
        ASSERT_OK(conv_shape_out(s, &oh, &ow));
        size_t nx = (size_t)s->n * s->h * s->w * s->c, nw = (size_t)9 * s->c;
        size_t ny = (size_t)s->n * oh * ow * s->c;
        fprintf(stderr, " %s: n%u %ux%ux%u → %ux%u, s%u pad %u,%u,%u,%u act %d%s\n", name, s->n, s->h, s->w, s->c,
                oh, ow, s->stride_h, s->pad_top, s->pad_left, s->pad_bottom, s->pad_right, act, bias ? " bias" : "");

        _cleanup_free_ float *x = random_floats(nx, -1.0f, 1.0f);
        _cleanup_free_ float *w = random_floats(nw, -1.0f, 1.0f);
        _cleanup_free_ float *b = random_floats(s->c, -1.0f, 1.0f);
        _cleanup_free_ float *g = random_floats(ny, -1.0f, 1.0f);
        _cleanup_free_ float *want = calloc(nx + nw + ny + s->c, sizeof(float));
        ASSERT_TRUE(want);
        if (specials) {
                x[nx / 3] = NAN;
                x[nx / 2] = INFINITY;
                x[nx - 1] = -INFINITY;
        }
        ASSERT_OK(op_dwconv_new_tiled(e, tiles, &op));
        _cleanup_(vk_tensor_freep) VkTensor *tx = vkt_tensor(e, nx, x);
        _cleanup_(vk_tensor_freep) VkTensor *tw = vkt_tensor(e, nw, w);
        _cleanup_(vk_tensor_freep) VkTensor *tb = vkt_tensor(e, s->c, b);
        _cleanup_(vk_tensor_freep) VkTensor *tg = vkt_tensor(e, ny, g);
        _cleanup_(vk_tensor_freep) VkTensor *y = vkt_tensor(e, ny, NULL);
        _cleanup_(vk_tensor_freep) VkTensor *dx = vkt_tensor(e, nx, NULL);
        _cleanup_(vk_tensor_freep) VkTensor *dw = vkt_tensor(e, nw, NULL);
        _cleanup_(vk_tensor_freep) VkTensor *db = vkt_tensor(e, s->c, NULL);

        ASSERT_OK(vk_recorder_begin(rec));
        ASSERT_OK(op_dwconv_record(op, rec, s, act, tx, tw, bias ? tb : NULL, y));
        if (!specials) {
                ASSERT_OK(op_dwconv_record_bwd_data(op, rec, s, tg, tw, dx));
                ASSERT_OK(op_dwconv_record_bwd_weight(op, rec, s, tx, tg, dw, bias ? db : NULL));
        }
        ASSERT_OK(vk_recorder_submit_and_wait(rec));
        vkt_check_guard(y, ny);

        _cleanup_free_ float *got_y = vkt_download(y, ny);
        ref_dwconv_fwd(s, act, x, w, bias ? b : NULL, want);
        snprintf(label, sizeof(label), "%s forward", name);
        vkt_compare(label, got_y, want, ny, NMSE_BOUND);
        if (specials)
                return;

        vkt_check_guard(dx, nx);
        vkt_check_guard(dw, nw);
        vkt_check_guard(db, s->c);
        _cleanup_free_ float *got_dx = vkt_download(dx, nx);
        _cleanup_free_ float *got_dw = vkt_download(dw, nw);
        _cleanup_free_ float *got_db = vkt_download(db, s->c);

        ref_dwconv_bwd_data(s, g, w, want);
        snprintf(label, sizeof(label), "%s backward-data", name);
        vkt_compare(label, got_dx, want, nx, NMSE_BOUND);
        ref_dwconv_bwd_weight(s, x, g, want, want + nw);
        snprintf(label, sizeof(label), "%s backward-weight", name);
        vkt_compare(label, got_dw, want, nw, NMSE_BOUND);
        if (bias) {
                snprintf(label, sizeof(label), "%s backward-bias", name);
                vkt_compare(label, got_db, want + nw, s->c, NMSE_BOUND);
        }

        FdCtx c = { .s = s, .x = x, .w = w, .b = b, .g = g, .y = want, .ny = ny };
        snprintf(label, sizeof(label), "%s dx", name);
        vkt_check_gradient(label, loss, &c, x, nx, got_dx, FD_SAMPLES, 0.25f, FD_BOUND);
        snprintf(label, sizeof(label), "%s dw", name);
        vkt_check_gradient(label, loss, &c, w, nw, got_dw, FD_SAMPLES, 0.25f, FD_BOUND);
        if (bias) {
                snprintf(label, sizeof(label), "%s db", name);
                vkt_check_gradient(label, loss, &c, b, s->c, got_db, FD_SAMPLES, 0.25f, FD_BOUND);
        }
}

TEST(stride1)
{
        run_case("13ch 13x13", &(ConvShape){ 2, 13, 13, 13, 13, 3, 3, 1, 1, 1, 1, 1, 1 }, VK_ACTIVATION_RELU6,
                 true, false, 11);
        run_case("127ch 5x19", &(ConvShape){ 1, 5, 19, 127, 127, 3, 3, 1, 1, 1, 1, 1, 1 }, VK_ACTIVATION_NONE,
                 false, false, 12);
        run_case("1ch 1x1", &(ConvShape){ 3, 1, 1, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1 }, VK_ACTIVATION_NONE, true, false,
                 13);
        run_case("valid 8ch", &(ConvShape){ 2, 6, 11, 8, 8, 3, 3, 1, 1, 0, 0, 0, 0 }, VK_ACTIVATION_RELU, true,
                 false, 14);
}

TEST(stride2)
{
        /* TF "same" at even sizes: 0 before, 1 after (MobileNetV2's stride-2 layers). */
        run_case("s2 tf-same 16ch 14x14", &(ConvShape){ 2, 14, 14, 16, 16, 3, 3, 2, 2, 0, 0, 1, 1 },
                 VK_ACTIVATION_RELU6, true, false, 15);
        run_case("s2 odd 13ch 13x9", &(ConvShape){ 1, 13, 9, 13, 13, 3, 3, 2, 2, 1, 1, 1, 1 }, VK_ACTIVATION_NONE,
                 true, false, 16);
        run_case("s2 27ch 17x17 pad 0,1", &(ConvShape){ 1, 17, 17, 27, 27, 3, 3, 2, 2, 0, 1, 2, 1 },
                 VK_ACTIVATION_NONE, false, false, 17);
}

TEST(other_tiles)
{
        /* The tiles a GPU gets, and a few lavapipe did not choose. */
        static const OpDwconvTiles other[] = { { 32, 2, 4 }, { 8, 1, 8 }, { 64, 3, 5 } };

        for (size_t i = 0; i < ELEMENTSOF(other); i++) {
                tiles = &other[i];
                fprintf(stderr, " tiles %u,%u,%u\n", other[i].lanes, other[i].rows, other[i].cols);
                run_case("s1 13ch 13x9", &(ConvShape){ 1, 13, 9, 13, 13, 3, 3, 1, 1, 1, 1, 1, 1 },
                         VK_ACTIVATION_RELU6, true, false, 50 + i);
                run_case("s2 tf-same 16ch 14x14", &(ConvShape){ 2, 14, 14, 16, 16, 3, 3, 2, 2, 0, 0, 1, 1 },
                         VK_ACTIVATION_NONE, false, false, 60 + i);
        }
        tiles = NULL;
}

TEST(nan_and_inf)
{
        run_case("s1 specials", &(ConvShape){ 1, 6, 7, 5, 5, 3, 3, 1, 1, 1, 1, 1, 1 }, VK_ACTIVATION_RELU6, true,
                 true, 18);
        /* More workgroup rows than a dispatch's y count may hold (they spill into z). */
        run_case("1600x1400 single channel", &(ConvShape){ 1, 1600, 1400, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1 },
                 VK_ACTIVATION_RELU6, true, true, 20);
        run_case("s2 specials", &(ConvShape){ 1, 6, 7, 5, 5, 3, 3, 2, 2, 0, 0, 1, 1 }, VK_ACTIVATION_NONE, true,
                 true, 19);
}

TEST(invalid)
{
        VkEngine *e = vkt_engine();
        VkRecorder *rec = vkt_recorder();
        _cleanup_(op_dwconv_freep) OpDwconv *op = NULL;
        ConvShape s = { 1, 4, 4, 2, 2, 3, 3, 1, 1, 1, 1, 1, 1 };
        _cleanup_(vk_tensor_freep) VkTensor *x = NULL, *w = NULL, *y = NULL;
        ASSERT_OK(op_dwconv_new(e, &op));
        ASSERT_OK(vk_tensor_new(e, VK_DTYPE_F32, 1, (uint32_t[]){ 32 }, &x));
        ASSERT_OK(vk_tensor_new(e, VK_DTYPE_F32, 1, (uint32_t[]){ 18 }, &w));
        ASSERT_OK(vk_tensor_new(e, VK_DTYPE_F32, 1, (uint32_t[]){ 32 }, &y));
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
        bad = (ConvShape){ 1, 4, 4, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0 };
        ASSERT_ERROR(op_dwconv_record(op, rec, &bad, VK_ACTIVATION_NONE, x, w, NULL, y), EOPNOTSUPP);
        bad = s;
        bad.h = 0;
        ASSERT_ERROR(op_dwconv_record(op, rec, &bad, VK_ACTIVATION_NONE, x, w, NULL, y), EINVAL);
        ASSERT_OK(vk_recorder_submit_and_wait(rec));
}

TEST_MAIN()
