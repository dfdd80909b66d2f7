// SPDX-License-Identifier: MIT
// Depthwise 3×3 convolution, gradients of the weights [3][3][c] and the bias:
// each invocation owns one channel and sums all nine taps plus the bias over
// every output pixel. It walks each output row in strips of TW outputs,
// holding the strip's dy in registers, so each input column it fetches
// serves all three taps of its kernel row: (TW−1)·S+3 input fetches per
// kernel row and strip instead of 3·TW. Stride S is a specialization constant
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

        for (uint row = 0; row < p.n * p.oh; row++) {
                const uint n = fdiv(row, p.div_oh), oh = row - n * p.oh;
                const int ih0 = int(oh * S) - int(p.pt);
                for (uint ow0 = 0; ow0 < p.ow; ow0 += TW) {
                        float g[TW];
                        [[unroll]] for (uint t = 0; t < TW; t++) {
                                const float v = texelFetch(dy_tex, int((row * p.ow + min(ow0 + t, p.ow - 1u)) * p.c + c)).x;
                                g[t] = ow0 + t < p.ow ? v : 0.0;
                                acc[9] += g[t];
                        }
                        const int iw0 = int(ow0 * S) - int(p.pl);
                        [[unroll]] for (uint u = 0; u < 3u; u++) {
                                const int ih = ih0 + int(u);
                                const bool row_in = ih >= 0 && ih < int(p.h);
                                const uint rb = (n * p.h + uint(clamp(ih, 0, int(p.h) - 1))) * p.w;
                                [[unroll]] for (uint col = 0; col < (TW - 1u) * S + 3u; col++) {
                                        const int iw = iw0 + int(col);
                                        float xv = texelFetch(x_tex, int((rb + uint(clamp(iw, 0, int(p.w) - 1))) * p.c + c)).x;
                                        xv = row_in && iw >= 0 && iw < int(p.w) ? xv : 0.0;
                                        [[unroll]] for (uint v = 0; v < 3u; v++) {
                                                if (col >= v && (col - v) % S == 0u && (col - v) / S < TW)
                                                        acc[u * 3u + v] = fma(xv, g[(col - v) / S], acc[u * 3u + v]);
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
