// SPDX-License-Identifier: MIT
// Global average or max pooling over the spatial axes of an NHWC tensor:
// x [n][hw][c] → y [n][c], and for max the index (0 … hw-1) of the maximum,
// which the backward pass routes the gradient to. Ties go to the first
// maximum; a NaN beats any number (the first NaN wins), so NaN propagates.
// Lanes run along channels; x is read through a texel buffer and the mode is
// a specialization constant, so no load sits under a branch (lavapipe,
// perf-notes.md).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0, local_size_y_id = 1) in;
layout(constant_id = 2) const uint MODE = 0; // 0: average, 1: max

layout(set = 0, binding = 0) uniform samplerBuffer x_tex;
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Arg { uint argmax[]; };

layout(push_constant) uniform Push {
        uint n, hw, c, mode; // mode: as MODE (checked by the host)
} p;

#define X(i) texelFetch(x_tex, int(i)).x

void main()
{
        const uint ch_raw = gl_GlobalInvocationID.x, b_raw = gl_GlobalInvocationID.y;
        const uint ch = min(ch_raw, p.c - 1u), b = min(b_raw, p.n - 1u);
        const bool store = ch_raw == ch && b_raw == b;

        const uint base = b * p.hw * p.c + ch;
        if (MODE == 0u) {
                // Four partial sums: shorter dependency chains, less rounding drift.
                vec4 s = vec4(0.0);
                uint i = 0;
                for (; i + 4u <= p.hw; i += 4u)
                        s += vec4(X(base + i * p.c), X(base + (i + 1u) * p.c), X(base + (i + 2u) * p.c),
                                  X(base + (i + 3u) * p.c));
                for (; i < p.hw; i++)
                        s.x += X(base + i * p.c);
                if (store)
                        y[b * p.c + ch] = (s.x + s.y + (s.z + s.w)) / float(p.hw);
                return;
        }

        float m = X(base);
        uint at = 0;
        for (uint i = 1; i < p.hw; i++) {
                const float v = X(base + i * p.c);
                if (!isnan(m) && (v > m || isnan(v))) {
                        m = v;
                        at = i;
                }
        }
        if (store) {
                y[b * p.c + ch] = m;
                argmax[b * p.c + ch] = at;
        }
}
