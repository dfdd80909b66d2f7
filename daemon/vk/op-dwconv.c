/* SPDX-License-Identifier: MIT */
#include "conv-push.h"
#include "op-dwconv.h"

/* lavapipe (CPU time per core, MobileNetV2 layers 144@56² s1 / s2, 960@7²):
 * 4×7 output tiles 4.7 / 2.4 / 3.8–5.1 GFLOPS against 4×4 3.9 / 2.2 / 3.8,
 * 8-wide strips ~2.7 / 1.6 / 2.5 and 7×7 3.0 / 1.9 / 1.5 (registers spill);
 * 7 divides every MobileNetV2 width (112 … 7), so no column is wasted. 32
 * lanes per workgroup beat 8 (less per-workgroup overhead).
 * With 4 channels per lane (a vec4 fetch is one 128-bit load per lane, not 4
 * gathers) a tile holds 4× the accumulators: 2×7 tiles, 8 lanes (= 32
 * channels, as before); all MobileNetV2 depthwise layers together went from
 * 1.9–2.5 to 3.2–3.9 GFLOPS per core (bb-tool profile, same runs).
 * Since the kernel walks a band of rows down with its window in registers,
 * the rows cost no registers: bands of 28 rows (14 and 56 no better). What
 * costs is live registers across the stores and texel fetches (each a loop or
 * a call that spills them): 2 columns a lane beat 4 and 7 (CPU ms of the
 * 144@56² s1 / s2 layers at batch 32: 33 / 13 against 36 / 16 and 40 / 18;
 * the 2×7 tiles before: 42–46 / 19–22; all 17 depthwise layers at batch 27:
 * 165 ms against 207–218). */
typedef struct DwTiles {
        uint32_t lx;            /* workgroup: lanes along channels */
        uint32_t tw;            /* forward: output columns per tile */
        uint32_t dtw;           /* backward-data: inputs per invocation */
        uint32_t wlx;           /* backward-weight: workgroup width (channels) */
        uint32_t wtw;           /* backward-weight: output columns per tile */
        uint32_t wth;           /* backward-weight: output rows per tile */
        uint32_t th;            /* forward: output rows per tile */
        uint32_t lx4, th4, tw4; /* forward with 4 channels per lane (c % 4 == 0) */
} DwTiles;

static const DwTiles tiles_cpu = {
        .lx = 32, .tw = 7, .dtw = 4, .wlx = 8, .wtw = 7, .wth = 4, .th = 28, .lx4 = 8, .th4 = 28, .tw4 = 2};
static const DwTiles tiles_gpu = {
        .lx = 32, .tw = 4, .dtw = 1, .wlx = 64, .wtw = 4, .wth = 1, .th = 2, .lx4 = 32, .th4 = 1, .tw4 = 4};

struct OpDwconv {
        VkEngine *engine; /* borrowed */
        uint64_t max_texels;
        DwTiles t;
        VkKernel *fwd[2], *fwd_flip, *bwd_data[2], *bwd_weight[2]; /* owned by the engine; per stride */
        VkKernel *fwd4[2], *fwd4_flip;                             /* 4 channels per lane, per stride */
        bool scalar; /* never 4 channels per lane (OpDwconvTiles) */
};

int op_dwconv_new(VkEngine *e, OpDwconv **ret)
{
        return op_dwconv_new_tiled(e, NULL, ret);
}

static const ConvKernelInfo kernel_fwd = {"dwconv", 4, 1u << 3, 3, 0, false};
static const ConvKernelInfo kernel_fwd4 = {"dwconv", 4, 1u << 3, 3, 3, false};
static const ConvKernelInfo kernel_bwd_data = {"dwconv_bwd_data", 3, 1u << 2, 3, 0, false};
static const ConvKernelInfo kernel_bwd_weight = {"dwconv_bwd_weight", 4, (1u << 2) | (1u << 3), 3, 0, false};

