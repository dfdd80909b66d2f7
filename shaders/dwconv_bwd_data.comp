// SPDX-License-Identifier: MIT
// Depthwise 3×3 convolution, gradient of the input, NHWC: each invocation owns
// one channel of TW consecutive input pixels and gathers from the outputs that
// saw them (oh*s = ih + pad - u exactly), so every element is written once.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "conv.glsl"

layout(local_size_x_id = 0, local_size_y_id = 1) in;
layout(constant_id = 2) const uint TW = 4;

layout(std430, set = 0, binding = 0) readonly buffer DY { float dy[]; };
layout(std430, set = 0, binding = 1) readonly buffer Wt { float w[]; };
layout(std430, set = 0, binding = 2) writeonly buffer DX { float dx[]; };

void main()
{
        const uint c = gl_GlobalInvocationID.x;
        const uint p0 = gl_GlobalInvocationID.y * TW;
        const uint npix = p.n * p.h * p.w;

        if (c >= p.c || p0 >= npix)
                return;

        float wr[9];
        for (uint t = 0; t < 9u; t++)
                wr[t] = w[t * p.c + c];

        for (uint i = 0; i < TW; i++) {
                const uint q = p0 + i;
                if (q >= npix)
                        break;
                const uint t = q / p.w;
                const int tw = int(q - t * p.w) + int(p.pl);
                const int th = int(t % p.h) + int(p.pt);
                const uint row0 = (t / p.h) * p.oh;
                float acc = 0.0;
                for (uint u = 0; u < 3u; u++) {
                        const int a = th - int(u);
                        if (a < 0 || uint(a) % p.sh != 0u || uint(a) / p.sh >= p.oh)
                                continue;
                        const uint gb = (row0 + uint(a) / p.sh) * p.ow;
                        for (uint v = 0; v < 3u; v++) {
                                const int b = tw - int(v);
                                if (b < 0 || uint(b) % p.sw != 0u || uint(b) / p.sw >= p.ow)
                                        continue;
                                acc = fma(dy[(gb + uint(b) / p.sw) * p.c + c], wr[u * 3u + v], acc);
                        }
                }
                dx[q * p.c + c] = acc;
        }
}
