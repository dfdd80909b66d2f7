/* SPDX-License-Identifier: MIT */
#pragma once

/* General matrix multiply with fused bias and activation (shaders/gemm.comp):
 *
 *     C[m×n] = act(op(A)·op(B) + bias + (accumulate ? C : 0))
 *
 * op(A) is m×k: A is stored m×k, or k×m with trans_a. op(B) is k×n: B is
 * stored k×n, or n×k with trans_b. All row-major float tensors; bias has n
 * elements or is NULL. The usual layer calls:
 *     forward   Y  = act(X·W + b)     X: batch×in, W: in×out
 *     backward  dW = Xᵀ·dY            trans_a
 *               dX = dY·Wᵀ            trans_b
 * Errors: -EINVAL for a zero dimension, a tensor smaller than its matrix, or
 * a non-float tensor; -E2BIG when A or B exceeds vk_engine_max_texel_elements()
 * (A and B are read as texel buffers: on lavapipe that halves GEMM time).
 * When n % 4 == 0 (and !trans_b) B is read 4 columns per fetch: keep layer
 * widths multiples of 4 where you can. Two inputs without a concat:
 * Y = X1·W1 + X2·W2 is a GEMM then a second with accumulate. Needs subgroup
 * operations (op_gemm_new: -EOPNOTSUPP without them).
 *
 * On a CPU device the fastest path wants n % 4 == 0, k % 4 == 0 and 16-byte
 * aligned tensors (C and bias stored 4 columns at a time, A fetched 4 k-steps
 * at a time). A B of k·n ≥ 256 K floats is first packed into column panels in
 * a buffer the op owns (grown as needed, the old one kept until the op is
 * freed): so an OpGemm serves one recorder at a time, as every op does. */

#include "vk.h"

typedef struct OpGemm OpGemm;

typedef struct OpGemmParams {
        uint32_t m, n, k;
        bool trans_a, trans_b;
        VkActivation act;
        bool accumulate; /* add C's previous contents before the activation */
} OpGemmParams;

/* Register tiling: a workgroup is one subgroup of `lanes` invocations (must be
 * the device's subgroup size) computing rows × (lanes·cols) of C; each lane
 * holds rows·cols accumulators. Zero fields take the device's defaults; with
 * cols left zero on a CPU device each call also may take narrow tiles (4
 * columns a lane, twice the rows) when they compute fewer clamped columns
 * (n = 16, 24, 96, 160: MobileNetV2's narrow layers). Pipelines are built on
 * first use. */
typedef struct OpGemmTiles {
        uint32_t lanes, rows, cols;
} OpGemmTiles;

int op_gemm_new(VkEngine *e, OpGemm **ret);
/* With explicit tiles (benchmarks and tuning); -EINVAL for tiles the shader
 * cannot take, -EOPNOTSUPP on a device without subgroup operations. */
int op_gemm_new_tiled(VkEngine *e, const OpGemmTiles *tiles, OpGemm **ret);
OpGemm *op_gemm_free(OpGemm *op);
DEFINE_TRIVIAL_CLEANUP_FUNC(OpGemm *, op_gemm_free);
void op_gemm_get_tiles(const OpGemm *op, OpGemmTiles *ret);

int op_gemm_record(OpGemm *op, VkRecorder *r, VkTensor *a, VkTensor *b, VkTensor *bias, VkTensor *c,
                   const OpGemmParams *p);
