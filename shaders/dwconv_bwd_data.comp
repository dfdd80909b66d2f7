// SPDX-License-Identifier: MIT
// Depthwise 3×3 convolution, gradient of the input, NHWC: a workgroup is LX
// lanes along channels; each lane owns one channel of TW consecutive input
// pixels (from the workgroup id) and gathers from the outputs that saw them
// (oh·s = ih + pad − u exactly), so every element is written once. Reads go
// through texel buffers and out-of-range taps are zeroed by select, not
// branched around (lavapipe, perf-notes.md).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "conv.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint TW = 4;

layout(set = 0, binding = 0) uniform samplerBuffer dy_tex;
layout(set = 0, binding = 1) uniform samplerBuffer w_tex;
layout(std430, set = 0, binding = 2) writeonly buffer DX { float dx[]; };

void main()
{
        const uint c_raw = gl_WorkGroupID.x * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
        const uint c = min(c_raw, p.c - 1u);
        const uint p0 = CONV_GROUP_ROW() * TW;
        const uint npix = p.n * p.h * p.w;

        float wr[9];
        for (uint t = 0; t < 9u; t++)
                wr[t] = texelFetch(w_tex, int(t * p.c + c)).x;

        for (uint i = 0; i < TW; i++) {
                const uint q = min(p0 + i, npix - 1u);
                const uint t = q / p.w;
                const int tw = int(q - t * p.w) + int(p.pl);
                const int th = int(t % p.h) + int(p.pt);
                const uint row0 = (t / p.h) * p.oh;
                float acc = 0.0;
                for (uint u = 0; u < 3u; u++) {
                        const int a = th - int(u);
                        const uint oh = uint(max(a, 0)) / p.sh;
                        const bool row_seen = a >= 0 && oh * p.sh == uint(a) && oh < p.oh;
                        const uint gb = (row0 + min(oh, p.oh - 1u)) * p.ow;
                        for (uint v = 0; v < 3u; v++) {
                                const int b = tw - int(v);
                                const uint ow = uint(max(b, 0)) / p.sw;
                                const bool seen = row_seen && b >= 0 && ow * p.sw == uint(b) && ow < p.ow;
                                float g = texelFetch(dy_tex, int((gb + min(ow, p.ow - 1u)) * p.c + c)).x;
                                acc = fma(seen ? g : 0.0, wr[u * 3u + v], acc);
                        }
                }
                if (p0 + i < npix && c_raw < p.c)
                        dx[q * p.c + c] = acc;
        }
}
