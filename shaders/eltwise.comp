// SPDX-License-Identifier: MIT
// c = alpha·a + beta·b over n floats; with in_place, c = alpha·a + beta·c
// (gradient accumulation without aliasing a read-only binding). beta = 0 never
// reads b or c, so scaling works on uninitialised outputs.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;
// 4 floats per invocation (n % 4 == 0, 16-byte aligned tensors): lavapipe
// loads and stores a storage buffer lane by lane, one loop per access, so a
// vec4 access costs about what a float one does (residual adds: ~3× faster).
layout(constant_id = 1) const bool VEC4 = false;

layout(std430, set = 0, binding = 0) readonly buffer A { float a[]; };
layout(std430, set = 0, binding = 1) readonly buffer B { float b[]; };
layout(std430, set = 0, binding = 2) buffer C { float c[]; };
layout(std430, set = 0, binding = 0) readonly buffer A4 { vec4 a4[]; };
layout(std430, set = 0, binding = 1) readonly buffer B4 { vec4 b4[]; };
layout(std430, set = 0, binding = 2) buffer C4 { vec4 c4[]; };

layout(push_constant) uniform Push {
        uint n;
        float alpha;
        float beta;
        uint in_place;
} p;

void main()
{
        uint i = FLAT_INDEX();
        if (VEC4) {
                if (i >= p.n / 4u)
                        return;
                vec4 v = p.alpha * a4[i];
                if (p.beta != 0.0)
                        v += p.beta * (p.in_place != 0u ? c4[i] : b4[i]);
                c4[i] = v;
                return;
        }
        if (i >= p.n)
                return;
        float v = p.alpha * a[i];
        if (p.beta != 0.0)
                v += p.beta * (p.in_place != 0u ? c[i] : b[i]);
        c[i] = v;
}
