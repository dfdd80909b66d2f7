/* SPDX-License-Identifier: MIT */
#pragma once

/* Feature rows as floats or as half floats (half.h). A training holds its
 * image rows as half floats (ModelDataset.features_half, issue 16): 9 KB a
 * backbone embedding instead of 18 KB; each consumer converts a row as it
 * reads it, into a scratch row of dim floats. */

#include <stddef.h>
#include <stdint.h>

#include "half.h"

typedef struct FeatureRows {
        const float *f32;    /* n × dim, or NULL */
        const uint16_t *f16; /* n × dim half floats, where f32 is NULL */
        uint32_t dim;
} FeatureRows;

static inline FeatureRows feature_rows_f32(const float *x, uint32_t dim)
{
        return (FeatureRows){.f32 = x, .dim = dim};
}

/* Row i as floats: the row itself, or converted into scratch (dim floats). */
static inline const float *feature_row(const FeatureRows *x, size_t i, float *scratch)
{
        if (x->f32)
                return x->f32 + i * x->dim;
        const uint16_t *h = x->f16 + i * x->dim;
        for (uint32_t j = 0; j < x->dim; j++)
                scratch[j] = half_to_float(h[j]);
        return scratch;
}

/* The rows from i on. */
static inline FeatureRows feature_rows_from(const FeatureRows *x, size_t i)
{
        FeatureRows r = *x;
        if (r.f32)
                r.f32 += i * x->dim;
        else
                r.f16 += i * x->dim;
        return r;
}

static inline void floats_to_half(const float *in, uint16_t *out, size_t n)
{
        for (size_t i = 0; i < n; i++)
                out[i] = half_from_float(in[i]);
}
