/* SPDX-License-Identifier: MIT */
#pragma once

/* Shapes of 2-D convolutions as the conv ops, their references and the
 * MobileNetV2 graph see them. Layout is NHWC for activations: channels are the
 * fastest axis, so neighbouring invocations (channels) read neighbouring floats,
 * depthwise and pointwise layers need no transposes, and TensorFlow.js weights
 * (nsfwjs) keep their own order. Weights are HWIO ([kh][kw][c][k], output
 * channel fastest) for dense convolutions and [kh][kw][c] for depthwise ones. */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct ConvShape {
        uint32_t n, h, w, c; /* input: batch, height, width, channels */
        uint32_t k;          /* output channels (== c for depthwise) */
        uint32_t kh, kw;     /* kernel size */
        uint32_t stride_h, stride_w;
        uint32_t pad_top, pad_left, pad_bottom, pad_right; /* explicit: TF "same" is asymmetric */
} ConvShape;

/* Every count a conv op multiplies stays far below 2^32 elements per tensor, so
 * shaders can index with 32-bit integers. */
#define CONV_MAX_ELEMENTS (UINT32_C(1) << 31)

/* Output height and width of shape s; -EINVAL for a shape no kernel can run
 * (a zero dimension, a kernel larger than the padded input, a pad as large as
 * the kernel, a tensor over CONV_MAX_ELEMENTS). */
static inline int conv_shape_out(const ConvShape *s, uint32_t *ret_oh, uint32_t *ret_ow)
{
        uint64_t ph, pw, oh, ow;

        if (!s || s->n == 0 || s->h == 0 || s->w == 0 || s->c == 0 || s->k == 0 || s->kh == 0 || s->kw == 0 ||
            s->stride_h == 0 || s->stride_w == 0)
                return -EINVAL;
        /* A pad of a whole kernel would give outputs that see only padding. */
        if (s->pad_top >= s->kh || s->pad_bottom >= s->kh || s->pad_left >= s->kw || s->pad_right >= s->kw)
                return -EINVAL;
        ph = (uint64_t)s->h + s->pad_top + s->pad_bottom;
        pw = (uint64_t)s->w + s->pad_left + s->pad_right;
        if (ph < s->kh || pw < s->kw)
                return -EINVAL;
        oh = (ph - s->kh) / s->stride_h + 1;
        ow = (pw - s->kw) / s->stride_w + 1;
        if ((uint64_t)s->n * s->h * s->w * s->c > CONV_MAX_ELEMENTS ||
            (uint64_t)s->n * oh * ow * s->k > CONV_MAX_ELEMENTS ||
            (uint64_t)s->kh * s->kw * s->c * s->k > CONV_MAX_ELEMENTS)
                return -EINVAL;
        if (ret_oh)
                *ret_oh = (uint32_t)oh;
        if (ret_ow)
                *ret_ow = (uint32_t)ow;
        return 0;
}

/* TensorFlow "same" padding along one axis: output ceil(size / stride), the odd
 * pixel of padding goes after (bottom/right), as in MobileNetV2's stride-2 layers. */
static inline void conv_pad_same(uint32_t size, uint32_t kernel, uint32_t stride, uint32_t *ret_before,
                                 uint32_t *ret_after)
{
        uint32_t out = (size + stride - 1) / stride;
        int64_t total = (int64_t)(out - 1) * stride + kernel - size;

        if (total < 0)
                total = 0;
        *ret_before = (uint32_t)(total / 2);
        *ret_after = (uint32_t)(total - total / 2);
}

static inline bool conv_shape_is_pointwise(const ConvShape *s)
{
        return s->kh == 1 && s->kw == 1 && s->stride_h == 1 && s->stride_w == 1 && s->pad_top == 0 &&
               s->pad_left == 0 && s->pad_bottom == 0 && s->pad_right == 0;
}
