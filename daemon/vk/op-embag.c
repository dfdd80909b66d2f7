/* SPDX-License-Identifier: MIT */
#include "op-embag.h"

#define LOCAL 256

typedef struct EmbagPush {
        uint32_t vocab, dim, bags, nnz;
} EmbagPush;
_Static_assert(sizeof(EmbagPush) == 16, "must match shaders/embag.comp");

typedef struct EmbagBackwardPush {
        uint32_t vocab, dim, bags, nnz;
        uint32_t accumulate;
} EmbagBackwardPush;
_Static_assert(sizeof(EmbagBackwardPush) == 20, "must match shaders/embag_backward.comp");

struct OpEmbag {
        VkEngine *engine;   /* borrowed */
        VkKernel *forward;  /* owned by the engine */
        VkKernel *backward; /* owned by the engine */
};

int op_embag_new(VkEngine *e, OpEmbag **ret)
{
        _cleanup_(op_embag_freep) OpEmbag *op = NULL;
        int r;

        op = calloc(1, sizeof(*op));
        if (!op)
                return -ENOMEM;
        op->engine = e;
        r = vk_kernel_get(e,
                          &(VkKernelInfo){ .shader = "embag", .n_bindings = 4, .write_mask = 1u << 3,
                                           .push_size = sizeof(EmbagPush), .n_spec = 1, .spec = { LOCAL } },
                          &op->forward);
        if (r < 0)
                return r;
        r = vk_kernel_get(e,
                          &(VkKernelInfo){ .shader = "embag_backward", .n_bindings = 5, .write_mask = 1u << 4,
                                           .push_size = sizeof(EmbagBackwardPush), .n_spec = 1,
                                           .spec = { LOCAL } },
                          &op->backward);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(op);
        return 0;
}

OpEmbag *op_embag_free(OpEmbag *op)
{
        free(op);
        return NULL;
}

static bool holds(const VkTensor *t, VkDType type, uint64_t n)
{
        return t && (t->dtype == type || (type == VK_DTYPE_U32 && t->dtype == VK_DTYPE_I32)) && t->count >= n;
}

static bool shape_ok(const OpEmbagShape *s)
{
        return s && s->vocab > 0 && s->dim > 0 && s->bags > 0 && s->bags < UINT32_MAX &&
               (uint64_t)s->vocab * s->dim <= UINT32_MAX && (uint64_t)s->bags * s->dim <= UINT32_MAX;
}

int op_embag_record(OpEmbag *op, VkRecorder *r, VkTensor *table, VkTensor *indices, VkTensor *offsets,
                    VkTensor *out, const OpEmbagShape *s)
{
        uint32_t gx, gy;

        if (!shape_ok(s) || !holds(table, VK_DTYPE_F32, (uint64_t)s->vocab * s->dim) ||
            !holds(indices, VK_DTYPE_U32, MAX(s->nnz, 1u)) || !holds(offsets, VK_DTYPE_U32, s->bags + 1ull) ||
            !holds(out, VK_DTYPE_F32, (uint64_t)s->bags * s->dim))
                return -EINVAL;
        vk_engine_groups_1d(op->engine, (uint64_t)s->bags * s->dim, LOCAL, &gx, &gy);
        EmbagPush p = { s->vocab, s->dim, s->bags, s->nnz };
        return vk_recorder_dispatch(r, op->forward, (VkTensor *[]){ table, indices, offsets, out }, &p, gx, gy, 1);
}

int op_embag_transpose(const OpEmbagShape *s, const uint32_t *indices, const uint32_t *offsets,
                       uint32_t *rev_offsets, uint32_t *rev_bags, float *rev_weights)
{
        if (!shape_ok(s) || offsets[0] != 0 || offsets[s->bags] != s->nnz)
                return -EINVAL;
        for (uint32_t b = 0; b < s->bags; b++)
                if (offsets[b] > offsets[b + 1])
                        return -EINVAL;
        for (uint32_t j = 0; j < s->nnz; j++)
                if (indices[j] >= s->vocab)
                        return -EINVAL;

        /* Counting sort by table row; walking bags in order keeps each row's list ascending. */
        memset(rev_offsets, 0, (s->vocab + 1ull) * sizeof(uint32_t));
        for (uint32_t j = 0; j < s->nnz; j++)
                rev_offsets[indices[j] + 1]++;
        for (uint32_t v = 0; v < s->vocab; v++)
                rev_offsets[v + 1] += rev_offsets[v];
        for (uint32_t b = 0; b < s->bags; b++) {
                float w = 1.0f / (float)MAX(offsets[b + 1] - offsets[b], 1u);
                for (uint32_t j = offsets[b]; j < offsets[b + 1]; j++) {
                        uint32_t slot = rev_offsets[indices[j]]++;
                        rev_bags[slot] = b;
                        rev_weights[slot] = w;
                }
        }
        /* The fill advanced each start to the next row's start: shift back. */
        for (uint32_t v = s->vocab; v > 0; v--)
                rev_offsets[v] = rev_offsets[v - 1];
        rev_offsets[0] = 0;
        return 0;
}

int op_embag_record_backward(OpEmbag *op, VkRecorder *r, VkTensor *dout, VkTensor *rev_offsets,
                             VkTensor *rev_bags, VkTensor *rev_weights, VkTensor *dtable, const OpEmbagShape *s,
                             bool accumulate)
{
        uint32_t gx, gy;

        if (!shape_ok(s) || !holds(dout, VK_DTYPE_F32, (uint64_t)s->bags * s->dim) ||
            !holds(rev_offsets, VK_DTYPE_U32, s->vocab + 1ull) || !holds(rev_bags, VK_DTYPE_U32, MAX(s->nnz, 1u)) ||
            !holds(rev_weights, VK_DTYPE_F32, MAX(s->nnz, 1u)) ||
            !holds(dtable, VK_DTYPE_F32, (uint64_t)s->vocab * s->dim))
                return -EINVAL;
        vk_engine_groups_1d(op->engine, (uint64_t)s->vocab * s->dim, LOCAL, &gx, &gy);
        EmbagBackwardPush p = { s->vocab, s->dim, s->bags, s->nnz, accumulate };
        return vk_recorder_dispatch(r, op->backward, (VkTensor *[]){ dout, rev_offsets, rev_bags, rev_weights, dtable },
                                    &p, gx, gy, 1);
}