int op_dwconv_new_tiled(VkEngine *e, const OpDwconvTiles *tiles, OpDwconv **ret)
{
        _cleanup_(op_dwconv_freep) OpDwconv *op = NULL;
        int r;

        op = calloc(1, sizeof(*op));
        if (!op)
                return -ENOMEM;
        op->engine = e;
        op->max_texels = vk_engine_max_texel_elements(e);
        op->t = vk_engine_device_kind(e) == VK_DEVICE_KIND_CPU ? tiles_cpu : tiles_gpu;
        if (tiles) {
                uint32_t one = 1;

                /* Registers hold 3 window rows of a tile's columns and one output row: the
                 * rows (a band walked down) cost none, so only the columns are checked. */
                op->scalar = tiles->scalar;
                if ((r = conv_tiles_override(&op->t.lx, &one, &op->t.tw, tiles->lanes, 1, tiles->cols)) <
                            0 ||
                    (r = conv_tiles_override(&op->t.lx4, &one, &op->t.tw4, tiles->lanes, 1, tiles->cols)) <
                            0)
                        return r;
                if (tiles->rows)
                        op->t.th = op->t.th4 = tiles->rows;
        }

        /* spec: lanes, columns, stride, rows, flipped, 4 channels per lane */
        for (uint32_t s = 1; s <= 2; s++) {
                if ((r = conv_kernel_get(e, &kernel_fwd,
                                         (uint32_t[]){op->t.lx, op->t.tw, s, op->t.th, false, false}, 6,
                                         &op->fwd[s - 1])) < 0 ||
                    (r = conv_kernel_get(e, &kernel_fwd4,
                                         (uint32_t[]){op->t.lx4, op->t.tw4, s, op->t.th4, false, true}, 6,
                                         &op->fwd4[s - 1])) < 0 ||
                    (r = conv_kernel_get(e, &kernel_bwd_data, (uint32_t[]){op->t.lx, op->t.dtw, s}, 3,
                                         &op->bwd_data[s - 1])) < 0 ||
                    (r = conv_kernel_get(e, &kernel_bwd_weight,
                                         (uint32_t[]){op->t.wlx, op->t.wtw, s, op->t.wth}, 4,
                                         &op->bwd_weight[s - 1])) < 0)
                        return r;
        }
        if ((r = conv_kernel_get(e, &kernel_fwd, (uint32_t[]){op->t.lx, op->t.tw, 1, op->t.th, true, false},
                                 6, &op->fwd_flip)) < 0 ||
            (r = conv_kernel_get(e, &kernel_fwd4,
                                 (uint32_t[]){op->t.lx4, op->t.tw4, 1, op->t.th4, true, true}, 6,
                                 &op->fwd4_flip)) < 0)
                return r;
        *ret = TAKE_PTR(op);
        return 0;
}

OpDwconv *op_dwconv_free(OpDwconv *op)
{
        free(op);
        return NULL;
}

static int check(const OpDwconv *op, const ConvShape *s, const VkTensor *x, const VkTensor *w,
                 const VkTensor *b, const VkTensor *y, uint32_t *ret_oh, uint32_t *ret_ow)
{
        uint32_t oh, ow;
        int r;

        r = conv_shape_out(s, &oh, &ow);
        if (r < 0)
                return r;
        if (s->k != s->c)
                return -EINVAL;
        if (s->kh != 3 || s->kw != 3 || s->stride_h != s->stride_w || s->stride_w > 2)
                return -EOPNOTSUPP;
        if (!vk_tensor_holds_f32(x, (size_t)s->n * s->h * s->w * s->c) ||
            !vk_tensor_holds_f32(w, (size_t)9 * s->c) || (b && !vk_tensor_holds_f32(b, s->c)) ||
            !vk_tensor_holds_f32(y, (size_t)s->n * oh * ow * s->c))
                return -EINVAL;
        /* Every kernel reads x (or dy), y-sized or x-sized, through texel buffers. */
        if (MAX(x->count, y->count) > op->max_texels)
                return -E2BIG;
        *ret_oh = oh;
        *ret_ow = ow;
        return 0;
}

/* Records the forward kernel (stride 1 or 2, or the flipped stride-1 one) over
 * oh × ow outputs of n images and c channels, in tiles of th × tw; 4 channels
 * per lane where c and the tensors' offsets allow (tensors: x, w, b, y). */
