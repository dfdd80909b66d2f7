// SPDX-License-Identifier: MIT
// Dense 2-D convolution, gradient of the input: dx[n,ih,iw,c] = Σ dy·w over
// the outputs that saw (ih, iw), NHWC. Laid out as the forward kernel: a
// workgroup is LX lanes along input channels, each owning TC channels
// (c = c0 + lane + j·LX) of TP consecutive input pixels taken from the
// workgroup id, so every dy load is the same in all lanes. Indices are
// clamped and unseen taps zeroed by select; every dx element is written once
// (no atomics, no zero fill).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "conv.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint TP = 4;
layout(constant_id = 2) const uint TC = 4;

layout(std430, set = 0, binding = 0) readonly buffer DY { float dy[]; };
layout(std430, set = 0, binding = 1) readonly buffer Wt { float w[]; };
layout(std430, set = 0, binding = 2) writeonly buffer DX { float dx[]; };

void main()
{
        const uint LX = gl_WorkGroupSize.x;
        const uint c0 = gl_WorkGroupID.x * LX * TC + gl_LocalInvocationID.x;
        const uint p0 = CONV_GROUP_ROW() * TP;
        const uint npix = p.n * p.h * p.w;

        int th0[TP], tw0[TP];
        uint row0[TP];
        for (uint i = 0; i < TP; i++) {
                const uint q = min(p0 + i, npix - 1u);
                const uint t = q / p.w;
                tw0[i] = int(q - t * p.w) + int(p.pl);
                th0[i] = int(t % p.h) + int(p.pt);
                row0[i] = (t / p.h) * p.oh;
        }
        uint cc[TC];
        for (uint j = 0; j < TC; j++)
                cc[j] = min(c0 + j * LX, p.c - 1u);

        float acc[TP * TC];
        for (uint j = 0; j < TP * TC; j++)
                acc[j] = 0.0;

        for (uint u = 0; u < p.kh; u++) {
                for (uint v = 0; v < p.kw; v++) {
                        uint gb[TP];
                        bool seen[TP];
                        for (uint i = 0; i < TP; i++) {
                                // Output (oh, ow) saw this pixel through tap (u, v) when
                                // oh·sh = ih + pt − u exactly.
                                const int th = th0[i] - int(u), tw = tw0[i] - int(v);
                                const uint oh = uint(max(th, 0)) / p.sh, ow = uint(max(tw, 0)) / p.sw;
                                seen[i] = th >= 0 && tw >= 0 && oh * p.sh == uint(th) && ow * p.sw == uint(tw) &&
                                          oh < p.oh && ow < p.ow;
                                gb[i] = ((row0[i] + min(oh, p.oh - 1u)) * p.ow + min(ow, p.ow - 1u)) * p.k;
                        }
                        const uint wb = (u * p.kw + v) * p.c * p.k;
                        for (uint k = 0; k < p.k; k++) {
                                float wv[TC];
                                for (uint j = 0; j < TC; j++)
                                        wv[j] = w[wb + cc[j] * p.k + k];
                                for (uint i = 0; i < TP; i++) {
                                        float g = dy[gb[i] + k];
                                        g = seen[i] ? g : 0.0;
                                        for (uint j = 0; j < TC; j++)
                                                acc[i * TC + j] = fma(g, wv[j], acc[i * TC + j]);
                                }
                        }
                }
        }

        for (uint i = 0; i < TP; i++) {
                for (uint j = 0; j < TC; j++) {
                        const uint c = c0 + j * LX;
                        if (p0 + i < npix && c < p.c)
                                dx[(p0 + i) * p.c + c] = acc[i * TC + j];
                }
        }
}
