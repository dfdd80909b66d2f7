// SPDX-License-Identifier: MIT
// Depthwise 3×3 convolution, gradients of the weights [3][3][c] and the bias:
// each invocation owns one channel and sums all nine taps plus the bias over
// every output pixel. c invocations are plenty for lavapipe's cores and for
// the small late layers that get fine-tuned; a GPU would want the sum split
// over pixel slices. Reads go through texel buffers and padding taps are
// zeroed by select, not branched around (lavapipe, perf-notes.md).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "conv.glsl"

layout(local_size_x_id = 0) in;

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

        uint q = 0;
        for (uint n = 0; n < p.n; n++) {
                for (uint oh = 0; oh < p.oh; oh++) {
                        const int ih0 = int(oh * p.sh) - int(p.pt);
                        for (uint ow = 0; ow < p.ow; ow++, q++) {
                                const float g = texelFetch(dy_tex, int(q * p.c + c)).x;
                                const int iw0 = int(ow * p.sw) - int(p.pl);
                                acc[9] += g;
                                for (uint u = 0; u < 3u; u++) {
                                        const int ih = ih0 + int(u);
                                        const bool row_in = ih >= 0 && ih < int(p.h);
                                        const uint rb = (n * p.h + uint(clamp(ih, 0, int(p.h) - 1))) * p.w;
                                        for (uint v = 0; v < 3u; v++) {
                                                const int iw = iw0 + int(v);
                                                float xv = texelFetch(x_tex, int((rb + uint(clamp(iw, 0, int(p.w) - 1))) * p.c + c)).x;
                                                xv = row_in && iw >= 0 && iw < int(p.w) ? xv : 0.0;
                                                acc[u * 3u + v] = fma(xv, g, acc[u * 3u + v]);
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
