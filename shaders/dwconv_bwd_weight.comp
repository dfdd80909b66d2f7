// SPDX-License-Identifier: MIT
// Depthwise 3×3 convolution, gradients of the weights [3][3][c] and the bias:
// each invocation owns one channel and sums all nine taps plus the bias over
// every output pixel. Few invocations (c of them) are plenty for lavapipe's
// cores and for the small late layers that get fine-tuned; a GPU would want
// the sum split over pixel slices.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "conv.glsl"

layout(local_size_x_id = 0, local_size_y_id = 1) in;

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer DY { float dy[]; };
layout(std430, set = 0, binding = 2) writeonly buffer DW { float dw[]; };
layout(std430, set = 0, binding = 3) writeonly buffer DB { float db[]; };

void main()
{
        const uint c = gl_GlobalInvocationID.x;

        if (c >= p.c || gl_GlobalInvocationID.y != 0u)
                return;

        float acc[10];
        for (uint t = 0; t < 10u; t++)
                acc[t] = 0.0;

        uint q = 0;
        for (uint n = 0; n < p.n; n++) {
                for (uint oh = 0; oh < p.oh; oh++) {
                        const int ih0 = int(oh * p.sh) - int(p.pt);
                        for (uint ow = 0; ow < p.ow; ow++, q++) {
                                const float g = dy[q * p.c + c];
                                const int iw0 = int(ow * p.sw) - int(p.pl);
                                acc[9] += g;
                                for (uint u = 0; u < 3u; u++) {
                                        const int ih = ih0 + int(u);
                                        if (ih < 0 || ih >= int(p.h))
                                                continue;
                                        const uint rb = (n * p.h + uint(ih)) * p.w;
                                        for (uint v = 0; v < 3u; v++) {
                                                const int iw = iw0 + int(v);
                                                if (iw < 0 || iw >= int(p.w))
                                                        continue;
                                                acc[u * 3u + v] = fma(x[(rb + uint(iw)) * p.c + c], g, acc[u * 3u + v]);
                                        }
                                }
                        }
                }
        }

        for (uint t = 0; t < 9u; t++)
                dw[t * p.c + c] = acc[t];
        if ((p.flags & 1u) != 0u)
                db[c] = acc[9];
}
