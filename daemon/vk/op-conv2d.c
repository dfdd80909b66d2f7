/* SPDX-License-Identifier: MIT */
#include "conv-push.h"
#include "op-conv2d.h"
#include "op-gemm.h"

/* Tiles per device kind. lavapipe runs a workgroup on one core, 8 lanes at a
 * time, and pays far more per load than per FMA: 8 lanes along the output
 * channels and 4×4 outputs per invocation. GPUs want many small invocations. */
typedef struct ConvTiles {
        uint32_t lx;       /* workgroup: lanes along channels */
        uint32_t tp, tk;   /* forward: pixels × output channels per invocation */
        uint32_t dtp, dtc; /* backward-data: pixels × input channels */
        uint32_t wtk;      /* backward-weight: output channels */
} ConvTiles;

static const ConvTiles tiles_cpu = {.lx = 8, .tp = 8, .tk = 4, .dtp = 4, .dtc = 4, .wtk = 4};
static const ConvTiles tiles_gpu = {.lx = 32, .tp = 2, .tk = 2, .dtp = 2, .dtc = 2, .wtk = 1};

struct OpConv2d {
        VkEngine *engine; /* borrowed */
        uint64_t max_texels;
        ConvTiles t;
        VkKernel *fwd, *bwd_data, *bwd_weight; /* owned by the engine */
        OpGemm *gemm; /* owned; NULL where the GEMM kernel cannot run (no subgroup operations) */
        bool bcast;   /* forward shares input loads across the subgroup (see shaders/conv2d.comp) */
        bool fixed;   /* small convolutions (the stem) may take the FIXED_C kernel */
};

/* The FIXED_C path of shaders/conv2d.comp: shape in specialization constants,
 * a workgroup's weights held in registers (at most this many floats, at most
 * FIXED_MAX_K channels), ROUNDS rows of pixels per workgroup. On lavapipe,
 * CPU time per core: MobileNetV2's stem (3×3×3 → 32) 4.3 GFLOPS with the
 * general kernel; its 1×1 layers with 16 to 32 inputs 5-9 on the GEMM. With
 * 2048 weights and up to 160 inputs the projects from 96 or 144 inputs ran
 * 23-32 against the GEMM's 16-23, but the forward gained only 1-2% and the
 * larger unrolled pipelines took 5 s more CPU to compile cold (9.4 -> 14.7 s
 * for the whole forward), which every fresh cache and the sanitizer pass pay. */
#define FIXED_MAX_WEIGHTS 1024u
#define FIXED_MAX_K 32u
#define FIXED_MAX_POINTWISE_C 64u
#define FIXED_ROUNDS 32u

/* The channels per workgroup of the FIXED_C path for s, or 0 where it does not
 * fit: the most (a multiple of 4, dividing k) whose weights fit. */
static uint32_t fixed_channels(const OpConv2d *op, const ConvShape *s, const VkTensor *w, const VkTensor *b,
                               const VkTensor *y)
{
        if (!op->fixed || s->k % 4 != 0 || w->offset % 16 != 0 || y->offset % 16 != 0 ||
            (b && b->offset % 16 != 0))
                return 0;
        for (uint32_t ck = MIN(s->k, FIXED_MAX_K); ck >= 4; ck -= 4)
                if (s->k % ck == 0 && (uint64_t)s->kh * s->kw * s->c * ck <= FIXED_MAX_WEIGHTS)
                        return ck;
        return 0;
}

int op_conv2d_new(VkEngine *e, OpConv2d **ret)
{
        return op_conv2d_new_tiled(e, NULL, ret);
}

