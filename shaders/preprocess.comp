// SPDX-License-Identifier: MIT
// Image preprocessing and augmentation: uint8 RGB images (HWC, four bytes to a
// word) → a window of each (fixed, or drawn per image from a seed) → bilinear
// resize → optional horizontal flip → pixel * scale + offset per channel, as
// NHWC or NCHW floats. One invocation per output pixel (three channels). The
// draws (lowbias32 hash) match preproc_draw() in daemon/vk/preprocess-shape.h.
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"

layout(local_size_x_id = 0, local_size_y_id = 1) in;

layout(std430, set = 0, binding = 0) readonly buffer Src { uint src[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Dst { float dst[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Dst4 { vec4 dst4[]; };

layout(push_constant) uniform Push {
        uint n, src_h, src_w;
        uint crop_h, crop_w, crop_y, crop_x;
        uint out_h, out_w;
        uint flags; // 1 random crop, 2 random flip, 4 NCHW, 8 half-pixel centres, 16 flip all,
                    // 32 (set by op-preprocess.c only) the identity: see main_identity()
        uint seed;
        float scale0, scale1, scale2;
        float offset0, offset1, offset2;
} p;

uint hash(uint x)
{
        x ^= x >> 16;
        x *= 0x7feb352du;
        x ^= x >> 15;
        x *= 0x846ca68bu;
        x ^= x >> 16;
        return x;
}

float src_coord(uint o, uint size_in, uint size_out)
{
        const float scale = float(size_in) / float(size_out);
        // precise: the C reference rounds each step; fusing would move samples.
        precise float s = (p.flags & 8u) != 0u ? (float(o) + 0.5) * scale - 0.5 : float(o) * scale;
        return max(s, 0.0);
}

float texel(uint base, uint y, uint x, uint ch)
{
        const uint i = base + (y * p.src_w + x) * 3u + ch;
        return float((src[i >> 2] >> ((i & 3u) * 8u)) & 0xffu);
}

// The whole image, same size, NHWC, no flip (the embedding pass): the output is
// the input's bytes in order, each scaled. One invocation per 4 pixels: 3 words
// in, 3 vec4 out (12 channels, a multiple of 3). On lavapipe each storage-buffer
// access is a loop over the lanes: 6 of them here against 15 per pixel in
// main()'s bilinear path. Needs n·h·w % 4 == 0 and a 16-byte aligned dst.
void main_identity()
{
        const uint j = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) *
                               (gl_WorkGroupSize.x * gl_WorkGroupSize.y) + gl_LocalInvocationIndex;
        if (j >= p.n * p.out_h * p.out_w / 4u)
                return;
        const uint w[3] = uint[3](src[3u * j], src[3u * j + 1u], src[3u * j + 2u]);
        const float scale[3] = float[3](p.scale0, p.scale1, p.scale2);
        const float offset[3] = float[3](p.offset0, p.offset1, p.offset2);
        float f[12];
        [[unroll]] for (uint t = 0; t < 12u; t++) {
                precise float v = float((w[t / 4u] >> ((t % 4u) * 8u)) & 0xffu) * scale[t % 3u] + offset[t % 3u];
                f[t] = v;
        }
        [[unroll]] for (uint q = 0; q < 3u; q++)
                dst4[3u * j + q] = vec4(f[4u * q], f[4u * q + 1u], f[4u * q + 2u], f[4u * q + 3u]);
}

void main()
{
        if ((p.flags & 32u) != 0u) {
                main_identity();
                return;
        }
        const uint ox = gl_GlobalInvocationID.x;
        const uint row = gl_GlobalInvocationID.y; // b * out_h + oy

        if (ox >= p.out_w || row >= p.n * p.out_h)
                return;

        const uint b = row / p.out_h, oy = row - b * p.out_h;
        const uint h = hash(p.seed ^ hash(b));
        const uint cy = (p.flags & 1u) != 0u ? hash(h + 1u) % (p.src_h - p.crop_h + 1u) : p.crop_y;
        const uint cx = (p.flags & 1u) != 0u ? hash(h + 2u) % (p.src_w - p.crop_w + 1u) : p.crop_x;
        const bool flip = (p.flags & 2u) != 0u ? (hash(h + 3u) & 1u) != 0u : (p.flags & 16u) != 0u;

        const float sy = src_coord(oy, p.crop_h, p.out_h);
        const float sx = src_coord(flip ? p.out_w - 1u - ox : ox, p.crop_w, p.out_w);
        const uint y0 = min(uint(sy), p.crop_h - 1u), x0 = min(uint(sx), p.crop_w - 1u);
        const uint y1 = min(y0 + 1u, p.crop_h - 1u), x1 = min(x0 + 1u, p.crop_w - 1u);
        const float fy = sy - float(y0), fx = sx - float(x0);
        const uint base = ((b * p.src_h + cy) * p.src_w + cx) * 3u;
        const float scale[3] = float[3](p.scale0, p.scale1, p.scale2);
        const float offset[3] = float[3](p.offset0, p.offset1, p.offset2);

        for (uint ch = 0; ch < 3u; ch++) {
                const float a = texel(base, y0, x0, ch), bb = texel(base, y0, x1, ch);
                const float c = texel(base, y1, x0, ch), d = texel(base, y1, x1, ch);
                const float top = a + (bb - a) * fx, bot = c + (d - c) * fx;
                const float v = (top + (bot - top) * fy) * scale[ch] + offset[ch];
                if ((p.flags & 4u) != 0u)
                        dst[((b * 3u + ch) * p.out_h + oy) * p.out_w + ox] = v;
                else
                        dst[(row * p.out_w + ox) * 3u + ch] = v;
        }
}
