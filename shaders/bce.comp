// SPDX-License-Identifier: MIT
// Binary cross-entropy with logits, per element of a rows×classes matrix:
//   loss = w_c · (pw_c · y · softplus(-x) + (1 - y) · softplus(x))
// which is -w_c·(pw_c·y·log σ(x) + (1-y)·log(1-σ(x))) without overflow for any
// finite x. pw_c (pos_weight) balances the classes; w_c weights them.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer Y { float y[]; };
layout(std430, set = 0, binding = 2) readonly buffer PW { float pos_weight[]; };
layout(std430, set = 0, binding = 3) readonly buffer W { float weight[]; };
layout(std430, set = 0, binding = 4) writeonly buffer L { float loss[]; };

layout(push_constant) uniform Push {
        uint n, classes;
        uint has_pos_weight, has_weight;
} p;

float softplus(float v)
{
        return max(v, 0.0) + log(1.0 + exp(-abs(v)));
}

void main()
{
        uint i = FLAT_INDEX();
        if (i >= p.n)
                return;
        uint c = i % p.classes;
        float xv = x[i], yv = y[i];
        float pw = p.has_pos_weight != 0u ? pos_weight[c] : 1.0;
        float w = p.has_weight != 0u ? weight[c] : 1.0;
        loss[i] = w * (pw * yv * softplus(-xv) + (1.0 - yv) * softplus(xv));
}
