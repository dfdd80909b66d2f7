// SPDX-License-Identifier: MIT
// Dense 2-D convolution, gradients of the weights (HWIO) and the bias. A
// workgroup is LX lanes along output channels (TK each, k = k0 + lane + j·LX)
// for one row r = (kh, kw, c) taken from the workgroup id, summing over every
// output pixel: the x load is the same in all lanes. Row kh·kw·c sums the bias
// gradient (aux == 1: only that row, when a GEMM computed the weights). Every
// element is written once, so no zero fill and no atomics.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "conv.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint TK = 4;

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer DY { float dy[]; };
layout(std430, set = 0, binding = 2) writeonly buffer DW { float dw[]; };
layout(std430, set = 0, binding = 3) writeonly buffer DB { float db[]; };

void main()
{
        const uint LX = gl_WorkGroupSize.x;
        const uint k0 = gl_WorkGroupID.x * LX * TK + gl_LocalInvocationID.x;
        const uint rows = p.kh * p.kw * p.c;
        const uint r_raw = p.aux == 1u ? rows + CONV_GROUP_ROW() : CONV_GROUP_ROW();
        const uint r = min(r_raw, rows);
        const bool is_bias = r == rows;

        const uint rc = min(r, rows - 1u);
        const uint c = rc % p.c, tap = rc / p.c;
        const int u = int(tap / p.kw), v = int(tap % p.kw);

        uint kk[TK];
        for (uint j = 0; j < TK; j++)
                kk[j] = min(k0 + j * LX, p.k - 1u);
        float acc[TK];
        for (uint j = 0; j < TK; j++)
                acc[j] = 0.0;

        uint q = 0;
        for (uint n = 0; n < p.n; n++) {
                for (uint oh = 0; oh < p.oh; oh++) {
                        const int ih = int(oh * p.sh) - int(p.pt) + u;
                        const bool row_in = ih >= 0 && ih < int(p.h);
                        const uint xr = (n * p.h + uint(clamp(ih, 0, int(p.h) - 1))) * p.w;
                        for (uint ow = 0; ow < p.ow; ow++, q++) {
                                const int iw = int(ow * p.sw) - int(p.pl) + v;
                                float xv = x[(xr + uint(clamp(iw, 0, int(p.w) - 1))) * p.c + c];
                                xv = is_bias ? 1.0 : (row_in && iw >= 0 && iw < int(p.w) ? xv : 0.0);
                                for (uint j = 0; j < TK; j++)
                                        acc[j] = fma(xv, dy[q * p.k + kk[j]], acc[j]);
                        }
                }
        }

        for (uint j = 0; j < TK; j++) {
                const uint k = k0 + j * LX;
                if (k >= p.k || r_raw != r)
                        continue;
                if (is_bias) {
                        if ((p.flags & 1u) != 0u)
                                db[k] = acc[j];
                } else {
                        dw[r * p.k + k] = acc[j];
                }
        }
}
