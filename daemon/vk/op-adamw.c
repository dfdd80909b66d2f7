/* SPDX-License-Identifier: MIT */
#include <math.h>

#include "op-adamw.h"

#define LOCAL 256

typedef struct AdamWPush {
        uint32_t n;
        float lr, beta1, beta2, eps, weight_decay;
        float bc1, bc2;
} AdamWPush;
_Static_assert(sizeof(AdamWPush) == 32, "must match shaders/adamw.comp");

struct OpAdamW {
        VkEngine *engine; /* borrowed */
        VkKernel *kernel; /* owned by the engine */
};

int op_adamw_new(VkEngine *e, OpAdamW **ret)
{
        _cleanup_(op_adamw_freep) OpAdamW *op = NULL;
        int r;

        op = calloc(1, sizeof(*op));
        if (!op)
                return -ENOMEM;
        op->engine = e;
        r = vk_kernel_get(e,
                          &(VkKernelInfo){ .shader = "adamw", .n_bindings = 4, .write_mask = 0xe,
                                           .push_size = sizeof(AdamWPush), .n_spec = 1, .spec = { LOCAL } },
                          &op->kernel);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(op);
        return 0;
}

OpAdamW *op_adamw_free(OpAdamW *op)
{
        free(op);
        return NULL;
}

static bool holds(const VkTensor *t, size_t n)
{
        return t && t->dtype == VK_DTYPE_F32 && t->count >= n;
}

int op_adamw_record(OpAdamW *op, VkRecorder *r, VkTensor *grad, VkTensor *param, VkTensor *m, VkTensor *v, size_t n,
                    const OpAdamWParams *p)
{
        uint32_t gx, gy;

        if (!p || p->step == 0 || !(p->beta1 >= 0 && p->beta1 < 1) || !(p->beta2 >= 0 && p->beta2 < 1) ||
            n > UINT32_MAX || !holds(grad, n) || !holds(param, n) || !holds(m, n) || !holds(v, n))
                return -EINVAL;
        vk_engine_groups_1d(op->engine, n, LOCAL, &gx, &gy);
        AdamWPush push = {
                .n = (uint32_t)n,
                .lr = p->lr,
                .beta1 = p->beta1,
                .beta2 = p->beta2,
                .eps = p->eps,
                .weight_decay = p->weight_decay,
                .bc1 = (float)(1.0 - pow(p->beta1, p->step)),
                .bc2 = (float)(1.0 - pow(p->beta2, p->step)),
        };
        return vk_recorder_dispatch(r, op->kernel, (VkTensor *[]){ grad, param, m, v }, &push, gx, gy, 1);
}
