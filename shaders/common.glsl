// SPDX-License-Identifier: MIT
// Included by every shader (after its own #version and include extension):
// what they all rely on lives here, once.
#ifndef FLUFF_COMMON_GLSL
#define FLUFF_COMMON_GLSL
#endif
