/* SPDX-License-Identifier: MIT */
#pragma once

/* The push-constant block of shaders/conv.glsl, shared by the conv2d and
 * depthwise shaders. */

#include <stdint.h>

#include "conv-shape.h"

typedef struct ConvPush {
        uint32_t n, h, w, c;
        uint32_t oh, ow, k, kh;
        uint32_t kw, sh, sw, pt;
        uint32_t pl, act, flags, aux;
} ConvPush;
_Static_assert(sizeof(ConvPush) == 64, "must match shaders/conv.glsl");

#define CONV_PUSH_HAS_BIAS 1u
/* aux of conv2d_bwd_weight: compute only the bias row (the weights came from a GEMM). */
#define CONV_PUSH_BIAS_ONLY 1u

static inline ConvPush conv_push(const ConvShape *s, uint32_t oh, uint32_t ow, uint32_t act, bool bias)
{
        return (ConvPush){
                .n = s->n, .h = s->h, .w = s->w, .c = s->c,
                .oh = oh, .ow = ow, .k = s->k, .kh = s->kh,
                .kw = s->kw, .sh = s->stride_h, .sw = s->stride_w, .pt = s->pad_top,
                .pl = s->pad_left, .act = act, .flags = bias ? CONV_PUSH_HAS_BIAS : 0,
        };
}

/* Workgroup rows as y × z counts (y ≤ 65535, the smallest limit Vulkan
 * guarantees); shaders take the row as WorkGroupID.z · NumWorkGroups.y + WorkGroupID.y
 * (CONV_GROUP_ROW in shaders/conv.glsl) and clamp past the end. */
static inline void conv_groups_yz(uint64_t rows, uint32_t *ret_y, uint32_t *ret_z)
{
        uint64_t y = rows < 65535 ? rows : 65535;

        *ret_y = (uint32_t)(y ? y : 1);
        *ret_z = (uint32_t)((rows + *ret_y - 1) / *ret_y);
}

static inline uint32_t conv_div_up(uint64_t a, uint64_t b)
{
        uint64_t q = (a + b - 1) / b;
        return q > UINT32_MAX ? UINT32_MAX : (uint32_t)q;
}
