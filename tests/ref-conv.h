/* SPDX-License-Identifier: MIT */
#pragma once

/* Plain C references for the convolution-family ops: what every conv kernel is
 * checked against, and what the backbone's reference checks can reuse. Loops
 * as written in a textbook, accumulation in double. Layouts as in
 * daemon/vk/conv-shape.h: NHWC activations, HWIO dense weights, [kh][kw][c]
 * depthwise weights. A NULL bias means none. */

#include <stddef.h>
#include <stdint.h>

#include "conv-shape.h"
#include "vk.h"
#include "pool-shape.h"
#include "preprocess-shape.h"

/* Σ a[i]·b[i] in double: the loss Σ y·g whose gradient the backward kernels give. */
double ref_dot(const float *a, const float *b, size_t n);

float ref_act(VkActivation act, float v);
/* dx = dy where act'(y) is 1, else 0; y is the activation's output. */
void ref_act_bwd(VkActivation act, size_t n, const float *y, const float *dy, float *dx);

void ref_conv2d_fwd(const ConvShape *s, VkActivation act, const float *x, const float *w, const float *b, float *y);
void ref_conv2d_bwd_data(const ConvShape *s, const float *dy, const float *w, float *dx);
/* db may be NULL. */
void ref_conv2d_bwd_weight(const ConvShape *s, const float *x, const float *dy, float *dw, float *db);

void ref_dwconv_fwd(const ConvShape *s, VkActivation act, const float *x, const float *w, const float *b, float *y);
void ref_dwconv_bwd_data(const ConvShape *s, const float *dy, const float *w, float *dx);
void ref_dwconv_bwd_weight(const ConvShape *s, const float *x, const float *dy, float *dw, float *db);

/* x is [n][hw][c]; y and argmax are [n][c]; argmax only for POOL_MAX (may be NULL). */
void ref_gpool_fwd(PoolMode mode, uint32_t n, uint32_t hw, uint32_t c, const float *x, float *y, uint32_t *argmax);
void ref_gpool_bwd(PoolMode mode, uint32_t n, uint32_t hw, uint32_t c, const float *dy, const uint32_t *argmax,
                   float *dx);

/* src: n packed uint8 RGB images, HWC; dst: floats as p->flags says. */
void ref_preprocess(const PreprocShape *p, const uint8_t *src, float *dst);
