/* SPDX-License-Identifier: MIT */
#pragma once

/* Image preprocessing and augmentation on device (preprocess-shape.h):
 * src is a U8 tensor of p->n RGB images, p->src_h × p->src_w × 3 each; dst an
 * F32 tensor of p->n × p->out_h × p->out_w × 3 (NHWC or, with PREPROC_NCHW,
 * planar). The window must fit the source and be at least 1×1: -EINVAL
 * otherwise. */

#include "preprocess-shape.h"
#include "vk.h"

typedef struct OpPreprocess OpPreprocess;

int op_preprocess_new(VkEngine *e, OpPreprocess **ret);
OpPreprocess *op_preprocess_free(OpPreprocess *op);
DEFINE_TRIVIAL_CLEANUP_FUNC(OpPreprocess *, op_preprocess_free);

int op_preprocess_record(OpPreprocess *op, VkRecorder *r, const PreprocShape *p, VkTensor *src, VkTensor *dst);
