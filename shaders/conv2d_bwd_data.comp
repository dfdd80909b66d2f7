// SPDX-License-Identifier: MIT
// Dense 2-D convolution, gradient of the input: dx = dyᵀ-correlated with the
// weights, NHWC. Each invocation owns TP consecutive input pixels × TC
// consecutive channels and gathers from the outputs that saw them, so every
// dx element is written exactly once (no atomics, no zero fill).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "conv.glsl"

layout(local_size_x_id = 0, local_size_y_id = 1) in;
layout(constant_id = 2) const uint TP = 4;
layout(constant_id = 3) const uint TC = 4;

layout(std430, set = 0, binding = 0) readonly buffer DY { float dy[]; };
layout(std430, set = 0, binding = 1) readonly buffer Wt { float w[]; };
layout(std430, set = 0, binding = 2) writeonly buffer DX { float dx[]; };

void main()
{
        const uint c0 = gl_GlobalInvocationID.x * TC;
        const uint p0 = gl_GlobalInvocationID.y * TP;
        const uint npix = p.n * p.h * p.w;

        if (c0 >= p.c || p0 >= npix)
                return;

        int th0[TP], tw0[TP];
        uint row0[TP];
        for (uint i = 0; i < TP; i++) {
                const uint q = min(p0 + i, npix - 1u);
                const uint t = q / p.w;
                tw0[i] = int(q - t * p.w) + int(p.pl);
                th0[i] = int(t % p.h) + int(p.pt);
                row0[i] = (t / p.h) * p.oh;
        }

        float acc[TP * TC];
        for (uint j = 0; j < TP * TC; j++)
                acc[j] = 0.0;

        for (uint u = 0; u < p.kh; u++) {
                for (uint v = 0; v < p.kw; v++) {
                        uint gb[TP];
                        bool seen[TP];
                        for (uint i = 0; i < TP; i++) {
                                // Output (oh, ow) saw this pixel through tap (u, v) when
                                // oh*sh = ih + pt - u exactly.
                                const int th = th0[i] - int(u), tw = tw0[i] - int(v);
                                seen[i] = th >= 0 && tw >= 0 && uint(th) % p.sh == 0u && uint(tw) % p.sw == 0u &&
                                          uint(th) / p.sh < p.oh && uint(tw) / p.sw < p.ow;
                                gb[i] = seen[i] ? ((row0[i] + uint(th) / p.sh) * p.ow + uint(tw) / p.sw) * p.k : 0u;
                        }
                        const uint wb = (u * p.kw + v) * p.c * p.k;
                        for (uint k = 0; k < p.k; k++) {
                                float wv[TC];
                                for (uint j = 0; j < TC; j++)
                                        wv[j] = w[wb + min(c0 + j, p.c - 1u) * p.k + k];
                                for (uint i = 0; i < TP; i++) {
                                        const float g = seen[i] ? dy[gb[i] + k] : 0.0;
                                        for (uint j = 0; j < TC; j++)
                                                acc[i * TC + j] = fma(g, wv[j], acc[i * TC + j]);
                                }
                        }
                }
        }

        for (uint i = 0; i < TP; i++) {
                if (p0 + i >= npix)
                        break;
                for (uint j = 0; j < TC; j++) {
                        if (c0 + j >= p.c)
                                break;
                        dx[(p0 + i) * p.c + c0 + j] = acc[i * TC + j];
                }
        }
}
