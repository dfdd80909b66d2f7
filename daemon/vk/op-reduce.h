/* SPDX-License-Identifier: MIT */
#pragma once

/* Sum / mean along one axis of a rows×cols float matrix (shaders/reduce.comp).
 * Deterministic (fixed order). axis 0 gives cols outputs (column sums, e.g. a
 * bias gradient from dY), axis 1 gives rows outputs; rows = 1, axis 1 reduces a
 * whole tensor to one value (e.g. a mean loss). -EINVAL for a zero dimension,
 * an axis other than 0/1, or tensors too small. */

#include "vk.h"

typedef struct OpReduce OpReduce;

typedef enum OpReduceKind {
        OP_REDUCE_SUM,
        OP_REDUCE_MEAN,
        _OP_REDUCE_MAX,
        _OP_REDUCE_INVALID = -EINVAL,
} OpReduceKind;

int op_reduce_new(VkEngine *e, OpReduce **ret);
OpReduce *op_reduce_free(OpReduce *op);
DEFINE_TRIVIAL_CLEANUP_FUNC(OpReduce *, op_reduce_free);

int op_reduce_record(OpReduce *op, VkRecorder *r, OpReduceKind kind, VkTensor *x, uint32_t rows, uint32_t cols,
                     unsigned axis, VkTensor *y);
