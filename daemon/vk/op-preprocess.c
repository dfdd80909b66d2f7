/* SPDX-License-Identifier: MIT */
#include <math.h>

#include "op-preprocess.h"

_Static_assert(sizeof(PreprocShape) == 68,
               "PreprocShape is the push-constant block of shaders/preprocess.comp");

struct OpPreprocess {
        VkEngine *engine; /* borrowed */
        uint32_t lx, ly;
        VkKernel *kernel; /* owned by the engine */
};

int op_preprocess_new(VkEngine *e, OpPreprocess **ret)
{
        _cleanup_(op_preprocess_freep) OpPreprocess *op = NULL;
        int r;

        op = calloc(1, sizeof(*op));
        if (!op)
                return -ENOMEM;
        op->engine = e;
        op->lx = vk_engine_device_kind(e) == VK_DEVICE_KIND_CPU ? 8 : 32;
        op->ly = vk_engine_device_kind(e) == VK_DEVICE_KIND_CPU ? 8 : 4;
        r = vk_kernel_get(e,
                          &(VkKernelInfo){.shader = "preprocess",
                                          .n_bindings = 2,
                                          .write_mask = 1u << 1,
                                          .push_size = sizeof(PreprocShape),
                                          .n_spec = 2,
                                          .spec = {op->lx, op->ly}},
                          &op->kernel);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(op);
        return 0;
}

OpPreprocess *op_preprocess_free(OpPreprocess *op)
{
        free(op);
        return NULL;
}

int op_preprocess_record(OpPreprocess *op, VkRecorder *r, const PreprocShape *p, VkTensor *src,
                         VkTensor *dst)
{
        uint64_t in, out;

        if (!op || !r || !p || !src || !dst)
                return -EINVAL;
        if (p->n == 0 || p->src_h == 0 || p->src_w == 0 || p->crop_h == 0 || p->crop_w == 0 ||
            p->out_h == 0 || p->out_w == 0 || (p->flags & ~(uint32_t)_PREPROC_FLAGS_ALL))
                return -EINVAL;
        if (p->crop_h > p->src_h || p->crop_w > p->src_w)
                return -EINVAL;
        if (!(p->flags & PREPROC_RANDOM_CROP) &&
            ((uint64_t)p->crop_y + p->crop_h > p->src_h || (uint64_t)p->crop_x + p->crop_w > p->src_w))
                return -EINVAL;
        in = (uint64_t)p->n * p->src_h * p->src_w * 3;
        out = (uint64_t)p->n * p->out_h * p->out_w * 3;
        /* Byte indices must fit the shader's 32-bit arithmetic. */
        if (in > UINT32_MAX || out > UINT32_MAX)
                return -EINVAL;
        if (src->dtype != VK_DTYPE_U8 || src->count < in || dst->dtype != VK_DTYPE_F32 || dst->count < out)
                return -EINVAL;
        for (int i = 0; i < 3; i++)
                if (!isfinite(p->scale[i]) || !isfinite(p->offset[i]))
                        return -EINVAL;
        /* The identity (whole image, same size, NHWC, no flip) reads 4 pixels' bytes
         * and writes their floats 4 at a time (PREPROC_IDENTITY, shaders/preprocess.comp). */
        if (p->crop_h == p->src_h && p->crop_w == p->src_w && p->out_h == p->src_h && p->out_w == p->src_w &&
            !(p->flags & (PREPROC_RANDOM_CROP | PREPROC_RANDOM_FLIP | PREPROC_NCHW | PREPROC_FLIP)) &&
            (uint64_t)p->n * p->out_h * p->out_w % 4 == 0 && src->offset % 4 == 0 && dst->offset % 16 == 0) {
                PreprocShape q = *p;
                uint32_t gx, gy;
                q.flags |= PREPROC_IDENTITY;
                vk_engine_groups_1d(op->engine, (uint64_t)p->n * p->out_h * p->out_w / 4, op->lx * op->ly,
                                    &gx, &gy);
                return vk_recorder_dispatch(r, op->kernel, (VkTensor *[]){src, dst}, &q, gx, gy, 1);
        }
        return vk_recorder_dispatch(r, op->kernel, (VkTensor *[]){src, dst}, p,
                                    (p->out_w + op->lx - 1) / op->lx,
                                    (uint32_t)(((uint64_t)p->n * p->out_h + op->ly - 1) / op->ly), 1);
}
