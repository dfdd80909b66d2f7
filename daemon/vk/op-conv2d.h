/* SPDX-License-Identifier: MIT */
#pragma once

/* Dense 2-D convolution, NHWC activations and HWIO weights (conv-shape.h):
 * forward with fused bias and activation, and the two backward passes.
 *
 * 1×1 stride-1 unpadded convolutions (MobileNetV2's pointwise layers, most of
 * its FLOPs) are plain GEMMs in NHWC — [n·h·w, c] × [c, k] — and go to the
 * engine's GEMM; everything else runs shaders/conv2d*.comp directly.
 *
 * Tensors are checked against the shape (F32, at least as many elements as
 * the shape needs; more are left alone): -EINVAL, never
 * an out-of-bounds dispatch. Gradients are those of the convolution itself:
 * put the activation's backward (op_act_bwd) in front of them. */

#include "conv-shape.h"
#include "vk.h"

typedef struct OpConv2d OpConv2d;

/* Tiles of the direct forward kernel: a workgroup of `lanes` invocations along
 * output channels, each owning `pixels` output pixels × `channels` output
 * channels. Zero fields take the device's defaults. */
typedef struct OpConv2dTiles {
        uint32_t lanes, pixels, channels;
} OpConv2dTiles;

int op_conv2d_new(VkEngine *e, OpConv2d **ret);
/* With explicit tiles (benchmarks and tuning); -EINVAL for tiles out of range
 * (lanes 1…256, pixels·channels 1…128). */
int op_conv2d_new_tiled(VkEngine *e, const OpConv2dTiles *tiles, OpConv2d **ret);
OpConv2d *op_conv2d_free(OpConv2d *op);
DEFINE_TRIVIAL_CLEANUP_FUNC(OpConv2d *, op_conv2d_free);

/* Whether shape s runs as a GEMM (pointwise and the device has the GEMM kernel). */
bool op_conv2d_is_gemm(const OpConv2d *op, const ConvShape *s);

/* y = act(conv(x, w) + b); b may be NULL. */
int op_conv2d_record(OpConv2d *op, VkRecorder *r, const ConvShape *s, VkActivation act, VkTensor *x,
                     VkTensor *w, VkTensor *b, VkTensor *y);
/* dx = ∂(Σ y·dy)/∂x, overwriting dx. */
int op_conv2d_record_bwd_data(OpConv2d *op, VkRecorder *r, const ConvShape *s, VkTensor *dy, VkTensor *w,
                              VkTensor *dx);
/* dw (and db unless NULL) = ∂(Σ y·dy)/∂w, ∂/∂b, overwriting them. */
int op_conv2d_record_bwd_weight(OpConv2d *op, VkRecorder *r, const ConvShape *s, VkTensor *x, VkTensor *dy,
                                VkTensor *dw, VkTensor *db);
