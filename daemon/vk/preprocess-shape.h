/* SPDX-License-Identifier: MIT */
#pragma once

/* Image preprocessing and augmentation on device: a batch of uint8 RGB images
 * (HWC, packed) → a window of each (fixed, or random per image from a seed) →
 * bilinear resize → optional horizontal flip → out = pixel * scale + offset
 * per channel, as NHWC (default) or NCHW floats. MobileNetV2 in TF.js wants
 * x/127.5 - 1 (scale 1/127.5, offset -1); nsfwjs wants x/255. */

#include <stdint.h>

enum {
        PREPROC_RANDOM_CROP = 1u << 0, /* window origin drawn per image from seed */
        PREPROC_RANDOM_FLIP = 1u << 1, /* flip drawn per image from seed */
        PREPROC_NCHW = 1u << 2,        /* planar output instead of NHWC */
        PREPROC_HALF_PIXEL = 1u << 3,  /* half-pixel centres; off = TF.js resizeBilinear's default */
        PREPROC_FLIP = 1u << 4,        /* flip every image */
        _PREPROC_FLAGS_ALL = (1u << 5) - 1,
        /* Not for callers (refused): op_preprocess_record() sets it on the identity. */
        PREPROC_IDENTITY = 1u << 5,
};

typedef struct PreprocShape {
        uint32_t n, src_h, src_w; /* source images, all the same size */
        uint32_t crop_h, crop_w;  /* window taken from each */
        uint32_t crop_y, crop_x;  /* its origin unless PREPROC_RANDOM_CROP */
        uint32_t out_h, out_w;
        uint32_t flags;
        uint32_t seed;
        float scale[3], offset[3];
} PreprocShape;

/* The hash the shader uses (lowbias32), so a test can recompute its draws. */
static inline uint32_t preproc_hash(uint32_t x)
{
        x ^= x >> 16;
        x *= 0x7feb352du;
        x ^= x >> 15;
        x *= 0x846ca68bu;
        x ^= x >> 16;
        return x;
}

/* The window origin and flip of image i. */
static inline void preproc_draw(const PreprocShape *p, uint32_t i, uint32_t *ret_y, uint32_t *ret_x,
                                uint32_t *ret_flip)
{
        uint32_t h = preproc_hash(p->seed ^ preproc_hash(i));

        *ret_y = p->flags & PREPROC_RANDOM_CROP ? preproc_hash(h + 1) % (p->src_h - p->crop_h + 1)
                                                : p->crop_y;
        *ret_x = p->flags & PREPROC_RANDOM_CROP ? preproc_hash(h + 2) % (p->src_w - p->crop_w + 1)
                                                : p->crop_x;
        *ret_flip = p->flags & PREPROC_RANDOM_FLIP ? preproc_hash(h + 3) & 1u : !!(p->flags & PREPROC_FLIP);
}
