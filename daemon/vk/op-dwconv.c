/* SPDX-License-Identifier: MIT */
#include "conv-push.h"
#include "op-dwconv.h"

/* lavapipe (CPU time per core, MobileNetV2 layers 144@56² s1 / s2, 960@7²):
 * 4×7 output tiles 4.7 / 2.4 / 3.8–5.1 GFLOPS against 4×4 3.9 / 2.2 / 3.8,
 * 8-wide strips ~2.7 / 1.6 / 2.5 and 7×7 3.0 / 1.9 / 1.5 (registers spill);
 * 7 divides every MobileNetV2 width (112 … 7), so no column is wasted. 32
 * lanes per workgroup beat 8 (less per-workgroup overhead). */
typedef struct DwTiles {
        uint32_t lx;  /* workgroup: lanes along channels */
        uint32_t tw;  /* forward: output columns per tile */
        uint32_t dtw; /* backward-data: inputs per invocation */
        uint32_t wlx; /* backward-weight: workgroup width (channels) */
        uint32_t th;  /* forward: output rows per tile */
} DwTiles;

static const DwTiles tiles_cpu = { .lx = 32, .tw = 7, .dtw = 4, .wlx = 8, .th = 4 };
static const DwTiles tiles_gpu = { .lx = 32, .tw = 4, .dtw = 1, .wlx = 64, .th = 2 };

struct OpDwconv {
        VkEngine *engine; /* borrowed */
        uint64_t max_texels;
        DwTiles t;
        VkKernel *fwd[2], *bwd_data, *bwd_weight; /* owned by the engine; fwd per stride */
};

int op_dwconv_new(VkEngine *e, OpDwconv **ret)
{
        return op_dwconv_new_tiled(e, NULL, ret);
}

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
                op->t.lx = tiles->lanes ?: op->t.lx;
                op->t.th = tiles->rows ?: op->t.th;
                op->t.tw = tiles->cols ?: op->t.tw;
                if (op->t.lx > 256 || op->t.th * op->t.tw > 128)
                        return -EINVAL;
        }

        for (uint32_t s = 1; s <= 2; s++) {
                r = vk_kernel_get(e,
                                  &(VkKernelInfo){ .shader = "dwconv",
                                                   .n_bindings = 4,
                                                   .write_mask = 1u << 3,
                                                   .push_size = sizeof(ConvPush),
                                                   .texel_mask = 3,
                                                   .n_spec = 4,
                                                   .spec = { op->t.lx, op->t.tw, s, op->t.th } },
                                  &op->fwd[s - 1]);
                if (r < 0)
                        return r;
        }
        r = vk_kernel_get(e,
                          &(VkKernelInfo){ .shader = "dwconv_bwd_data",
                                           .n_bindings = 3,
                                           .write_mask = 1u << 2,
                                           .texel_mask = 3,
                                           .push_size = sizeof(ConvPush),
                                           .n_spec = 2,
                                           .spec = { op->t.lx, op->t.dtw } },
                          &op->bwd_data);
        if (r < 0)
                return r;
        r = vk_kernel_get(e,
                          &(VkKernelInfo){ .shader = "dwconv_bwd_weight",
                                           .n_bindings = 4,
                                           .write_mask = (1u << 2) | (1u << 3),
                                           .texel_mask = 3,
                                           .push_size = sizeof(ConvPush),
                                           .n_spec = 1,
                                           .spec = { op->t.wlx } },
                          &op->bwd_weight);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(op);
        return 0;
}

OpDwconv *op_dwconv_free(OpDwconv *op)
{
        free(op);
        return NULL;
}

static bool is_f32(const VkTensor *t, size_t count)
{
        return t && t->dtype == VK_DTYPE_F32 && t->count >= count;
}

static int check(const OpDwconv *op, const ConvShape *s, const VkTensor *x, const VkTensor *w, const VkTensor *b, const VkTensor *y,
                 uint32_t *ret_oh, uint32_t *ret_ow)
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
        if (!is_f32(x, (size_t)s->n * s->h * s->w * s->c) || !is_f32(w, (size_t)9 * s->c) ||
            (b && !is_f32(b, s->c)) || !is_f32(y, (size_t)s->n * oh * ow * s->c))
                return -EINVAL;
        /* Every kernel reads x (or dy), y-sized or x-sized, through texel buffers. */
        if (MAX(x->count, y->count) > op->max_texels)
                return -E2BIG;
        *ret_oh = oh;
        *ret_ow = ow;
        return 0;
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
        uint32_t gy, gz;
        conv_groups_yz((uint64_t)s->n * conv_div_up(oh, op->t.th) * conv_div_up(ow, op->t.tw), &gy, &gz);
        return vk_recorder_dispatch(r, op->fwd[s->stride_w - 1], (VkTensor *[]){ x, w, b ?: w, y }, &p,
                                    conv_div_up(s->c, op->t.lx), gy, gz);
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
        ConvPush p = conv_push(s, oh, ow, VK_ACTIVATION_NONE, false);
        uint32_t gy, gz;
        conv_groups_yz(conv_div_up((uint64_t)s->n * s->h * s->w, op->t.dtw), &gy, &gz);
        return vk_recorder_dispatch(r, op->bwd_data, (VkTensor *[]){ dy, w, dx }, &p, conv_div_up(s->c, op->t.lx),
                                    gy, gz);
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
        return vk_recorder_dispatch(r, op->bwd_weight, (VkTensor *[]){ x, dy, dw, db ?: dw }, &p,
                                    conv_div_up(s->c, op->t.wlx), 1, 1);
}
