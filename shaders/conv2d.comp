// SPDX-License-Identifier: MIT
// Dense 2-D convolution forward, NHWC × HWIO → NHWC, fused bias and activation.
//
// A workgroup is one row of LX lanes along output channels; each lane owns TK
// channels (k = k0 + lane + j·LX) of TP consecutive output pixels, and the
// pixels come from the workgroup id alone, so every input value is the same
// for all lanes and each weight feeds TP FMAs. Inputs and weights are read
// through texel buffers (vector gathers on lavapipe, where a storage-buffer
// load that differs per lane is a loop over lanes); out-of-range indices are
// clamped and only the stores are guarded, since loads under divergent
// control flow are slower still. Measured on lavapipe (CPU time, stem layer):
// storage buffers 3.4, texel weights 3.9, texel weights and inputs 4.3,
// with BCAST 5.3 GFLOPS per core.
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_ballot : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"
#include "conv.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint TP = 8;
layout(constant_id = 2) const uint TK = 4;
// BCAST (needs TP == LX == the subgroup size, full subgroups): lane i fetches
// the input of pixel i and subgroupBroadcast hands it to every lane, one
// gather per input step instead of TP.
layout(constant_id = 3) const bool BCAST = false;
// FIXED_C > 0 (few input channels: the stem, the 1×1 layers with c ≤ 32):
// c, kh and kw are these constants, each lane owns one output pixel and
// FIXED_K of its channels (workgroup x picks which; k % 4 == 0), and a
// workgroup runs ROUNDS rows of LX pixels. The weights are fetched once per
// workgroup at the same address in every lane (so they arrive broadcast, 4
// channels per fetch) and stay in registers or on the stack for all rounds,
// each input value feeds FIXED_K FMAs, and a pixel's outputs go out as vec4
// stores: on lavapipe each storage-buffer store is a loop over the lanes, and
// the general kernel's weight gathers and subgroup broadcasts (or the GEMM's
// per-row fetches of A, with k this small) cost more than the FMAs. Needs the
// weights bound as RGBA32F (w 16-byte aligned), y and bias 16-byte aligned.
layout(constant_id = 4) const uint FIXED_C = 0;
layout(constant_id = 5) const uint FIXED_K = 4;
layout(constant_id = 6) const uint FIXED_KH = 1;
layout(constant_id = 7) const uint FIXED_KW = 1;
layout(constant_id = 8) const uint ROUNDS = 32;
// With FIXED_C % 4 == 0: x bound as RGBA32F too (16-byte aligned), a pixel's
// channels 4 per fetch.
layout(constant_id = 9) const bool X_VEC4 = false;

layout(set = 0, binding = 0) uniform samplerBuffer x_tex;
layout(set = 0, binding = 1) uniform samplerBuffer w_tex;
layout(std430, set = 0, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, set = 0, binding = 3) writeonly buffer Y { float y[]; };
layout(std430, set = 0, binding = 2) readonly buffer Bias4 { vec4 bias4[]; };
layout(std430, set = 0, binding = 3) writeonly buffer Y4 { vec4 y4[]; };

vec4 conv_act4(vec4 v)
{
        return vec4(conv_act(v.x), conv_act(v.y), conv_act(v.z), conv_act(v.w));
}

void main_fixed()
{
        const uint LX = gl_WorkGroupSize.x;
        const uint NX = FIXED_KH * FIXED_KW * FIXED_C; // inputs per output pixel
        const uint K4 = FIXED_K / 4u;
        const uint npix = p.n * p.oh * p.ow;
        const uint k4 = gl_WorkGroupID.x * K4; // this workgroup's first channel / 4
        const uint row4 = p.k / 4u;

        vec4 wv[NX * K4];
        [[unroll]] for (uint i = 0; i < NX; i++)
                [[unroll]] for (uint j = 0; j < K4; j++)
                        wv[i * K4 + j] = texelFetch(w_tex, int(i * row4 + k4 + j));
        vec4 bv[K4];
        [[unroll]] for (uint j = 0; j < K4; j++)
                bv[j] = (p.flags & 1u) != 0u ? bias4[k4 + j] : vec4(0.0);

        for (uint r = 0; r < ROUNDS; r++) {
                const uint p0 = (CONV_GROUP_ROW() * ROUNDS + r) * LX;
                if (p0 >= npix)
                        break;
                // Pixels past the end recompute the last one and are not stored.
                const uint q = min(p0 + gl_LocalInvocationID.x, npix - 1u);
                const uint t = fdiv(q, p.div_ow), nimg = fdiv(t, p.div_oh);
                const int iw0 = int((q - t * p.ow) * p.sw) - int(p.pl);
                const int ih0 = int((t - nimg * p.oh) * p.sh) - int(p.pt);

                // Every fetch first: each is a call that spills the live registers.
                float xv[NX];
                [[unroll]] for (uint u = 0; u < FIXED_KH; u++) {
                        [[unroll]] for (uint v = 0; v < FIXED_KW; v++) {
                                const int ih = ih0 + int(u), iw = iw0 + int(v);
                                const bool inside = ih >= 0 && ih < int(p.h) && iw >= 0 && iw < int(p.w);
                                const uint xb = ((nimg * p.h + uint(clamp(ih, 0, int(p.h) - 1))) * p.w +
                                                 uint(clamp(iw, 0, int(p.w) - 1))) * FIXED_C;
                                const uint i0 = (u * FIXED_KW + v) * FIXED_C;
                                if (X_VEC4) {
                                        [[unroll]] for (uint c = 0; c < FIXED_C; c += 4u) {
                                                const vec4 x = texelFetch(x_tex, int((xb + c) / 4u));
                                                xv[i0 + c] = inside ? x.x : 0.0;
                                                xv[i0 + c + 1u] = inside ? x.y : 0.0;
                                                xv[i0 + c + 2u] = inside ? x.z : 0.0;
                                                xv[i0 + c + 3u] = inside ? x.w : 0.0;
                                        }
                                } else {
                                        [[unroll]] for (uint c = 0; c < FIXED_C; c++) {
                                                const float x = texelFetch(x_tex, int(xb + c)).x;
                                                xv[i0 + c] = inside ? x : 0.0;
                                        }
                                }
                        }
                }
                vec4 acc[K4];
                [[unroll]] for (uint j = 0; j < K4; j++)
                        acc[j] = vec4(0.0);
                [[unroll]] for (uint i = 0; i < NX; i++)
                        [[unroll]] for (uint j = 0; j < K4; j++)
                                acc[j] = fma(vec4(xv[i]), wv[i * K4 + j], acc[j]);
                if (p0 + gl_LocalInvocationID.x < npix)
                        [[unroll]] for (uint j = 0; j < K4; j++)
                                y4[q * row4 + k4 + j] = conv_act4(acc[j] + bv[j]);
        }
}

