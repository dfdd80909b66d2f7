/* SPDX-License-Identifier: MIT */
#pragma once

/* ReLU / ReLU6 forward and backward over n floats (shaders/relu.comp,
 * relu_backward.comp). NaN propagates; the gradient is 0 at the kinks (x = 0,
 * and x = 6 for ReLU6), as in PyTorch. -EINVAL when a tensor holds fewer than
 * n floats or act is not an activation. y may be x (in place); dx may be dy. */

#include "vk.h"

typedef struct OpRelu OpRelu;

int op_relu_new(VkEngine *e, OpRelu **ret);
OpRelu *op_relu_free(OpRelu *op);
DEFINE_TRIVIAL_CLEANUP_FUNC(OpRelu *, op_relu_free);

/* y = act(x) */
int op_relu_record(OpRelu *op, VkRecorder *r, VkActivation act, VkTensor *x, VkTensor *y, size_t n);
/* dx = dy · act'(y), y being the forward output (or input). */
int op_relu_record_backward(OpRelu *op, VkRecorder *r, VkActivation act, VkTensor *y, VkTensor *dy, VkTensor *dx,
                            size_t n);
