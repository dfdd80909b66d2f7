// SPDX-License-Identifier: MIT
// Packs op(B) (k×n; B stored k×n, or n×k with TRANS_B) into panels of W
// columns, Bp[panel][kk][W], for gemm.comp's PACKED_B: a workgroup of the GEMM
// then reads one contiguous stream instead of k rows n floats apart. With n a
// multiple of 1024 those rows all fall in the same cache sets, and the loads
// of the unpacked kernel miss to L3 (measured with perf on lavapipe, N=1024).
// Columns past n are zero. One invocation per 4 packed columns: x over the
// padded columns, y over k, so no per-lane division but by the constant W.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint W = 64;
layout(constant_id = 2) const bool TRANS_B = false;

layout(set = 0, binding = 0) uniform samplerBuffer b_tex;
layout(std430, set = 0, binding = 1) writeonly buffer Bp { vec4 bp[]; };

layout(push_constant) uniform Push {
        uint n, k, n_pad;
} p;

// Each invocation writes 4 adjacent columns as one vec4: lavapipe stores to a
// storage buffer lane by lane in a loop, one loop per store.
void main()
{
        uint col = gl_GlobalInvocationID.x * 4u, kk = gl_GlobalInvocationID.y;
        if (col >= p.n_pad || kk >= p.k)
                return;
        vec4 v;
        for (uint e = 0; e < 4u; e++) {
                uint c = min(col + e, p.n - 1u);
                float x = texelFetch(b_tex, int(TRANS_B ? c * p.k + kk : kk * p.n + c)).x;
                v[e] = col + e < p.n ? x : 0.0;
        }
        bp[(((col / W) * p.k + kk) * W + col % W) / 4u] = v;
}
