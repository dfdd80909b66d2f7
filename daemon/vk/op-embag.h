/* SPDX-License-Identifier: MIT */
#pragma once

/* Embedding bag with mean pooling (shaders/embag.comp, embag_backward.comp),
 * e.g. a post's tags → one vector.
 *
 *     table   vocab×dim floats
 *     indices nnz u32, the bags' entries back to back
 *     offsets bags+1 u32, bag b = indices[offsets[b] … offsets[b+1])
 *     out     bags×dim floats: the mean of the bag's rows; zeros for an empty bag
 *
 * Indices ≥ vocab are skipped and not counted (the kernel never reads out of
 * bounds, whatever the lists hold); op_embag_transpose() rejects them instead,
 * so validate on the host where an error can be reported.
 *
 * Backward is deterministic, without float atomics: the host transposes the
 * bags once per batch (op_embag_transpose: a counting sort, O(nnz + vocab)),
 * then every table element sums its own occurrences in a fixed order. It
 * writes every row of dtable (zeros for rows not in the batch), or adds to it
 * with accumulate. */

#include "vk.h"

typedef struct OpEmbag OpEmbag;

typedef struct OpEmbagShape {
        uint32_t vocab, dim, bags, nnz;
} OpEmbagShape;

int op_embag_new(VkEngine *e, OpEmbag **ret);
OpEmbag *op_embag_free(OpEmbag *op);
DEFINE_TRIVIAL_CLEANUP_FUNC(OpEmbag *, op_embag_free);

int op_embag_record(OpEmbag *op, VkRecorder *r, VkTensor *table, VkTensor *indices, VkTensor *offsets,
                    VkTensor *out, const OpEmbagShape *s);

/* Host side, per batch: from indices/offsets (as above) fills rev_offsets
 * (vocab+1), rev_bags (nnz) and rev_weights (nnz, 1/|bag|). -EINVAL for
 * offsets that are not non-decreasing within [0, nnz] or an index ≥ vocab. */
int op_embag_transpose(const OpEmbagShape *s, const uint32_t *indices, const uint32_t *offsets,
                       uint32_t *rev_offsets, uint32_t *rev_bags, float *rev_weights);

/* dtable (vocab×dim) = (accumulate ? dtable : 0) + ∂loss/∂table given dout (bags×dim). */
int op_embag_record_backward(OpEmbag *op, VkRecorder *r, VkTensor *dout, VkTensor *rev_offsets,
                             VkTensor *rev_bags, VkTensor *rev_weights, VkTensor *dtable, const OpEmbagShape *s,
                             bool accumulate);
