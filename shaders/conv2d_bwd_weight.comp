// SPDX-License-Identifier: MIT
// Dense 2-D convolution, gradients of the weights (HWIO) and the bias: each
// invocation owns one (kh, kw, c) row × TK consecutive output channels and sums
// over every output pixel; the last row (y = kh*kw*c) sums the bias gradient.
// Every element is written once, so no zero fill and no atomics.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "conv.glsl"

layout(local_size_x_id = 0, local_size_y_id = 1) in;
layout(constant_id = 2) const uint TK = 4;

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer DY { float dy[]; };
layout(std430, set = 0, binding = 2) writeonly buffer DW { float dw[]; };
layout(std430, set = 0, binding = 3) writeonly buffer DB { float db[]; };

void main()
{
        const uint k0 = gl_GlobalInvocationID.x * TK;
        const uint rows = p.kh * p.kw * p.c;
        // aux == 1: only the bias row (a GEMM computed the weights).
        const uint r = p.aux == 1u ? rows + gl_GlobalInvocationID.y : gl_GlobalInvocationID.y;
        const bool is_bias = r == rows;

        if (k0 >= p.k || r > rows || (is_bias && (p.flags & 1u) == 0u))
                return;

        const uint c = r % p.c, tap = r / p.c;
        const int u = int(tap / p.kw), v = int(tap % p.kw);

        float acc[TK];
        for (uint j = 0; j < TK; j++)
                acc[j] = 0.0;

        uint q = 0;
        for (uint n = 0; n < p.n; n++) {
                for (uint oh = 0; oh < p.oh; oh++) {
                        const int ih = int(oh * p.sh) - int(p.pt) + u;
                        const bool row_in = is_bias || (ih >= 0 && ih < int(p.h));
                        for (uint ow = 0; ow < p.ow; ow++, q++) {
                                const int iw = int(ow * p.sw) - int(p.pl) + v;
                                if (!row_in || (!is_bias && (iw < 0 || iw >= int(p.w))))
                                        continue;
                                const float xv = is_bias ? 1.0 : x[((n * p.h + uint(ih)) * p.w + uint(iw)) * p.c + c];
                                for (uint j = 0; j < TK; j++)
                                        acc[j] = fma(xv, dy[q * p.k + min(k0 + j, p.k - 1u)], acc[j]);
                        }
                }
        }

        for (uint j = 0; j < TK; j++) {
                if (k0 + j >= p.k)
                        break;
                if (is_bias)
                        db[k0 + j] = acc[j];
                else
                        dw[r * p.k + k0 + j] = acc[j];
        }
}