int op_conv2d_new_tiled(VkEngine *e, const OpConv2dTiles *tiles, OpConv2d **ret)
{
        _cleanup_(op_conv2d_freep) OpConv2d *op = NULL;
        int r;

        op = calloc(1, sizeof(*op));
        if (!op)
                return -ENOMEM;
        op->engine = e;
        op->max_texels = vk_engine_max_texel_elements(e);
        op->t = vk_engine_device_kind(e) == VK_DEVICE_KIND_CPU ? tiles_cpu : tiles_gpu;
        if (tiles) {
                r = conv_tiles_override(&op->t.lx, &op->t.tp, &op->t.tk, tiles->lanes, tiles->pixels,
                                        tiles->channels);
                if (r < 0)
                        return r;
        }
        /* One pixel per lane: each input is fetched once and broadcast (stem
         * layer on lavapipe, CPU time per core: 5.3 vs 4.2 GFLOPS). */
        op->bcast = vk_engine_has_subgroup_ops(e) && op->t.lx == vk_engine_subgroup_size(e) &&
                    op->t.tp == op->t.lx;
        op->fixed = vk_engine_device_kind(e) == VK_DEVICE_KIND_CPU && !tiles;

        static const ConvKernelInfo kernel_bwd_data = {"conv2d_bwd_data", 3, 1u << 2, 0, 0, false};
        static const ConvKernelInfo kernel_bwd_weight = {
                "conv2d_bwd_weight", 4, (1u << 2) | (1u << 3), 0, 0, false};
        if ((r = conv_kernel_get(e, &(ConvKernelInfo){"conv2d", 4, 1u << 3, 3, 0, op->bcast},
                                 (uint32_t[]){op->t.lx, op->t.tp, op->t.tk, op->bcast}, 4, &op->fwd)) < 0 ||
            (r = conv_kernel_get(e, &kernel_bwd_data, (uint32_t[]){op->t.lx, op->t.dtp, op->t.dtc}, 3,
                                 &op->bwd_data)) < 0 ||
            (r = conv_kernel_get(e, &kernel_bwd_weight, (uint32_t[]){op->t.lx, op->t.wtk}, 2,
                                 &op->bwd_weight)) < 0)
                return r;
        /* The GEMM's own tiles: with its 4-column B fetches they measured as
         * well as any tried here on the pointwise layers (lavapipe). */
        r = op_gemm_new(e, &op->gemm);
        if (r < 0 && r != -EOPNOTSUPP)
                return r;
        *ret = TAKE_PTR(op);
        return 0;
}

OpConv2d *op_conv2d_free(OpConv2d *op)
{
        if (!op)
                return NULL;
        op_gemm_free(op->gemm);
        free(op);
        return NULL;
}

bool op_conv2d_is_gemm(const OpConv2d *op, const ConvShape *s)
{
        return op && s && op->gemm && conv_shape_is_pointwise(s);
}

/* Checks the shape and the tensors that carry it; returns the output size. */
static int check(const ConvShape *s, const VkTensor *x, const VkTensor *w, const VkTensor *b,
                 const VkTensor *y, uint32_t *ret_oh, uint32_t *ret_ow)
{
        uint32_t oh, ow;
        int r;

        r = conv_shape_out(s, &oh, &ow);
        if (r < 0)
                return r;
        if (!vk_tensor_holds_f32(x, (size_t)s->n * s->h * s->w * s->c) ||
            !vk_tensor_holds_f32(w, (size_t)s->kh * s->kw * s->c * s->k) ||
            (b && !vk_tensor_holds_f32(b, s->k)) || !vk_tensor_holds_f32(y, (size_t)s->n * oh * ow * s->k))
                return -EINVAL;
        *ret_oh = oh;
        *ret_ow = ow;
        return 0;
}

