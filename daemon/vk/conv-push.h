/* SPDX-License-Identifier: MIT */
#pragma once

/* The push-constant block of shaders/conv.glsl, shared by the conv2d and
 * depthwise shaders. */

#include <stdint.h>
#include <string.h>

#include "conv-shape.h"
#include "vk.h"

/* Division by an invariant divisor as a multiply-high and shifts (Granlund &
 * Montgomery; Hacker's Delight 10-8): x86 has no SIMD integer division, so
 * lavapipe splits every vector division into eight scalar ones — measured as
 * the largest cost in the backward kernels. Exact for every 32-bit dividend. */
typedef struct ConvDiv {
        uint32_t magic;
        uint32_t shifts; /* first shift (0 or 1) | second shift << 8 */
} ConvDiv;

static inline ConvDiv conv_div(uint32_t d)
{
        uint32_t l = 0;

        if (d == 0)
                d = 1; /* never divided by; keeps the arithmetic defined */
        while (l < 32 && (UINT64_C(1) << l) < d)
                l++;
        return (ConvDiv){
                .magic = (uint32_t)((((UINT64_C(1) << 32) * ((UINT64_C(1) << l) - d)) / d) + 1),
                .shifts = (l ? 1u : 0u) | (l ? l - 1 : 0u) << 8,
        };
}

/* What the shader computes, for the host's own checks. */
static inline uint32_t conv_div_apply(uint32_t q, ConvDiv d)
{
        uint32_t hi = (uint32_t)(((uint64_t)q * d.magic) >> 32);

        return (hi + ((q - hi) >> (d.shifts & 0xff))) >> (d.shifts >> 8);
}

typedef struct ConvPush {
        uint32_t n, h, w, c;
        uint32_t oh, ow, k, kh;
        uint32_t kw, sh, sw, pt;
        uint32_t pl, act, flags, aux;
        ConvDiv div_w, div_h, div_ow, div_oh;
        ConvDiv div_a, div_b; /* per shader (depthwise forward: strips and bands of a tile grid) */
} ConvPush;
_Static_assert(sizeof(ConvPush) == 112, "must match shaders/conv.glsl");

#define CONV_PUSH_HAS_BIAS 1u
/* aux of conv2d_bwd_weight: compute only the bias row (the weights came from a GEMM). */
#define CONV_PUSH_BIAS_ONLY 1u

static inline ConvPush conv_push(const ConvShape *s, uint32_t oh, uint32_t ow, uint32_t act, bool bias)
{
        return (ConvPush){
                .n = s->n,
                .h = s->h,
                .w = s->w,
                .c = s->c,
                .oh = oh,
                .ow = ow,
                .k = s->k,
                .kh = s->kh,
                .kw = s->kw,
                .sh = s->stride_h,
                .sw = s->stride_w,
                .pt = s->pad_top,
                .pl = s->pad_left,
                .act = act,
                .flags = bias ? CONV_PUSH_HAS_BIAS : 0,
                .div_w = conv_div(s->w),
                .div_h = conv_div(s->h),
                .div_ow = conv_div(ow),
                .div_oh = conv_div(oh),
                .div_a = conv_div(1),
                .div_b = conv_div(1),
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

/* Records k with push block p over groups_x × rows workgroups, the rows laid
 * out by conv_groups_yz(). */
static inline int conv_dispatch(VkRecorder *r, VkKernel *k, VkTensor *const *tensors, const ConvPush *p,
                                uint32_t groups_x, uint64_t rows)
{
        uint32_t gy, gz;

        conv_groups_yz(rows, &gy, &gz);
        return vk_recorder_dispatch(r, k, tensors, p, groups_x, gy, gz);
}

/* The conv family's kernels differ only in shader, bindings and specialization
 * constants: all take ConvPush and read their inputs through texel buffers. */
typedef struct ConvKernelInfo {
        const char *shader;
        uint32_t n_bindings;
        uint32_t write_mask;  /* bindings written (storage buffers) */
        uint32_t texel_mask;  /* bindings read as R32F texel buffers */
        uint32_t texel4_mask; /* of those, viewed as RGBA32F */
        bool full_subgroups;
} ConvKernelInfo;

static inline int conv_kernel_get(VkEngine *e, const ConvKernelInfo *ci, const uint32_t *spec,
                                  uint32_t n_spec, VkKernel **ret)
{
        VkKernelInfo info = {
                .shader = ci->shader,
                .n_bindings = ci->n_bindings,
                .write_mask = ci->write_mask,
                .texel_mask = ci->texel_mask,
                .texel4_mask = ci->texel4_mask,
                .push_size = sizeof(ConvPush),
                .n_spec = n_spec,
                .full_subgroups = ci->full_subgroups,
        };

        if (n_spec > VK_KERNEL_MAX_SPEC)
                return -EINVAL;
        memcpy(info.spec, spec, n_spec * sizeof(uint32_t));
        return vk_kernel_get(e, &info, ret);
}

/* A caller's tile overrides (zero: keep the device's default) of a forward
 * kernel's workgroup lanes and its a × b outputs per invocation; -EINVAL past
 * 256 lanes or 128 outputs (registers). */
static inline int conv_tiles_override(uint32_t *lanes, uint32_t *a, uint32_t *b, uint32_t new_lanes,
                                      uint32_t new_a, uint32_t new_b)
{
        *lanes = new_lanes ?: *lanes;
        *a = new_a ?: *a;
        *b = new_b ?: *b;
        return *lanes > 256 || *a * *b > 128 ? -EINVAL : 0;
}
