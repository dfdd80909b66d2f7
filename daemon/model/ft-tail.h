/* SPDX-License-Identifier: MIT */
#pragma once

/* Internal to daemon/model: the fine-tuned tail of the backbone on the
 * device, trained jointly with the head (finetune.c).
 *
 *     a: n × hw × cin activations entering the tail (cached per view)
 *     y = ReLU6(a·W + b)                  (a 1×1 convolution, W [cin][cout])
 *     features = mean over hw of y, then max over hw of y   (2·cout per image)
 *
 * which is what the backbone's top 1×1 conv and the "final" feature set
 * compute. Each call is one recording and one submit. */

#include "op-adamw.h"
#include "vk.h"

typedef struct FtTail FtTail;

int ft_tail_new(VkEngine *e, uint32_t hw, uint32_t cin, uint32_t cout, uint32_t max_batch, FtTail **ret);
FtTail *ft_tail_free(FtTail *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(FtTail *, ft_tail_free);

/* Sets the weights ([cin][cout], [cout]) and zeroes the optimiser state. */
int ft_tail_upload(FtTail *t, const float *w, const float *b);
int ft_tail_download(FtTail *t, float *ret_w, float *ret_b);

/* act: n × hw × cin floats. ret_mean, ret_max: n × cout each. The
 * activations stay on the device for the next ft_tail_backward(). */
int ft_tail_forward(FtTail *t, const float *act, uint32_t n, float *ret_mean, float *ret_max);

/* From the gradients of a loss with respect to the last forward's pooled
 * outputs (n × cout each): the weight and bias gradients (ret_dw, ret_db:
 * optional downloads) and, when p is non-NULL, one AdamW step (no weight
 * decay on the bias). */
int ft_tail_backward(FtTail *t, const float *dmean, const float *dmax, uint32_t n, const OpAdamWParams *p,
                     float *ret_dw, float *ret_db);
