/* SPDX-License-Identifier: MIT */
#include "op-relu.h"

#define LOCAL 256

typedef struct ReluPush {
        uint32_t n;
        uint32_t act;
} ReluPush;
_Static_assert(sizeof(ReluPush) == 8, "must match shaders/relu.comp and relu_backward.comp");

struct OpRelu {
        VkEngine *engine;   /* borrowed */
        VkKernel *forward;  /* owned by the engine */
        VkKernel *backward; /* owned by the engine */
};

int op_relu_new(VkEngine *e, OpRelu **ret)
{
        _cleanup_(op_relu_freep) OpRelu *op = NULL;
        int r;

        op = calloc(1, sizeof(*op));
        if (!op)
                return -ENOMEM;
        op->engine = e;
        r = vk_kernel_get(e,
                          &(VkKernelInfo){ .shader = "relu", .n_bindings = 2, .write_mask = 1u << 1,
                                           .push_size = sizeof(ReluPush), .n_spec = 1, .spec = { LOCAL } },
                          &op->forward);
        if (r < 0)
                return r;
        r = vk_kernel_get(e,
                          &(VkKernelInfo){ .shader = "relu_backward", .n_bindings = 3, .write_mask = 1u << 2,
                                           .push_size = sizeof(ReluPush), .n_spec = 1, .spec = { LOCAL } },
                          &op->backward);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(op);
        return 0;
}

OpRelu *op_relu_free(OpRelu *op)
{
        free(op);
        return NULL;
}

static bool holds(const VkTensor *t, size_t n)
{
        return t && t->dtype == VK_DTYPE_F32 && t->count >= n;
}

int op_relu_record(OpRelu *op, VkRecorder *r, VkActivation act, VkTensor *x, VkTensor *y, size_t n)
{
        uint32_t gx, gy;

        if (act < 0 || act >= _VK_ACTIVATION_MAX || n > UINT32_MAX || !holds(x, n) || !holds(y, n))
                return -EINVAL;
        vk_engine_groups_1d(op->engine, n, LOCAL, &gx, &gy);
        return vk_recorder_dispatch(r, op->forward, (VkTensor *[]){ x, y }, &(ReluPush){ (uint32_t)n, act }, gx,
                                    gy, 1);
}

int op_relu_record_backward(OpRelu *op, VkRecorder *r, VkActivation act, VkTensor *y, VkTensor *dy, VkTensor *dx,
                            size_t n)
{
        uint32_t gx, gy;

        if (act < 0 || act >= _VK_ACTIVATION_MAX || n > UINT32_MAX || !holds(y, n) || !holds(dy, n) ||
            !holds(dx, n))
                return -EINVAL;
        vk_engine_groups_1d(op->engine, n, LOCAL, &gx, &gy);
        return vk_recorder_dispatch(r, op->backward, (VkTensor *[]){ y, dy, dx }, &(ReluPush){ (uint32_t)n, act },
                                    gx, gy, 1);
}
