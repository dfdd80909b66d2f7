/* SPDX-License-Identifier: MIT */
#pragma once

/* The TF.js weight manifest: names, shapes, dtypes and uint8 quantisation of
 * the tensors packed back to back in the weight shards. */

#include <json-c/json.h>

#include "fluff/error.h"

#define IW_MAX_DIMS 4

typedef struct IwTensor {
        char *name; /* owned */
        unsigned n_dims;
        unsigned dims[IW_MAX_DIMS];
        size_t count;
        float *data; /* owned, dequantised */
} IwTensor;

typedef struct IwSet {
        IwTensor *t;
        size_t n;
} IwSet;

/* Decodes every tensor of the manifest from the shard bytes (value = min +
 * scale·q for uint8/uint16, float32 as is). The bytes must match the manifest
 * exactly. */
int iw_decode(json_object *manifest, const uint8_t *bytes, size_t size, IwSet *ret, Error *e);
void iw_set_done(IwSet *s);
const IwTensor *iw_find(const IwSet *s, const char *name);
