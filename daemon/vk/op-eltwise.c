/* SPDX-License-Identifier: MIT */
#include "op-eltwise.h"

#define LOCAL 256

typedef struct EltwisePush {
        uint32_t n;
        float alpha;
        float beta;
        uint32_t in_place;
} EltwisePush;
_Static_assert(sizeof(EltwisePush) == 16, "must match shaders/eltwise.comp");

struct OpEltwise {
        VkEngine *engine;    /* borrowed */
        VkKernel *kernel[2]; /* owned by the engine; [1]: 4 floats per invocation */
};

int op_eltwise_new(VkEngine *e, OpEltwise **ret)
{
        _cleanup_(op_eltwise_freep) OpEltwise *op = NULL;
        int r;

        op = calloc(1, sizeof(*op));
        if (!op)
                return -ENOMEM;
        op->engine = e;
        for (unsigned v = 0; v < 2; v++) {
                r = vk_kernel_get(e,
                                  &(VkKernelInfo){.shader = "eltwise",
                                                  .n_bindings = 3,
                                                  .write_mask = 1u << 2,
                                                  .push_size = sizeof(EltwisePush),
                                                  .n_spec = 2,
                                                  .spec = {LOCAL, v}},
                                  &op->kernel[v]);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(op);
        return 0;
}

OpEltwise *op_eltwise_free(OpEltwise *op)
{
        free(op);
        return NULL;
}

static int record(OpEltwise *op, VkRecorder *r, float alpha, VkTensor *a, float beta, VkTensor *b,
                  VkTensor *c, size_t n, bool in_place)
{
        uint32_t gx, gy;

        if (n > UINT32_MAX || !vk_tensor_holds_f32(a, n) || !vk_tensor_holds_f32(b, n) ||
            !vk_tensor_holds_f32(c, n))
                return -EINVAL;
        bool vec4 = n % 4 == 0 && a->offset % 16 == 0 && b->offset % 16 == 0 && c->offset % 16 == 0;
        vk_engine_groups_1d(op->engine, vec4 ? n / 4 : n, LOCAL, &gx, &gy);
        EltwisePush p = {.n = (uint32_t)n, .alpha = alpha, .beta = beta, .in_place = in_place};
        return vk_recorder_dispatch(r, op->kernel[vec4], (VkTensor *[]){a, b, c}, &p, gx, gy, 1);
}

int op_eltwise_record(OpEltwise *op, VkRecorder *r, float alpha, VkTensor *a, float beta, VkTensor *b,
                      VkTensor *c, size_t n)
{
        return record(op, r, alpha, a, beta, b ?: a, c, n, false);
}

int op_eltwise_record_add(OpEltwise *op, VkRecorder *r, VkTensor *a, VkTensor *b, VkTensor *c, size_t n)
{
        return record(op, r, 1.0f, a, 1.0f, b, c, n, false);
}

int op_eltwise_record_scale(OpEltwise *op, VkRecorder *r, float alpha, VkTensor *a, VkTensor *c, size_t n)
{
        return record(op, r, alpha, a, 0.0f, a, c, n, false);
}

int op_eltwise_record_axpy(OpEltwise *op, VkRecorder *r, float alpha, VkTensor *x, VkTensor *y, size_t n)
{
        return record(op, r, alpha, x, 1.0f, x, y, n, true);
}
