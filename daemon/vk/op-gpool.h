/* SPDX-License-Identifier: MIT */
#pragma once

/* Global average and max pooling over the spatial axes of an NHWC tensor
 * (x [n][hw][c] → y [n][c]) and their backward passes (pool-shape.h). Max
 * pooling records the argmax ([n][c], U32) that its backward routes to. */

#include "pool-shape.h"
#include "vk.h"

typedef struct OpGpool OpGpool;

int op_gpool_new(VkEngine *e, OpGpool **ret);
OpGpool *op_gpool_free(OpGpool *op);
DEFINE_TRIVIAL_CLEANUP_FUNC(OpGpool *, op_gpool_free);

/* argmax is required for POOL_MAX and ignored (may be NULL) for POOL_AVG.
 * -E2BIG when x exceeds the device's texel-buffer limit. */
int op_gpool_record(OpGpool *op, VkRecorder *r, PoolMode mode, uint32_t n, uint32_t hw, uint32_t c, VkTensor *x,
                    VkTensor *y, VkTensor *argmax);
/* dx [n][hw][c] from dy [n][c], overwriting dx. */
int op_gpool_record_bwd(OpGpool *op, VkRecorder *r, PoolMode mode, uint32_t n, uint32_t hw, uint32_t c,
                        VkTensor *dy, VkTensor *argmax, VkTensor *dx);
