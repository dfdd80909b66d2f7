/* SPDX-License-Identifier: MIT */
#pragma once

/* One AdamW step (shaders/adamw.comp), the same update as torch.optim.AdamW
 * (decoupled weight decay, bias-corrected moments). param, m and v are
 * updated in place; m and v start as zeros (vk_tensor_fill(t, 0)); step counts
 * from 1. -EINVAL for tensors smaller than n, step 0, or β outside [0, 1). */

#include "vk.h"

typedef struct OpAdamW OpAdamW;

typedef struct OpAdamWParams {
        float lr, beta1, beta2, eps, weight_decay;
        uint32_t step;
} OpAdamWParams;

/* PyTorch's defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 1e-2. */
#define OP_ADAMW_DEFAULTS { .lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 1e-2f, .step = 1 }

int op_adamw_new(VkEngine *e, OpAdamW **ret);
OpAdamW *op_adamw_free(OpAdamW *op);
DEFINE_TRIVIAL_CLEANUP_FUNC(OpAdamW *, op_adamw_free);

int op_adamw_record(OpAdamW *op, VkRecorder *r, VkTensor *grad, VkTensor *param, VkTensor *m, VkTensor *v, size_t n,
                    const OpAdamWParams *p);