static int record_tiled(OpDwconv *op, VkRecorder *r, uint32_t stride, bool flip, VkTensor *const *tensors,
                        ConvPush *p, uint32_t n, uint32_t oh, uint32_t ow, uint32_t c)
{
        bool vec4 = !op->scalar && c % 4 == 0 && tensors[0]->offset % 16 == 0 &&
                    tensors[1]->offset % 16 == 0 && tensors[2]->offset % 16 == 0 &&
                    tensors[3]->offset % 16 == 0;
        VkKernel *k = vec4 ? (flip ? op->fwd4_flip : op->fwd4[stride - 1])
                           : (flip ? op->fwd_flip : op->fwd[stride - 1]);
        uint32_t lx = vec4 ? op->t.lx4 : op->t.lx, th = vec4 ? op->t.th4 : op->t.th,
                 tw = vec4 ? op->t.tw4 : op->t.tw;

        p->div_a = conv_div(conv_div_up(ow, tw));
        p->div_b = conv_div(conv_div_up(oh, th));
        return conv_dispatch(r, k, tensors, p, conv_div_up(vec4 ? c / 4 : c, lx),
                             (uint64_t)n * conv_div_up(oh, th) * conv_div_up(ow, tw));
}

int op_dwconv_record(OpDwconv *op, VkRecorder *r, const ConvShape *s, VkActivation act, VkTensor *x,
                     VkTensor *w, VkTensor *b, VkTensor *y)
{
        uint32_t oh, ow;
        int q;

        if (!op || !r || act < 0 || act >= _VK_ACTIVATION_MAX)
                return -EINVAL;
        q = check(op, s, x, w, b, y, &oh, &ow);
        if (q < 0)
                return q;
        ConvPush p = conv_push(s, oh, ow, act, b);
        return record_tiled(op, r, s->stride_w, false, (VkTensor *[]){x, w, b ?: w, y}, &p, s->n, oh, ow,
                            s->c);
}

int op_dwconv_record_bwd_data(OpDwconv *op, VkRecorder *r, const ConvShape *s, VkTensor *dy, VkTensor *w,
                              VkTensor *dx)
{
        uint32_t oh, ow;
        int q;

        if (!op || !r)
                return -EINVAL;
        q = check(op, s, dx, w, NULL, dy, &oh, &ow);
        if (q < 0)
                return q;
        if (s->stride_w == 1) {
                /* At stride 1 the input gradient is a forward depthwise convolution
                 * of dy with the kernel rotated by 180° and the padding mirrored
                 * (2 − pad): the tiled forward kernel then serves it. */
                ConvShape t = {s->n,
                               oh,
                               ow,
                               s->c,
                               s->c,
                               3,
                               3,
                               1,
                               1,
                               2 - s->pad_top,
                               2 - s->pad_left,
                               2 - s->pad_bottom,
                               2 - s->pad_right};
                ConvPush p = conv_push(&t, s->h, s->w, VK_ACTIVATION_NONE, false);
                return record_tiled(op, r, 1, true, (VkTensor *[]){dy, w, w, dx}, &p, s->n, s->h, s->w,
                                    s->c);
        }
        ConvPush p = conv_push(s, oh, ow, VK_ACTIVATION_NONE, false);
        return conv_dispatch(r, op->bwd_data[s->stride_w - 1], (VkTensor *[]){dy, w, dx}, &p,
                             conv_div_up(s->c, op->t.lx),
                             conv_div_up((uint64_t)s->n * s->h * s->w, op->t.dtw));
}

int op_dwconv_record_bwd_weight(OpDwconv *op, VkRecorder *r, const ConvShape *s, VkTensor *x, VkTensor *dy,
                                VkTensor *dw, VkTensor *db)
{
        uint32_t oh, ow;
        int q;

        if (!op || !r)
                return -EINVAL;
        q = check(op, s, x, dw, db, dy, &oh, &ow);
        if (q < 0)
                return q;
        ConvPush p = conv_push(s, oh, ow, VK_ACTIVATION_NONE, db);
        return vk_recorder_dispatch(r, op->bwd_weight[s->stride_w - 1], (VkTensor *[]){x, dy, dw, db ?: dw},
                                    &p, conv_div_up(s->c, op->t.wlx), 1, 1);
}
