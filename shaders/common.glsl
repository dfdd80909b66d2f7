// SPDX-License-Identifier: MIT
// Included by every shader (after its own #version and include extension):
// what they all rely on lives here, once.
//
// Conventions every kernel follows (the host side is daemon/vk/op-<name>.c):
// - storage buffers in set 0, bindings 0…n-1, in the order of the op's
//   record() arguments; outputs are marked writeonly or plain, inputs readonly;
// - shapes arrive in the push-constant block `p` (mirrored by a C struct with a
//   _Static_assert on its size), tile and workgroup sizes as specialization
//   constants (constant_id 0 = local_size_x unless the shader says otherwise);
// - every invocation bounds-checks what it reads and writes.
#ifndef FLUFF_COMMON_GLSL
#define FLUFF_COMMON_GLSL

// The flat index of this invocation for a 1-D problem dispatched with
// vk_engine_groups_1d() (which spills into y past the device's x limit).
// A macro: gl_WorkGroupSize is only known after the shader's layout line.
#define FLAT_INDEX() ((gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * gl_WorkGroupSize.x + gl_LocalInvocationID.x)
// Total invocations of such a dispatch, for grid-stride loops.
#define FLAT_STRIDE() (gl_NumWorkGroups.x * gl_NumWorkGroups.y * gl_WorkGroupSize.x)

// Activations fused into GEMM and friends; the C side is VkActivation in vk.h.
#define ACT_NONE 0u
#define ACT_RELU 1u
#define ACT_RELU6 2u

float activate(float x, uint act)
{
        // max/clamp may drop a NaN; PyTorch keeps it, and so do we.
        if (isnan(x))
                return x;
        if (act == ACT_RELU)
                return max(x, 0.0);
        if (act == ACT_RELU6)
                return clamp(x, 0.0, 6.0);
        return x;
}

// d activate / dx given the activation's output y (ReLU6 gradient is 0 at the
// clamps, as in PyTorch). NaN in y propagates as NaN.
float activate_grad(float y, float dy, uint act)
{
        if (isnan(y))
                return y;
        if (act == ACT_RELU)
                return y > 0.0 ? dy : 0.0;
        if (act == ACT_RELU6)
                return (y > 0.0 && y < 6.0) ? dy : 0.0;
        return dy;
}

#endif
