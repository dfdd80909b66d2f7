/* SPDX-License-Identifier: MIT */
#include "op-bce.h"

#define LOCAL 256

typedef struct BcePush {
        uint32_t n, classes;
        uint32_t has_pos_weight, has_weight;
} BcePush;
_Static_assert(sizeof(BcePush) == 16, "must match shaders/bce.comp");

typedef struct BceBackwardPush {
        uint32_t n, classes;
        uint32_t has_pos_weight, has_weight;
        float scale;
} BceBackwardPush;
_Static_assert(sizeof(BceBackwardPush) == 20, "must match shaders/bce_backward.comp");

struct OpBce {
        VkEngine *engine;   /* borrowed */
        VkKernel *forward;  /* owned by the engine */
        VkKernel *backward; /* owned by the engine */
};

int op_bce_new(VkEngine *e, OpBce **ret)
{
        _cleanup_(op_bce_freep) OpBce *op = NULL;
        int r;

        op = calloc(1, sizeof(*op));
        if (!op)
                return -ENOMEM;
        op->engine = e;
        r = vk_kernel_get(e,
                          &(VkKernelInfo){ .shader = "bce", .n_bindings = 5, .write_mask = 1u << 4,
                                           .push_size = sizeof(BcePush), .n_spec = 1, .spec = { LOCAL } },
                          &op->forward);
        if (r < 0)
                return r;
        r = vk_kernel_get(e,
                          &(VkKernelInfo){ .shader = "bce_backward", .n_bindings = 5, .write_mask = 1u << 4,
                                           .push_size = sizeof(BceBackwardPush), .n_spec = 1, .spec = { LOCAL } },
                          &op->backward);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(op);
        return 0;
}

OpBce *op_bce_free(OpBce *op)
{
        free(op);
        return NULL;
}

static bool holds(const VkTensor *t, uint64_t n)
{
        return t && t->dtype == VK_DTYPE_F32 && t->count >= n;
}

static int check(VkTensor *x, VkTensor *y, VkTensor *pw, VkTensor *w, VkTensor *out, size_t n, uint32_t classes)
{
        if (classes == 0 || n > UINT32_MAX || n % classes != 0 || !holds(x, n) || !holds(y, n) || !holds(out, n) ||
            (pw && !holds(pw, classes)) || (w && !holds(w, classes)))
                return -EINVAL;
        return 0;
}

int op_bce_record(OpBce *op, VkRecorder *r, VkTensor *x, VkTensor *y, VkTensor *pos_weight, VkTensor *weight,
                  VkTensor *loss, size_t n, uint32_t classes)
{
        uint32_t gx, gy;
        int q;

        q = check(x, y, pos_weight, weight, loss, n, classes);
        if (q < 0)
                return q;
        vk_engine_groups_1d(op->engine, n, LOCAL, &gx, &gy);
        BcePush p = { (uint32_t)n, classes, pos_weight != NULL, weight != NULL };
        return vk_recorder_dispatch(r, op->forward, (VkTensor *[]){ x, y, pos_weight ?: x, weight ?: x, loss }, &p,
                                    gx, gy, 1);
}

int op_bce_record_backward(OpBce *op, VkRecorder *r, VkTensor *x, VkTensor *y, VkTensor *pos_weight,
                           VkTensor *weight, VkTensor *dx, size_t n, uint32_t classes, float scale)
{
        uint32_t gx, gy;
        int q;

        q = check(x, y, pos_weight, weight, dx, n, classes);
        if (q < 0)
                return q;
        vk_engine_groups_1d(op->engine, n, LOCAL, &gx, &gy);
        BceBackwardPush p = { (uint32_t)n, classes, pos_weight != NULL, weight != NULL, scale };
        return vk_recorder_dispatch(r, op->backward, (VkTensor *[]){ x, y, pos_weight ?: x, weight ?: x, dx }, &p,
                                    gx, gy, 1);
}
