/* SPDX-License-Identifier: MIT */
#pragma once

/* Depthwise 3×3 convolution (MobileNetV2's), NHWC activations, weights
 * [3][3][c] (TF.js depthwise order without its multiplier axis), stride 1 or 2
 * on both axes, explicit padding (conv-shape.h; s->k must equal s->c):
 * forward with fused bias and activation, and both backward passes.
 * Other kernel sizes or strides: -EOPNOTSUPP; tensors not matching the
 * shape: -EINVAL. */

#include "conv-shape.h"
#include "vk.h"

typedef struct OpDwconv OpDwconv;

/* Tiles of the forward kernel: a workgroup of `lanes` invocations along
 * channels, each walking a band of `rows` output rows down, `cols` outputs of
 * one channel a row, or of 4 adjacent channels where c % 4 == 0 (then the
 * same tile for both). Zero fields take the device's defaults. */
typedef struct OpDwconvTiles {
        uint32_t lanes, rows, cols;
        bool scalar; /* one channel per lane even where 4 would fit (c % 4 == 0): tests, benchmarks */
} OpDwconvTiles;

int op_dwconv_new(VkEngine *e, OpDwconv **ret);
/* With explicit tiles (benchmarks and tuning); -EINVAL for tiles out of range
 * (lanes 1…256, cols 1…128; the rows cost no registers). */
int op_dwconv_new_tiled(VkEngine *e, const OpDwconvTiles *tiles, OpDwconv **ret);
OpDwconv *op_dwconv_free(OpDwconv *op);
DEFINE_TRIVIAL_CLEANUP_FUNC(OpDwconv *, op_dwconv_free);

/* y = act(dwconv(x, w) + b); b may be NULL. */
int op_dwconv_record(OpDwconv *op, VkRecorder *r, const ConvShape *s, VkActivation act, VkTensor *x,
                     VkTensor *w, VkTensor *b, VkTensor *y);
/* dx = ∂(Σ y·dy)/∂x, overwriting dx. */
int op_dwconv_record_bwd_data(OpDwconv *op, VkRecorder *r, const ConvShape *s, VkTensor *dy, VkTensor *w,
                              VkTensor *dx);
/* dw (and db unless NULL), overwriting them. */
int op_dwconv_record_bwd_weight(OpDwconv *op, VkRecorder *r, const ConvShape *s, VkTensor *x, VkTensor *dy,
                                VkTensor *dw, VkTensor *db);
