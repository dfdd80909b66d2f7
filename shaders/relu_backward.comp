// SPDX-License-Identifier: MIT
// dx = dy · act'(y) over n floats, from the forward output y (or its input x:
// for ReLU and ReLU6 both give the same mask). The gradient is 0 at the kinks.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;

layout(std430, set = 0, binding = 0) readonly buffer Y { float y[]; };
layout(std430, set = 0, binding = 1) readonly buffer DY { float dy[]; };
layout(std430, set = 0, binding = 2) writeonly buffer DX { float dx[]; };

layout(push_constant) uniform Push {
        uint n;
        uint act;
} p;

void main()
{
        uint i = FLAT_INDEX();
        if (i >= p.n)
                return;
        dx[i] = activate_grad(y[i], dy[i], p.act);
}
