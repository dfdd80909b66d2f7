// SPDX-License-Identifier: MIT
// Depthwise 3×3 convolution, gradients of the weights [3][3][c] and the bias:
// each invocation owns one channel and sums all nine taps plus the bias over
// every output pixel. It walks the outputs in tiles of TH × TW, holding the
// tile's dy in registers, so each input it fetches serves every tap and
// output that uses it: ((TH−1)·S+3)·((TW−1)·S+3) input fetches per tile
// instead of 9·TH·TW. Stride S is a specialization constant
// so the strip loops unroll into registers. c invocations are plenty for
// lavapipe's cores and for the small late layers that get fine-tuned; a GPU
// would want the sum split over pixel slices. Reads go through texel
// buffers and padding is zeroed by select, not branched around
// (perf-notes.md).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#extension GL_EXT_control_flow_attributes : require
#include "conv.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint TW = 7;
layout(constant_id = 2) const uint S = 1;
layout(constant_id = 3) const uint TH = 4;

layout(set = 0, binding = 0) uniform samplerBuffer x_tex;
layout(set = 0, binding = 1) uniform samplerBuffer dy_tex;
layout(std430, set = 0, binding = 2) writeonly buffer DW { float dw[]; };
layout(std430, set = 0, binding = 3) writeonly buffer DB { float db[]; };

void main()
{
        const uint c_raw = gl_GlobalInvocationID.x;
        const uint c = min(c_raw, p.c - 1u);

        float acc[10];
        for (uint t = 0; t < 10u; t++)
                acc[t] = 0.0;

        const uint bands = (p.oh + TH - 1u) / TH;
        for (uint band = 0; band < p.n * bands; band++) {
                const uint n = band / bands, oh0 = (band - n * bands) * TH;
                const int ih0 = int(oh0 * S) - int(p.pt);
                for (uint ow0 = 0; ow0 < p.ow; ow0 += TW) {
                        float g[TH * TW];
                        [[unroll]] for (uint i = 0; i < TH; i++) {
                                const uint oh = min(oh0 + i, p.oh - 1u);
                                [[unroll]] for (uint t = 0; t < TW; t++) {
                                        const uint q = (n * p.oh + oh) * p.ow + min(ow0 + t, p.ow - 1u);
                                        const float v = texelFetch(dy_tex, int(q * p.c + c)).x;
                                        g[i * TW + t] = oh0 + i < p.oh && ow0 + t < p.ow ? v : 0.0;
                                        acc[9] += g[i * TW + t];
                                }
                        }
                        const int iw0 = int(ow0 * S) - int(p.pl);
                        [[unroll]] for (uint r = 0; r < (TH - 1u) * S + 3u; r++) {
                                const int ih = ih0 + int(r);
                                const bool row_in = ih >= 0 && ih < int(p.h);
                                const uint rb = (n * p.h + uint(clamp(ih, 0, int(p.h) - 1))) * p.w;
                                [[unroll]] for (uint col = 0; col < (TW - 1u) * S + 3u; col++) {
                                        const int iw = iw0 + int(col);
                                        float xv = texelFetch(x_tex, int((rb + uint(clamp(iw, 0, int(p.w) - 1))) * p.c + c)).x;
                                        xv = row_in && iw >= 0 && iw < int(p.w) ? xv : 0.0;
                                        [[unroll]] for (uint u = 0; u < 3u; u++) {
                                                if (r < u || (r - u) % S != 0u || (r - u) / S >= TH)
                                                        continue;
                                                [[unroll]] for (uint v = 0; v < 3u; v++) {
                                                        if (col >= v && (col - v) % S == 0u && (col - v) / S < TW)
                                                                acc[u * 3u + v] = fma(xv, g[(r - u) / S * TW + (col - v) / S],
                                                                                      acc[u * 3u + v]);
                                                }
                                        }
                                }
                        }
                }
        }

        if (c_raw >= p.c)
                return;
        for (uint t = 0; t < 9u; t++)
                dw[t * p.c + c] = acc[t];
        if ((p.flags & 1u) != 0u)
                db[c] = acc[9];
}
