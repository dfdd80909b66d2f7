// SPDX-License-Identifier: MIT
// Shared by the convolution-family shaders: the one push-constant block
// (mirrored by ConvPush in daemon/vk/ops/conv-push.h) and the fused activation.
#ifndef FLUFF_CONV_GLSL
#define FLUFF_CONV_GLSL

// NHWC input n×h×w×c, output n×oh×ow×k; kernel kh×kw, strides sh/sw, and the
// top/left padding (bottom/right follow from oh/ow). act: 0 none, 1 ReLU,
// 2 ReLU6. flags bit 0: a bias is bound.
layout(push_constant) uniform Push {
        uint n, h, w, c;
        uint oh, ow, k, kh;
        uint kw, sh, sw, pt;
        uint pl, act, flags, aux;
} p;

// The workgroup row of a dispatch spilled from y into z (conv_groups_yz()).
#define CONV_GROUP_ROW() (gl_WorkGroupID.z * gl_NumWorkGroups.y + gl_WorkGroupID.y)

// Comparisons rather than clamp(), whose NaN result is undefined: NaN passes
// through, as in the C reference.
float conv_act(float v)
{
        if (p.act != 0u)
                v = v < 0.0 ? 0.0 : v;
        if (p.act == 2u)
                v = v > 6.0 ? 6.0 : v;
        return v;
}

#endif
