/* SPDX-License-Identifier: MIT */
#include "op-reduce.h"

#define LOCAL 64 /* a power of two: the shader's tree halves it */

typedef struct ReducePush {
        uint32_t rows, cols;
        uint32_t axis;
        uint32_t mean;
} ReducePush;
_Static_assert(sizeof(ReducePush) == 16, "must match shaders/reduce.comp");

struct OpReduce {
        VkEngine *engine; /* borrowed */
        VkKernel *kernel; /* owned by the engine */
};

int op_reduce_new(VkEngine *e, OpReduce **ret)
{
        _cleanup_(op_reduce_freep) OpReduce *op = NULL;
        int r;

        op = calloc(1, sizeof(*op));
        if (!op)
                return -ENOMEM;
        op->engine = e;
        r = vk_kernel_get(e,
                          &(VkKernelInfo){ .shader = "reduce", .n_bindings = 2, .write_mask = 1u << 1,
                                           .push_size = sizeof(ReducePush), .n_spec = 1, .spec = { LOCAL } },
                          &op->kernel);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(op);
        return 0;
}

OpReduce *op_reduce_free(OpReduce *op)
{
        free(op);
        return NULL;
}

int op_reduce_record(OpReduce *op, VkRecorder *r, OpReduceKind kind, VkTensor *x, uint32_t rows, uint32_t cols,
                     unsigned axis, VkTensor *y)
{
        uint32_t n_out = axis == 0 ? cols : rows, gx, gy;

        if (kind < 0 || kind >= _OP_REDUCE_MAX || axis > 1 || rows == 0 || cols == 0 || !x || !y ||
            x->dtype != VK_DTYPE_F32 || y->dtype != VK_DTYPE_F32 || x->count < (uint64_t)rows * cols ||
            y->count < n_out)
                return -EINVAL;
        vk_engine_groups_1d(op->engine, n_out, 1, &gx, &gy);
        ReducePush p = { rows, cols, axis, kind == OP_REDUCE_MEAN };
        return vk_recorder_dispatch(r, op->kernel, (VkTensor *[]){ x, y }, &p, gx, gy, 1);
}
