// SPDX-License-Identifier: MIT
// c = a + b over n floats: the smallest real kernel, used by `fluffd --self-test`.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;

layout(std430, set = 0, binding = 0) readonly buffer A { float a[]; };
layout(std430, set = 0, binding = 1) readonly buffer B { float b[]; };
layout(std430, set = 0, binding = 2) writeonly buffer C { float c[]; };

layout(push_constant) uniform Push {
        uint n;
} p;

void main()
{
        uint i = gl_GlobalInvocationID.x;
        if (i >= p.n)
                return;
        c[i] = a[i] + b[i];
}
