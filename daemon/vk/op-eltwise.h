/* SPDX-License-Identifier: MIT */
#pragma once

/* Element-wise linear combinations over float tensors (shaders/eltwise.comp).
 * n elements are processed; every tensor must hold at least n (-EINVAL). */

#include "vk.h"

typedef struct OpEltwise OpEltwise;

int op_eltwise_new(VkEngine *e, OpEltwise **ret);
OpEltwise *op_eltwise_free(OpEltwise *op);
DEFINE_TRIVIAL_CLEANUP_FUNC(OpEltwise *, op_eltwise_free);

/* c = alpha·a + beta·b (b is not read when beta == 0). */
int op_eltwise_record(OpEltwise *op, VkRecorder *r, float alpha, VkTensor *a, float beta, VkTensor *b,
                      VkTensor *c, size_t n);
/* c = a + b */
int op_eltwise_record_add(OpEltwise *op, VkRecorder *r, VkTensor *a, VkTensor *b, VkTensor *c, size_t n);
/* c = alpha·a */
int op_eltwise_record_scale(OpEltwise *op, VkRecorder *r, float alpha, VkTensor *a, VkTensor *c, size_t n);
/* y += alpha·x, e.g. accumulating gradients over micro-batches. */
int op_eltwise_record_axpy(OpEltwise *op, VkRecorder *r, float alpha, VkTensor *x, VkTensor *y, size_t n);
