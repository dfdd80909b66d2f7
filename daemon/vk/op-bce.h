/* SPDX-License-Identifier: MIT */
#pragma once

/* Binary cross-entropy with logits and per-class weights (shaders/bce.comp,
 * bce_backward.comp), as PyTorch's BCEWithLogitsLoss(weight, pos_weight):
 *
 *     loss[i] = w_c · (pw_c · y · softplus(-x) + (1 - y) · softplus(x)),  c = i mod classes
 *
 * over n = rows·classes elements (logits x, targets y in [0, 1]). pos_weight
 * (= negatives/positives per class) balances classes; weight scales them; each
 * may be NULL (all ones). Forward writes the per-element loss (reduce it with
 * op_reduce for a mean); backward writes scale · ∂loss[i]/∂x[i], so scale = 1/n
 * gives the gradient of the mean. -EINVAL for tensors too small or classes = 0. */

#include "vk.h"

typedef struct OpBce OpBce;

int op_bce_new(VkEngine *e, OpBce **ret);
OpBce *op_bce_free(OpBce *op);
DEFINE_TRIVIAL_CLEANUP_FUNC(OpBce *, op_bce_free);

int op_bce_record(OpBce *op, VkRecorder *r, VkTensor *x, VkTensor *y, VkTensor *pos_weight, VkTensor *weight,
                  VkTensor *loss, size_t n, uint32_t classes);
int op_bce_record_backward(OpBce *op, VkRecorder *r, VkTensor *x, VkTensor *y, VkTensor *pos_weight,
                           VkTensor *weight, VkTensor *dx, size_t n, uint32_t classes, float scale);
