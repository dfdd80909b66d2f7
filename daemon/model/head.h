/* SPDX-License-Identifier: MIT */
#pragma once

/* The model's network on the device (internal to daemon/model): weights,
 * gradients and AdamW moments in one arena made once; per step an arena reset
 * and one recording, one submit. See model.h for the network. */

#include "model.h"
#include "op-adamw.h"

typedef struct Head Head;

/* One mini-batch, assembled on the host. */
typedef struct HeadBatch {
        uint32_t n;                  /* posts */
        const float *x;              /* n×D, already standardised */
        const uint32_t *tag_offsets; /* n+1, starting at 0 */
        const uint32_t *tags;        /* tag_offsets[n] ids < vocab */
        const float *y;              /* n targets 0/1 (training only) */
} HeadBatch;

/* Sizes its arenas for batches of up to max_batch posts with up to max_nnz
 * tags in all. */
int head_new(VkEngine *e, const Model *shape, uint32_t max_batch, uint32_t max_nnz, Head **ret);
Head *head_free(Head *h);
DEFINE_TRIVIAL_CLEANUP_FUNC(Head *, head_free);

/* Copies the model's weights to the device and zeroes the optimiser state. */
int head_upload(Head *h, const Model *m);
/* Copies the device's weights into m (same shape). */
int head_download(Head *h, Model *m);

/* Forward, backward and AdamW update in one submit; ret_loss: the batch's mean loss. */
int head_train_step(Head *h, const HeadBatch *b, float pos_weight, const OpAdamWParams *p, float *ret_loss);
/* The same, and ret_dx (n×D) gets the gradient of the batch's mean loss with
 * respect to the standardised features x, for training what computes them. */
int head_train_step_dx(Head *h, const HeadBatch *b, float pos_weight, const OpAdamWParams *p,
                       float *ret_loss, float *ret_dx);
/* The tag table's learning rate relative to the others (default 1): a bag's
 * mean dilutes each tag's gradient by the post's tag count. */
void head_set_emb_lr_scale(Head *h, float scale);
/* Forward only: n logits, and when out_hidden is non-NULL the n×hidden
 * activations after ReLU. */
int head_forward(Head *h, const HeadBatch *b, float *out_logit, float *out_hidden);
