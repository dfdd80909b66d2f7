// SPDX-License-Identifier: MIT
// Depthwise 3×3 convolution forward, NHWC, weights [3][3][c], fused bias and
// activation, stride S (a specialization constant: 1 or 2) on both axes,
// explicit padding.
//
// A workgroup is LX lanes along channels; each lane owns one channel (or 4,
// VEC4) of a strip of TW outputs along a row and walks a band of TH output
// rows down it; strip and band come from the workgroup id, so pixel indices
// are uniform. The 3 input rows an output row reads stay in registers, so each
// input of the band's window is fetched once (TW + 2 per row at stride 1,
// where a TH × TW tile fetched (TH + 2)(TW + 2)). On lavapipe every texel fetch
// is a call and every store a loop over the lanes, and both spill the live
// vector registers: hence narrow strips (op-dwconv.c has the numbers).
// Out-of-range rows, columns and channels are clamped and zeroed by select,
// never branched around: on lavapipe a load under divergent control flow
// costs more (perf-notes.md).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint TW = 8;
layout(constant_id = 2) const uint S = 1;
layout(constant_id = 3) const uint TH = 1; // band height (rows walked down)
// FLIP: use the kernel rotated by 180°, which makes this kernel the
// backward-data pass of a stride-1 depthwise convolution (op-dwconv.c).
layout(constant_id = 4) const bool FLIP = false;
// VEC4 (c % 4 == 0, x and w bound as RGBA32F views): a lane owns 4 adjacent
// channels and fetches them together. On lavapipe a vec4 fetch is one 128-bit
// load per lane where 4 scalar fetches are 4 gathers. Without it the .yzw
// lanes of every value below are dead and compiled away.
layout(constant_id = 5) const bool VEC4 = false;
const uint CW = VEC4 ? 4u : 1u;

#include "conv.glsl"

// Texel buffers: on lavapipe their fetches are vector gathers, while a
// storage-buffer load that differs per lane is a loop over lanes.
layout(set = 0, binding = 0) uniform samplerBuffer x_tex;
layout(set = 0, binding = 1) uniform samplerBuffer w_tex;
layout(std430, set = 0, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, set = 0, binding = 3) writeonly buffer Y { float y[]; };
// With VEC4 the bias and outputs go 4 channels per access too (needs 16-byte
// aligned bias and y): lavapipe stores to a storage buffer lane by lane in a
// loop, so 4 float stores cost about 4 times one vec4 store, and at 9 FMAs per
// output those loops cost more than the arithmetic.
layout(std430, set = 0, binding = 2) readonly buffer Bias4 { vec4 bias4[]; };
layout(std430, set = 0, binding = 3) writeonly buffer Y4 { vec4 y4[]; };

vec4 load_x(uint base, uint c)
{
        return texelFetch(x_tex, int(base + c));
}

// Input row (relative to the band's first) r of the window sits in slot
// r % 3: output row i reads rows i·S + u (u < 3), and with the loop over
// output rows unrolled by 3 (3·S ≡ 0 mod 3) every slot index is a constant,
// so the window stays in registers and is never copied.
vec4 win[3][(TW - 1u) * S + 3u];

void load_row(uint slot, int ih, uint row0, int iw0, uint groups, uint c)
{
        const bool row_in = ih >= 0 && ih < int(p.h);
        const uint rb = (row0 + uint(clamp(ih, 0, int(p.h) - 1))) * p.w;
        [[unroll]] for (uint col = 0; col < (TW - 1u) * S + 3u; col++) {
                const int iw = iw0 + int(col);
                const vec4 xv = load_x((rb + uint(clamp(iw, 0, int(p.w) - 1))) * groups, c);
                win[slot][col] = row_in && iw >= 0 && iw < int(p.w) ? xv : vec4(0.0);
        }
}

void main()
{
        const uint groups = p.c / CW; // channel groups: one per lane
        const uint cg = gl_WorkGroupID.x * gl_WorkGroupSize.x;
        const uint c_raw = cg + gl_LocalInvocationID.x;
        const uint c = min(c_raw, groups - 1u);
        const uint strips = (p.ow + TW - 1u) / TW;
        const uint bands = (p.oh + TH - 1u) / TH;
        const uint s_raw = CONV_GROUP_ROW();
        const uint s = min(s_raw, p.n * bands * strips - 1u);

        const uint band = fdiv(s, p.div_a); // n * bands + band; div_a: strips
        const uint ow0 = (s - band * strips) * TW;
        const uint nimg = fdiv(band, p.div_b); // div_b: bands
        const uint oh0 = (band - nimg * bands) * TH;
        const uint row0 = nimg * p.h;
        const int ih0 = int(oh0 * S) - int(p.pt);
        const int iw0 = int(ow0 * S) - int(p.pl);
        const uint rows = min(TH, p.oh - oh0);
        const bool lane_out = c_raw < groups && s_raw == s;

        vec4 wr[9];
        for (uint t = 0; t < 9u; t++)
                wr[t] = texelFetch(w_tex, int((FLIP ? 8u - t : t) * groups + c));
        vec4 b4 = vec4(0.0);
        if ((p.flags & 1u) != 0u) {
                if (VEC4)
                        b4 = bias4[c];
                else
                        b4.x = bias[c];
        }

        // The rows every output row shares with the one before it.
        [[unroll]] for (uint r = 0; r < 3u - S; r++)
                load_row(r, ih0 + int(r), row0, iw0, groups, c);

        for (uint i0 = 0; i0 < rows; i0 += 3u) {
                [[unroll]] for (uint k = 0; k < 3u; k++) {
                        const uint i = i0 + k;
                        [[unroll]] for (uint r = 3u - S; r < 3u; r++)
                                load_row((k * S + r) % 3u, ih0 + int(i * S + r), row0, iw0, groups, c);
                        vec4 acc[TW];
                        [[unroll]] for (uint t = 0; t < TW; t++)
                                acc[t] = b4;
                        [[unroll]] for (uint u = 0; u < 3u; u++) {
                                [[unroll]] for (uint t = 0; t < TW; t++) {
                                        [[unroll]] for (uint v = 0; v < 3u; v++)
                                                acc[t] = fma(win[(k * S + u) % 3u][t * S + v], wr[u * 3u + v], acc[t]);
                                }
                        }
                        if (i < rows && lane_out) {
                                const uint o = (nimg * p.oh + oh0 + i) * p.ow + ow0;
                                [[unroll]] for (uint t = 0; t < TW; t++) {
                                        if (ow0 + t >= p.ow)
                                                break;
                                        const vec4 v = acc[t];
                                        if (VEC4) {
                                                y4[(o + t) * groups + c] = vec4(conv_act(v.x), conv_act(v.y),
                                                                                conv_act(v.z), conv_act(v.w));
                                        } else {
                                                y[(o + t) * p.c + c] = conv_act(v.x);
                                        }
                                }
                        }
                }
        }
}
