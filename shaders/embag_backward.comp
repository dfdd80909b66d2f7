// SPDX-License-Identifier: MIT
// Embedding bag (mean) backward, deterministic and without atomics: the host
// transposes the bags (op_embag_transpose) so each table row lists the bags
// it appears in (rev_offsets/rev_bags, CSR by row, bags ascending) with the
// weight 1/|bag|. One invocation per table element sums its own list in a
// fixed order: dtable[v][d] = Σ w·dout[bag][d] (+ dtable when accumulate).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;

layout(std430, set = 0, binding = 0) readonly buffer DOut { float dout[]; };
layout(std430, set = 0, binding = 1) readonly buffer RevOffsets { uint rev_offsets[]; };
layout(std430, set = 0, binding = 2) readonly buffer RevBags { uint rev_bags[]; };
layout(std430, set = 0, binding = 3) readonly buffer RevWeights { float rev_weights[]; };
layout(std430, set = 0, binding = 4) buffer DTable { float dtable[]; };

layout(push_constant) uniform Push {
        uint vocab, dim, bags, nnz;
        uint accumulate;
} p;

void main()
{
        uint i = FLAT_INDEX();
        if (i >= p.vocab * p.dim)
                return;
        uint v = i / p.dim, d = i % p.dim;
        uint start = min(rev_offsets[v], p.nnz), end = min(rev_offsets[v + 1u], p.nnz);
        float s = p.accumulate != 0u ? dtable[i] : 0.0;
        for (uint j = start; j < end; j++) {
                uint b = rev_bags[j];
                if (b < p.bags)
                        s += rev_weights[j] * dout[b * p.dim + d];
        }
        dtable[i] = s;
}
