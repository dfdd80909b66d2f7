// SPDX-License-Identifier: MIT
// Backward of global pooling: dx [n][hw][c] from dy [n][c]. Average spreads
// dy/hw over every position; max gives dy to the recorded argmax and 0
// elsewhere. One invocation per dx element, so dx needs no zero fill.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0, local_size_y_id = 1) in;

layout(std430, set = 0, binding = 0) readonly buffer DY { float dy[]; };
layout(std430, set = 0, binding = 1) readonly buffer Arg { uint argmax[]; };
layout(std430, set = 0, binding = 2) writeonly buffer DX { float dx[]; };

layout(push_constant) uniform Push {
        uint n, hw, c, mode; // mode 0: average, 1: max
} p;

void main()
{
        const uint ch = gl_GlobalInvocationID.x;
        const uint row = gl_GlobalInvocationID.y; // b * hw + i

        if (ch >= p.c || row >= p.n * p.hw)
                return;

        const uint b = row / p.hw, i = row - b * p.hw, o = b * p.c + ch;
        float g;
        if (p.mode == 0u)
                g = dy[o] / float(p.hw);
        else
                g = argmax[o] == i ? dy[o] : 0.0;
        dx[row * p.c + ch] = g;
}
