/* SPDX-License-Identifier: MIT */
#pragma once

/* The small CNN on the device (internal to daemon/model; see cnn.h): its
 * parameters, gradients and AdamW moments, and activations for batches of up
 * to max_batch images, all made once. One recording and one submit per call. */

#include "cnn.h"
#include "op-adamw.h"

typedef struct CnnNet CnnNet;

int cnn_net_new(VkEngine *e, const CnnArch *a, uint32_t max_batch, CnnNet **ret);
CnnNet *cnn_net_free(CnnNet *n);
DEFINE_TRIVIAL_CLEANUP_FUNC(CnnNet *, cnn_net_free);

/* Copies params (the cnn_param_layout() array) to the device and zeroes the
 * optimiser state; download copies them back. */
int cnn_net_upload(CnnNet *n, const float *params);
int cnn_net_download(CnnNet *n, float *params);

/* How a batch's windows are taken from the stored crops. */
typedef struct CnnWindow {
        bool augment; /* random window and flip per image, drawn from seed */
        uint32_t seed;
} CnnWindow;

/* Forward, backward and (unless adam is NULL) one AdamW step. rgb: batch
 * crops of stored²·3 bytes; y: batch targets 0/1. ret_loss: the mean loss;
 * ret_grads: NULL or the gradients in the params layout (tests). */
int cnn_net_step(CnnNet *n, const uint8_t *rgb, const float *y, uint32_t batch, const CnnWindow *w,
                 float pos_weight, const OpAdamWParams *adam, float *ret_loss, float *ret_grads);
/* Forward only: batch × cnn_feature_dim() features (mean then max per image)
 * and/or batch logits; either may be NULL. */
int cnn_net_forward(CnnNet *n, const uint8_t *rgb, uint32_t batch, const CnnWindow *w, float *ret_features,
                    float *ret_logits);