void main()
{
        if (FIXED_C > 0u) {
                main_fixed();
                return;
        }
        const uint LX = gl_WorkGroupSize.x;
        const uint k0 = gl_WorkGroupID.x * LX * TK + gl_LocalInvocationID.x;
        const uint p0 = CONV_GROUP_ROW() * TP;
        const uint npix = p.n * p.oh * p.ow;

        int ih0[TP], iw0[TP];
        uint row0[TP];
        for (uint i = 0; i < TP; i++) {
                // Pixels past the end recompute the last one and are not stored.
                const uint q = min(p0 + i, npix - 1u);
                const uint t = fdiv(q, p.div_ow), nimg = fdiv(t, p.div_oh);
                iw0[i] = int((q - t * p.ow) * p.sw) - int(p.pl);
                ih0[i] = int((t - nimg * p.oh) * p.sh) - int(p.pt);
                row0[i] = nimg * p.h;
        }
        // This lane's own pixel, for BCAST.
        const uint ql = min(p0 + gl_LocalInvocationID.x, npix - 1u);
        const uint tl = fdiv(ql, p.div_ow), nl = fdiv(tl, p.div_oh);
        const int iwl0 = int((ql - tl * p.ow) * p.sw) - int(p.pl);
        const int ihl0 = int((tl - nl * p.oh) * p.sh) - int(p.pt);
        const uint rowl0 = nl * p.h;

        uint kk[TK];
        for (uint j = 0; j < TK; j++)
                kk[j] = min(k0 + j * LX, p.k - 1u);

        float acc[TP * TK];
        for (uint j = 0; j < TP * TK; j++)
                acc[j] = 0.0;

        for (uint u = 0; u < p.kh; u++) {
                for (uint v = 0; v < p.kw; v++) {
                        uint xb[TP];
                        bool inside[TP];
                        for (uint i = 0; i < TP; i++) {
                                const int ih = ih0[i] + int(u), iw = iw0[i] + int(v);
                                inside[i] = ih >= 0 && ih < int(p.h) && iw >= 0 && iw < int(p.w);
                                xb[i] = ((row0[i] + uint(clamp(ih, 0, int(p.h) - 1))) * p.w +
                                         uint(clamp(iw, 0, int(p.w) - 1))) * p.c;
                        }
                        const int ihl = ihl0 + int(u), iwl = iwl0 + int(v);
                        const bool inside_l = ihl >= 0 && ihl < int(p.h) && iwl >= 0 && iwl < int(p.w);
                        const uint xbl = ((rowl0 + uint(clamp(ihl, 0, int(p.h) - 1))) * p.w +
                                          uint(clamp(iwl, 0, int(p.w) - 1))) * p.c;
                        const uint wb = (u * p.kw + v) * p.c * p.k;
                        for (uint c = 0; c < p.c; c++) {
                                float wv[TK];
                                for (uint j = 0; j < TK; j++)
                                        wv[j] = texelFetch(w_tex, int(wb + c * p.k + kk[j])).x;
                                float xl = 0.0;
                                if (BCAST) {
                                        xl = texelFetch(x_tex, int(xbl + c)).x;
                                        xl = inside_l ? xl : 0.0;
                                }
                                [[unroll]] for (uint i = 0; i < TP; i++) {
                                        float xv;
                                        if (BCAST) {
                                                xv = subgroupBroadcast(xl, i);
                                        } else {
                                                xv = texelFetch(x_tex, int(xb[i] + c)).x;
                                                xv = inside[i] ? xv : 0.0;
                                        }
                                        [[unroll]] for (uint j = 0; j < TK; j++)
                                                acc[i * TK + j] = fma(xv, wv[j], acc[i * TK + j]);
                                }
                        }
                }
        }

        float bv[TK];
        for (uint j = 0; j < TK; j++)
                bv[j] = (p.flags & 1u) != 0u ? bias[kk[j]] : 0.0;
        for (uint i = 0; i < TP; i++) {
                for (uint j = 0; j < TK; j++) {
                        const uint k = k0 + j * LX;
                        if (p0 + i < npix && k < p.k)
                                y[(p0 + i) * p.k + k] = conv_act(acc[i * TK + j] + bv[j]);
                }
        }
}
