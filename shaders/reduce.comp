// SPDX-License-Identifier: MIT
// Sum or mean of a rows×cols matrix along one axis: axis 0 → cols outputs
// (e.g. a bias gradient), axis 1 → rows outputs (rows = 1: the whole tensor).
// One workgroup per output; lanes stride over the reduced axis, then a
// shared-memory tree: deterministic, the same order on every run.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0) in;

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Push {
        uint rows, cols;
        uint axis;
        uint mean;
} p;

shared float partial[gl_WorkGroupSize.x];

void main()
{
        uint out_i = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
        uint n_out = p.axis == 0u ? p.cols : p.rows;
        uint len = p.axis == 0u ? p.rows : p.cols;
        uint lane = gl_LocalInvocationID.x;
        // Whole workgroups past the end still reach every barrier() below.
        bool live = out_i < n_out;

        float s = 0.0;
        if (live)
                for (uint j = lane; j < len; j += gl_WorkGroupSize.x)
                        s += p.axis == 0u ? x[j * p.cols + out_i] : x[out_i * p.cols + j];
        partial[lane] = s;
        barrier();
        for (uint w = gl_WorkGroupSize.x / 2u; w > 0u; w /= 2u) {
                if (lane < w)
                        partial[lane] += partial[lane + w];
                barrier();
        }
        if (live && lane == 0u)
                y[out_i] = p.mean != 0u ? partial[0] / float(len) : partial[0];
}
