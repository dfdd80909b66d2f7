// SPDX-License-Identifier: MIT
// Global average or max pooling over the spatial axes of an NHWC tensor:
// x [n][hw][c] → y [n][c], and for max the index (0 … hw-1) of the maximum,
// which the backward pass routes the gradient to. Ties go to the first
// maximum; a NaN beats any number (the first NaN wins), so NaN propagates.
// Lanes run along channels: contiguous loads.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0, local_size_y_id = 1) in;

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Arg { uint argmax[]; };

layout(push_constant) uniform Push {
        uint n, hw, c, mode; // mode 0: average, 1: max
} p;

void main()
{
        const uint ch = gl_GlobalInvocationID.x;
        const uint b = gl_GlobalInvocationID.y;

        if (ch >= p.c || b >= p.n)
                return;

        const uint base = b * p.hw * p.c + ch;
        if (p.mode == 0u) {
                // Four partial sums: shorter dependency chains, less rounding drift.
                vec4 s = vec4(0.0);
                uint i = 0;
                for (; i + 4u <= p.hw; i += 4u)
                        s += vec4(x[base + i * p.c], x[base + (i + 1u) * p.c], x[base + (i + 2u) * p.c],
                                  x[base + (i + 3u) * p.c]);
                for (; i < p.hw; i++)
                        s.x += x[base + i * p.c];
                y[b * p.c + ch] = (s.x + s.y + (s.z + s.w)) / float(p.hw);
                return;
        }

        float m = x[base];
        uint at = 0;
        for (uint i = 1; i < p.hw; i++) {
                const float v = x[base + i * p.c];
                if (!isnan(m) && (v > m || isnan(v))) {
                        m = v;
                        at = i;
                }
        }
        y[b * p.c + ch] = m;
        argmax[b * p.c + ch] = at;
}
