// SPDX-License-Identifier: MIT
// c = alpha·a + beta·b over n floats; with in_place, c = alpha·a + beta·c
// (gradient accumulation without aliasing a read-only binding). beta = 0 never
// reads b or c, so scaling works on uninitialised outputs.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;

layout(std430, set = 0, binding = 0) readonly buffer A { float a[]; };
layout(std430, set = 0, binding = 1) readonly buffer B { float b[]; };
layout(std430, set = 0, binding = 2) buffer C { float c[]; };

layout(push_constant) uniform Push {
        uint n;
        float alpha;
        float beta;
        uint in_place;
} p;

void main()
{
        uint i = FLAT_INDEX();
        if (i >= p.n)
                return;
        float v = p.alpha * a[i];
        if (p.beta != 0.0)
                v += p.beta * (p.in_place != 0u ? c[i] : b[i]);
        c[i] = v;
}
