// SPDX-License-Identifier: MIT
// Embedding bag, mean: out[b][d] = mean over the bag's valid indices i of
// table[i][d]. Bags are CSR: bag b holds indices[offsets[b] … offsets[b+1]).
// Indices ≥ vocab are skipped (and not counted); an empty bag gives zeros;
// offsets are clamped to nnz so a bad list cannot read out of bounds.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;

layout(std430, set = 0, binding = 0) readonly buffer Table { float table[]; };
layout(std430, set = 0, binding = 1) readonly buffer Indices { uint indices[]; };
layout(std430, set = 0, binding = 2) readonly buffer Offsets { uint offsets[]; };
layout(std430, set = 0, binding = 3) writeonly buffer Out { float outv[]; };

layout(push_constant) uniform Push {
        uint vocab, dim, bags, nnz;
} p;

void main()
{
        uint i = FLAT_INDEX();
        if (i >= p.bags * p.dim)
                return;
        uint b = i / p.dim, d = i % p.dim;
        uint start = min(offsets[b], p.nnz), end = min(offsets[b + 1u], p.nnz);
        float s = 0.0;
        uint count = 0u;
        for (uint j = start; j < end; j++) {
                uint v = indices[j];
                if (v >= p.vocab)
                        continue;
                s += table[v * p.dim + d];
                count++;
        }
        outv[i] = count > 0u ? s / float(count) : 0.0;
}
