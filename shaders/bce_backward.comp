// SPDX-License-Identifier: MIT
// d loss / d x for bce.comp, times scale (e.g. 1/n for a mean loss):
//   dx = scale · w_c · ((pw_c·y + 1 - y)·σ(x) - pw_c·y)
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer Y { float y[]; };
layout(std430, set = 0, binding = 2) readonly buffer PW { float pos_weight[]; };
layout(std430, set = 0, binding = 3) readonly buffer W { float weight[]; };
layout(std430, set = 0, binding = 4) writeonly buffer DX { float dx[]; };

layout(push_constant) uniform Push {
        uint n, classes;
        uint has_pos_weight, has_weight;
        float scale;
} p;

void main()
{
        uint i = FLAT_INDEX();
        if (i >= p.n)
                return;
        uint c = i % p.classes;
        float xv = x[i], yv = y[i];
        float pw = p.has_pos_weight != 0u ? pos_weight[c] : 1.0;
        float w = p.has_weight != 0u ? weight[c] : 1.0;
        // σ(x) without overflow: exp of a non-positive number only.
        float e = exp(-abs(xv));
        float s = xv >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
        dx[i] = p.scale * w * ((pw * yv + 1.0 - yv) * s - pw * yv);
}
