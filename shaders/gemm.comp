// SPDX-License-Identifier: MIT
// C[M×N] = act(op(A)·op(B) + bias (+ C when accumulate)), op = optional transpose.
//
// Shaped for SIMD-on-CPU drivers first (lavapipe: a subgroup is one 8-wide
// vector; a storage-buffer load whose address differs per lane is a branchy
// per-lane loop, a texel-buffer fetch is a vector gather, and an FMA is cheap).
// So A and B are read through texel buffers, and one workgroup is one subgroup
// of SG lanes computing RM rows × SG·TNL columns of C: each lane owns TNL
// columns, each B fetch feeds RM FMAs, and A is fetched once per SG k-steps
// (lane l loads k0 + l) and handed to every lane with subgroupBroadcast. With
// VEC4_B one RGBA32F fetch brings a lane 4 adjacent columns. No shared memory
// and no barrier(); indices are clamped and only the stores are guarded, so
// control flow stays uniform; [[unroll]] keeps the accumulators in registers
// (without it they went to memory: ~1.7× slower). A GPU gets other tile sizes
// through the same specialization constants.
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_ballot : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"

layout(local_size_x_id = 0) in;                 // SG: lanes = subgroup size
layout(constant_id = 1) const uint RM = 16;     // rows per workgroup
layout(constant_id = 2) const uint TNL = 4;     // columns per lane
layout(constant_id = 3) const bool TRANS_A = false;
layout(constant_id = 4) const bool TRANS_B = false;
// B bound as an RGBA32F view: one fetch brings a lane 4 adjacent columns (a
// quarter of the gathers). Needs !TRANS_B, n % 4 == 0 and TNL % 4 == 0.
layout(constant_id = 5) const bool VEC4_B = false;

layout(set = 0, binding = 0) uniform samplerBuffer a_tex;
layout(set = 0, binding = 1) uniform samplerBuffer b_tex;
layout(std430, set = 0, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, set = 0, binding = 3) buffer C { float c[]; };

layout(push_constant) uniform Push {
        uint m, n, k;
        uint has_bias;
        uint act;
        uint accumulate;
} p;

const uint SG = gl_WorkGroupSize.x;

float load_a(uint row, uint kk)
{
        return texelFetch(a_tex, int(TRANS_A ? kk * p.m + row : row * p.k + kk)).x;
}

float load_b(uint kk, uint col)
{
        return texelFetch(b_tex, int(TRANS_B ? col * p.k + kk : kk * p.n + col)).x;
}

// Lane l's j-th column: interleaved by lane (each gather is SG adjacent
// floats), or in groups of 4 per lane with VEC4_B.
uint column(uint j)
{
        uint base = gl_WorkGroupID.x * SG * TNL;
        if (VEC4_B)
                return base + (j / 4u) * SG * 4u + gl_SubgroupInvocationID * 4u + j % 4u;
        return base + j * SG + gl_SubgroupInvocationID;
}

void load_b_row(uint kk, uint cols[TNL], out float bv[TNL])
{
        if (VEC4_B) {
                [[unroll]] for (uint q = 0; q < TNL / 4u; q++) {
                        vec4 v = texelFetch(b_tex, int((kk * p.n + cols[4u * q]) / 4u));
                        bv[4u * q] = v.x;
                        bv[4u * q + 1u] = v.y;
                        bv[4u * q + 2u] = v.z;
                        bv[4u * q + 3u] = v.w;
                }
                return;
        }
        [[unroll]] for (uint j = 0; j < TNL; j++)
                bv[j] = load_b(kk, cols[j]);
}

void main()
{
        uint lane = gl_SubgroupInvocationID;
        uint row0 = gl_WorkGroupID.y * RM;

        float acc[RM][TNL];
        [[unroll]] for (uint i = 0; i < RM; i++)
                [[unroll]] for (uint j = 0; j < TNL; j++)
                        acc[i][j] = 0.0;

        uint rows[RM];
        [[unroll]] for (uint i = 0; i < RM; i++)
                rows[i] = min(row0 + i, p.m - 1);
        // Clamped for loads; with VEC4_B whole groups of 4 clamp together (n % 4 == 0).
        uint cols[TNL];
        [[unroll]] for (uint j = 0; j < TNL; j++)
                cols[j] = VEC4_B ? min(column(j), p.n - 4u + j % 4u) : min(column(j), p.n - 1u);

        uint k_full = p.k - p.k % SG;
        for (uint k0 = 0; k0 < k_full; k0 += SG) {
                float av[RM];
                [[unroll]] for (uint i = 0; i < RM; i++)
                        av[i] = load_a(rows[i], k0 + lane);
                [[unroll]] for (uint kk = 0; kk < SG; kk++) {
                        float bv[TNL];
                        load_b_row(k0 + kk, cols, bv);
                        [[unroll]] for (uint i = 0; i < RM; i++) {
                                float ab = subgroupBroadcast(av[i], kk);
                                [[unroll]] for (uint j = 0; j < TNL; j++)
                                        acc[i][j] = fma(ab, bv[j], acc[i][j]);
                        }
                }
        }
        if (k_full < p.k) {
                // The last partial block: lanes past k load a clamped index, never used.
                float av[RM];
                [[unroll]] for (uint i = 0; i < RM; i++)
                        av[i] = load_a(rows[i], min(k_full + lane, p.k - 1));
                for (uint kk = 0; kk < p.k - k_full; kk++) {
                        float bv[TNL];
                        load_b_row(k_full + kk, cols, bv);
                        [[unroll]] for (uint i = 0; i < RM; i++) {
                                float ab = subgroupShuffle(av[i], kk);
                                [[unroll]] for (uint j = 0; j < TNL; j++)
                                        acc[i][j] = fma(ab, bv[j], acc[i][j]);
                        }
                }
        }

        [[unroll]] for (uint j = 0; j < TNL; j++) {
                uint col = column(j);
                if (col >= p.n)
                        continue;
                float bj = p.has_bias != 0u ? bias[col] : 0.0;
                [[unroll]] for (uint i = 0; i < RM; i++) {
                        uint row = row0 + i;
                        if (row >= p.m)
                                break;
                        float v = acc[i][j] + bj;
                        if (p.accumulate != 0u)
                                v += c[row * p.n + col];
                        c[row * p.n + col] = activate(v, p.act);
                }
        }
}
