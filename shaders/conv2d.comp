// SPDX-License-Identifier: MIT
// Dense 2-D convolution forward, NHWC × HWIO → NHWC, fused bias and activation.
// Each invocation owns TP consecutive output pixels × TK consecutive output
// channels, so every weight it loads feeds TP FMAs and every input TK: on
// lavapipe a per-lane load costs far more than an FMA (perf-notes.md).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "conv.glsl"

layout(local_size_x_id = 0, local_size_y_id = 1) in;
layout(constant_id = 2) const uint TP = 4;
layout(constant_id = 3) const uint TK = 4;

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer Wt { float w[]; };
layout(std430, set = 0, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, set = 0, binding = 3) writeonly buffer Y { float y[]; };

void main()
{
        const uint k0 = gl_GlobalInvocationID.x * TK;
        const uint p0 = gl_GlobalInvocationID.y * TP;
        const uint npix = p.n * p.oh * p.ow;

        if (k0 >= p.k || p0 >= npix)
                return;

        int ih0[TP], iw0[TP];
        uint row0[TP];
        for (uint i = 0; i < TP; i++) {
                // Pixels past the end recompute the last one and are not stored.
                const uint q = min(p0 + i, npix - 1u);
                const uint t = q / p.ow;
                iw0[i] = int((q - t * p.ow) * p.sw) - int(p.pl);
                ih0[i] = int((t % p.oh) * p.sh) - int(p.pt);
                row0[i] = (t / p.oh) * p.h;
        }

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
                                xb[i] = inside[i] ? ((row0[i] + uint(ih)) * p.w + uint(iw)) * p.c : 0u;
                        }
                        const uint wb = (u * p.kw + v) * p.c * p.k;
                        for (uint c = 0; c < p.c; c++) {
                                float wv[TK];
                                for (uint j = 0; j < TK; j++)
                                        wv[j] = w[wb + c * p.k + min(k0 + j, p.k - 1u)];
                                for (uint i = 0; i < TP; i++) {
                                        const float xv = inside[i] ? x[xb[i] + c] : 0.0;
                                        for (uint j = 0; j < TK; j++)
                                                acc[i * TK + j] = fma(xv, wv[j], acc[i * TK + j]);
                                }
                        }
                }
        }

        for (uint i = 0; i < TP; i++) {
                if (p0 + i >= npix)
                        break;
                for (uint j = 0; j < TK; j++) {
                        const uint k = k0 + j;
                        if (k >= p.k)
                                break;
                        float r = acc[i * TK + j];
                        if ((p.flags & 1u) != 0u)
                                r += bias[k];
                        y[(p0 + i) * p.k + k] = conv_act(r);
                }
        }
}
