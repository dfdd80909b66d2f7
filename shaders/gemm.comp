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
//
// What the JIT code of Mesa 22.3's lavapipe showed (perf + gdb on the running
// kernel), and what the VEC4_A / PACKED_B paths do about it:
// - a texel fetch is a call into a separate function, and every call spills
//   the live vector registers: fetch everything a round needs first;
// - subgroupBroadcast is a loop over the lanes plus a trip through the stack
//   (~50 instructions per value): VEC4_A fetches A at one address in all
//   lanes instead, which arrives already broadcast, 4 k-steps per call;
// - fma() compiles to vmulps + vaddps, not a fused FMA;
// - B rows n·4 bytes apart with n a multiple of 1024 share cache sets and miss
//   to L3: PACKED_B reads B from contiguous panels (gemm_pack.comp).
// Tried and measured slower or no better (process CPU time, the two variants
// alternating in one process, N = 512, 1024, 2048; 2026-12-06):
// - A as a storage buffer read at the same index in every lane, to skip the
//   texel call: 2× the CPU time (Mesa 22.3 loads it lane by lane all the same);
// - A and B as storage texel buffers (imageLoad): 0.97-1.07×, the same cost;
// - other tiles than 16 rows × 8 columns a lane: 32×8 0.85-1.0×, 16×16
//   0.91-0.97×, 32×16 0.95-1.02×, 24×8 0.76-0.83× the speed.
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
// B packed by gemm_pack.comp into panels of SG·TNL columns (needs VEC4_B):
// each workgroup streams through its own panel.
layout(constant_id = 6) const bool PACKED_B = false;
// A bound as an RGBA32F view and fetched at the same address in every lane
// (needs !TRANS_A, k % 4 == 0, 16-byte aligned A): one fetch brings 4 k-steps
// of a row already broadcast. On lavapipe (Mesa 22.3) subgroupBroadcast is a
// loop over the lanes and a trip through the stack, about 50 instructions per
// broadcast value (seen in the JIT code with perf and gdb), while a texel
// fetch is a call of about 30 that yields four.
layout(constant_id = 7) const bool VEC4_A = false;

layout(set = 0, binding = 0) uniform samplerBuffer a_tex;
layout(set = 0, binding = 1) uniform samplerBuffer b_tex;
layout(std430, set = 0, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, set = 0, binding = 3) buffer C { float c[]; };
// With VEC4_B a lane owns 4 adjacent columns, and stores them (and reads their
// bias) as one vec4: llvmpipe stores to a storage buffer lane by lane, in a
// loop with a branch per lane, so one vec4 store costs about what one float
// store does. With small k (the pointwise layers of MobileNetV2) these stores
// cost more than the FMAs. Needs n % 4 == 0 and 16-byte aligned C and bias.
layout(std430, set = 0, binding = 2) readonly buffer Bias4 { vec4 bias4[]; };
layout(std430, set = 0, binding = 3) buffer C4 { vec4 c4[]; };

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
                        vec4 v;
                        if (PACKED_B)
                                v = texelFetch(b_tex, int((gl_WorkGroupID.x * p.k + kk) * (SG * TNL / 4u) +
                                                          q * SG + gl_SubgroupInvocationID));
                        else
                                v = texelFetch(b_tex, int((kk * p.n + cols[4u * q]) / 4u));
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

        if (VEC4_A) {
                // 8 k-steps per round: every fetch first (each is a call that spills
                // the live vector registers), then the FMAs with each accumulator
                // innermost-updated so it stays in a register for the round.
                uint k4 = p.k / 4u;
                for (uint k0 = 0; k0 < p.k; k0 += 8u) {
                        bool second = k0 + 4u < p.k; // k % 4 == 0: the last round may hold 4
                        vec4 av[RM][2];
                        [[unroll]] for (uint i = 0; i < RM; i++) {
                                av[i][0] = texelFetch(a_tex, int(rows[i] * k4 + k0 / 4u));
                                av[i][1] = texelFetch(a_tex, int(rows[i] * k4 + min(k0 / 4u + 1u, k4 - 1u)));
                                av[i][1] = second ? av[i][1] : vec4(0.0);
                        }
                        float bv[8][TNL];
                        [[unroll]] for (uint kk = 0; kk < 8u; kk++)
                                load_b_row(min(k0 + kk, p.k - 1u), cols, bv[kk]);
                        [[unroll]] for (uint i = 0; i < RM; i++)
                                [[unroll]] for (uint j = 0; j < TNL; j++)
                                        [[unroll]] for (uint kk = 0; kk < 8u; kk++)
                                                acc[i][j] = fma(av[i][kk / 4u][kk % 4u], bv[kk][j], acc[i][j]);
                }
        }
        uint k_full = VEC4_A ? 0u : p.k - p.k % SG;
        for (uint k0 = 0; k0 < k_full; k0 += SG) {
                // Every fetch of the step first, then the FMAs: llvmpipe compiles a
                // texel fetch as a call, and each call spills the live vector
                // registers; grouped, the accumulators cross the calls once per
                // step instead of once per k.
                float av[RM];
                [[unroll]] for (uint i = 0; i < RM; i++)
                        av[i] = load_a(rows[i], k0 + lane);
                float bv[SG][TNL];
                [[unroll]] for (uint kk = 0; kk < SG; kk++)
                        load_b_row(k0 + kk, cols, bv[kk]);
                [[unroll]] for (uint kk = 0; kk < SG; kk++) {
                        [[unroll]] for (uint i = 0; i < RM; i++) {
                                float ab = subgroupBroadcast(av[i], kk);
                                [[unroll]] for (uint j = 0; j < TNL; j++)
                                        acc[i][j] = fma(ab, bv[kk][j], acc[i][j]);
                        }
                }
        }
        if (!VEC4_A && k_full < p.k) {
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

        if (VEC4_B) {
                [[unroll]] for (uint q = 0; q < TNL / 4u; q++) {
                        uint col = column(4u * q);
                        if (col >= p.n)
                                continue;
                        vec4 bq = p.has_bias != 0u ? bias4[col / 4u] : vec4(0.0);
                        [[unroll]] for (uint i = 0; i < RM; i++) {
                                uint row = row0 + i;
                                if (row >= p.m)
                                        break;
                                vec4 v = vec4(acc[i][4u * q], acc[i][4u * q + 1u], acc[i][4u * q + 2u],
                                              acc[i][4u * q + 3u]) + bq;
                                uint idx = (row * p.n + col) / 4u;
                                if (p.accumulate != 0u)
                                        v += c4[idx];
                                c4[idx] = vec4(activate(v.x, p.act), activate(v.y, p.act), activate(v.z, p.act),
                                               activate(v.w, p.act));
                        }
                }
                return;
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
