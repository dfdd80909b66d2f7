// SPDX-License-Identifier: MIT
// y = act(x) over n floats (ReLU or ReLU6; NaN stays NaN as in PyTorch).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Push {
        uint n;
        uint act;
} p;

void main()
{
        uint i = FLAT_INDEX();
        if (i >= p.n)
                return;
        y[i] = activate(x[i], p.act);
}