int op_conv2d_record(OpConv2d *op, VkRecorder *r, const ConvShape *s, VkActivation act, VkTensor *x,
                     VkTensor *w, VkTensor *b, VkTensor *y)
{
        uint32_t oh, ow;
        int q;

        if (!op || !r || act < 0 || act >= _VK_ACTIVATION_MAX)
                return -EINVAL;
        q = check(s, x, w, b, y, &oh, &ow);
        if (q < 0)
                return q;
        uint32_t ck = fixed_channels(op, s, w, b, y);
        if (op_conv2d_is_gemm(op, s) && !(ck > 0 && s->c <= FIXED_MAX_POINTWISE_C)) {
                /* NHWC makes a pointwise layer Y[n·h·w, k] = X[n·h·w, c] · W[c, k]. A tensor
                 * too large for the GEMM's texel buffers (-E2BIG) takes the direct path. */
                q = op_gemm_record(
                        op->gemm, r, x, w, b, y,
                        &(OpGemmParams){.m = s->n * s->h * s->w, .n = s->k, .k = s->c, .act = act});
                if (q != -E2BIG)
                        return q;
        }
        /* The direct kernel reads x and w through texel buffers. */
        if (MAX(x->count, w->count) > op->max_texels)
                return -E2BIG;
        ConvPush p = conv_push(s, oh, ow, act, b);
        if (ck > 0) {
                /* Built on first use: a pipeline per shape (MobileNetV2 has five). */
                bool x4 = s->c % 4 == 0 && x->offset % 16 == 0;
                VkKernel *k;
                q = conv_kernel_get(
                        op->engine,
                        &(ConvKernelInfo){"conv2d", 4, 1u << 3, 3, (1u << 1) | (x4 ? 1u : 0), false},
                        (uint32_t[]){op->t.lx, op->t.tp, op->t.tk, false, s->c, ck, s->kh, s->kw,
                                     FIXED_ROUNDS, x4},
                        10, &k);
                if (q < 0)
                        return q;
                return conv_dispatch(r, k, (VkTensor *[]){x, w, b ?: w, y}, &p, s->k / ck,
                                     conv_div_up((uint64_t)s->n * oh * ow, op->t.lx * FIXED_ROUNDS));
        }
        return conv_dispatch(r, op->fwd, (VkTensor *[]){x, w, b ?: w, y}, &p,
                             conv_div_up(s->k, op->t.lx * op->t.tk),
                             conv_div_up((uint64_t)s->n * oh * ow, op->t.tp));
}

int op_conv2d_record_bwd_data(OpConv2d *op, VkRecorder *r, const ConvShape *s, VkTensor *dy, VkTensor *w,
                              VkTensor *dx)
{
        uint32_t oh, ow;
        int q;

        if (!op || !r)
                return -EINVAL;
        q = check(s, dx, w, NULL, dy, &oh, &ow);
        if (q < 0)
                return q;
        if (op_conv2d_is_gemm(op, s)) {
                /* dX[n·h·w, c] = dY[n·h·w, k] · Wᵀ */
                q = op_gemm_record(
                        op->gemm, r, dy, w, NULL, dx,
                        &(OpGemmParams){.m = s->n * s->h * s->w, .n = s->c, .k = s->k, .trans_b = true});
                if (q != -E2BIG)
                        return q;
        }
        ConvPush p = conv_push(s, oh, ow, VK_ACTIVATION_NONE, false);
        return conv_dispatch(r, op->bwd_data, (VkTensor *[]){dy, w, dx}, &p,
                             conv_div_up(s->c, op->t.lx * op->t.dtc),
                             conv_div_up((uint64_t)s->n * s->h * s->w, op->t.dtp));
}

int op_conv2d_record_bwd_weight(OpConv2d *op, VkRecorder *r, const ConvShape *s, VkTensor *x, VkTensor *dy,
                                VkTensor *dw, VkTensor *db)
{
        uint32_t oh, ow;
        int q;

        if (!op || !r)
                return -EINVAL;
        q = check(s, x, dw, db, dy, &oh, &ow);
        if (q < 0)
                return q;
        ConvPush p = conv_push(s, oh, ow, VK_ACTIVATION_NONE, db);
        uint32_t rows = s->kh * s->kw * s->c + 1; /* one per (kh, kw, c), one for the bias */
        if (op_conv2d_is_gemm(op, s)) {
                /* dW[c, k] = Xᵀ · dY; the direct kernel then only sums the bias. */
                q = op_gemm_record(
                        op->gemm, r, x, dy, NULL, dw,
                        &(OpGemmParams){.m = s->c, .n = s->k, .k = s->n * s->h * s->w, .trans_a = true});
                if (q < 0 && q != -E2BIG)
                        return q;
                if (q >= 0) {
                        if (!db)
                                return 0;
                        p.aux = CONV_PUSH_BIAS_ONLY;
                        rows = 1;
                }
        }
        return conv_dispatch(r, op->bwd_weight, (VkTensor *[]){x, dy, dw, db ?: dw}, &p,
                             conv_div_up(s->k, op->t.lx * op->t.wtk), rows);
}
