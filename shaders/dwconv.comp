// SPDX-License-Identifier: MIT
// Depthwise 3×3 convolution forward, NHWC, weights [3][3][c], fused bias and
// activation; stride 1 or 2 (p.sw == p.sh), explicit padding. Lanes run along
// channels (contiguous loads); each invocation owns a strip of TW outputs along
// a row and loads each input column once for all the taps and outputs that
// use it: ~3 FMAs per load at stride 1 instead of 1 (perf-notes.md).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#extension GL_EXT_control_flow_attributes : require
#include "conv.glsl"

layout(local_size_x_id = 0, local_size_y_id = 1) in;
layout(constant_id = 2) const uint TW = 8;

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer Wt { float w[]; };
layout(std430, set = 0, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, set = 0, binding = 3) writeonly buffer Y { float y[]; };

// S is a literal in each expansion, so the column loop unrolls and every
// register index below is a constant.
#define DW_ROWS(S)                                                                                   \
        for (uint u = 0; u < 3u; u++) {                                                              \
                const int ih = ih0 + int(u);                                                         \
                if (ih < 0 || ih >= int(p.h))                                                        \
                        continue;                                                                    \
                const uint rb = (row0 + uint(ih)) * p.w;                                             \
                [[unroll]] for (uint col = 0; col < (TW - 1u) * S + 3u; col++) {                     \
                        const int iw = iw0 + int(col);                                               \
                        const float xv = iw >= 0 && iw < int(p.w) ? x[(rb + uint(iw)) * p.c + c] : 0.0; \
                        [[unroll]] for (uint v = 0; v < 3u; v++) {                                   \
                                if (col >= v && (col - v) % S == 0u && (col - v) / S < TW)           \
                                        acc[(col - v) / S] = fma(xv, wr[u * 3u + v], acc[(col - v) / S]); \
                        }                                                                            \
                }                                                                                    \
        }

void main()
{
        const uint c = gl_GlobalInvocationID.x;
        const uint strips = (p.ow + TW - 1u) / TW;
        const uint s = gl_GlobalInvocationID.y;

        if (c >= p.c || s >= p.n * p.oh * strips)
                return;

        const uint row = s / strips;           // n * oh + oh
        const uint ow0 = (s - row * strips) * TW;
        const uint oh = row % p.oh;
        const uint row0 = (row / p.oh) * p.h;
        const int ih0 = int(oh * p.sh) - int(p.pt);
        const int iw0 = int(ow0 * p.sw) - int(p.pl);

        float wr[9];
        for (uint t = 0; t < 9u; t++)
                wr[t] = w[t * p.c + c];
        float acc[TW];
        for (uint t = 0; t < TW; t++)
                acc[t] = 0.0;

        if (p.sw == 1u)
                DW_ROWS(1u)
        else
                DW_ROWS(2u)

        const float b = (p.flags & 1u) != 0u ? bias[c] : 0.0;
        for (uint t = 0; t < TW; t++) {
                if (ow0 + t >= p.ow)
                        break;
                y[((row * p.ow) + ow0 + t) * p.c + c] = conv_act(acc[t] + b);
        }
}
