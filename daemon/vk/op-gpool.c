/* SPDX-License-Identifier: MIT */
#include "op-gpool.h"

typedef struct GpoolPush {
        uint32_t n, hw, c, mode;
} GpoolPush;
_Static_assert(sizeof(GpoolPush) == 16, "must match shaders/gpool.comp and gpool_bwd.comp");

struct OpGpool {
        VkEngine *engine; /* borrowed */
        uint32_t lx, ly;
        uint64_t max_texels;
        VkKernel *fwd[_POOL_MODE_MAX], *bwd; /* owned by the engine; fwd per mode */
};

int op_gpool_new(VkEngine *e, OpGpool **ret)
{
        _cleanup_(op_gpool_freep) OpGpool *op = NULL;
        int r;

        op = calloc(1, sizeof(*op));
        if (!op)
                return -ENOMEM;
        op->engine = e;
        /* Channels along lanes; lavapipe wants one 8-lane vector wide. */
        op->lx = vk_engine_device_kind(e) == VK_DEVICE_KIND_CPU ? 8 : 64;
        op->ly = vk_engine_device_kind(e) == VK_DEVICE_KIND_CPU ? 8 : 1;
        op->max_texels = vk_engine_max_texel_elements(e);
        for (PoolMode m = 0; m < _POOL_MODE_MAX; m++) {
                r = vk_kernel_get(e,
                                  &(VkKernelInfo){ .shader = "gpool",
                                                   .n_bindings = 3,
                                                   .write_mask = (1u << 1) | (1u << 2),
                                                   .texel_mask = 1,
                                                   .push_size = sizeof(GpoolPush),
                                                   .n_spec = 3,
                                                   .spec = { op->lx, op->ly, m } },
                                  &op->fwd[m]);
                if (r < 0)
                        return r;
        }
        r = vk_kernel_get(e,
                          &(VkKernelInfo){ .shader = "gpool_bwd",
                                           .n_bindings = 3,
                                           .write_mask = 1u << 2,
                                           .push_size = sizeof(GpoolPush),
                                           .n_spec = 2,
                                           .spec = { op->lx, op->ly } },
                          &op->bwd);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(op);
        return 0;
}

OpGpool *op_gpool_free(OpGpool *op)
{
        free(op);
        return NULL;
}

static bool is_type(const VkTensor *t, VkDType dtype, size_t count)
{
        return t && t->dtype == dtype && t->count >= count;
}

static int check(PoolMode mode, uint32_t n, uint32_t hw, uint32_t c, const VkTensor *big, const VkTensor *small,
                 const VkTensor *argmax)
{
        if (mode < 0 || mode >= _POOL_MODE_MAX || n == 0 || hw == 0 || c == 0)
                return -EINVAL;
        if ((uint64_t)n * hw * c > UINT32_MAX)
                return -EINVAL;
        if (!is_type(big, VK_DTYPE_F32, (size_t)n * hw * c) || !is_type(small, VK_DTYPE_F32, (size_t)n * c))
                return -EINVAL;
        if (mode == POOL_MAX && !is_type(argmax, VK_DTYPE_U32, (size_t)n * c))
                return -EINVAL;
        return 0;
}

int op_gpool_record(OpGpool *op, VkRecorder *r, PoolMode mode, uint32_t n, uint32_t hw, uint32_t c, VkTensor *x,
                    VkTensor *y, VkTensor *argmax)
{
        int q;

        if (!op || !r)
                return -EINVAL;
        q = check(mode, n, hw, c, x, y, argmax);
        if (q < 0)
                return q;
        if (x->count > op->max_texels)
                return -E2BIG;
        GpoolPush p = { .n = n, .hw = hw, .c = c, .mode = mode };
        return vk_recorder_dispatch(r, op->fwd[mode], (VkTensor *[]){ x, y, mode == POOL_MAX ? argmax : y }, &p,
                                    (c + op->lx - 1) / op->lx, (n + op->ly - 1) / op->ly, 1);
}

int op_gpool_record_bwd(OpGpool *op, VkRecorder *r, PoolMode mode, uint32_t n, uint32_t hw, uint32_t c,
                        VkTensor *dy, VkTensor *argmax, VkTensor *dx)
{
        int q;

        if (!op || !r)
                return -EINVAL;
        q = check(mode, n, hw, c, dx, dy, argmax);
        if (q < 0)
                return q;
        GpoolPush p = { .n = n, .hw = hw, .c = c, .mode = mode };
        return vk_recorder_dispatch(r, op->bwd, (VkTensor *[]){ dy, mode == POOL_MAX ? argmax : dy, dx }, &p,
                                    (c + op->lx - 1) / op->lx,
                                    (uint32_t)(((uint64_t)n * hw + op->ly - 1) / op->ly), 1);
}
