// SPDX-License-Identifier: MIT
// One AdamW step over n parameters, as torch.optim.AdamW:
//   p ← p·(1 - lr·wd);  m ← β1·m + (1-β1)·g;  v ← β2·v + (1-β2)·g²
//   p ← p - lr · (m / bc1) / (sqrt(v / bc2) + eps),  bc = 1 - β^t (from the host)
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;

layout(std430, set = 0, binding = 0) readonly buffer G { float g[]; };
layout(std430, set = 0, binding = 1) buffer P { float param[]; };
layout(std430, set = 0, binding = 2) buffer M { float m[]; };
layout(std430, set = 0, binding = 3) buffer V { float v[]; };

layout(push_constant) uniform Push {
        uint n;
        float lr, beta1, beta2, eps, weight_decay;
        float bc1, bc2;
} p;

void main()
{
        uint i = FLAT_INDEX();
        if (i >= p.n)
                return;
        float gi = g[i];
        float mi = p.beta1 * m[i] + (1.0 - p.beta1) * gi;
        float vi = p.beta2 * v[i] + (1.0 - p.beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        float pi = param[i] * (1.0 - p.lr * p.weight_decay);
        param[i] = pi - p.lr * (mi / p.bc1) / (sqrt(vi / p.bc2) + p.eps);
}
