/* SPDX-License-Identifier: MIT */
#pragma once

/* The safetensors layout, float32 only: 8-byte little-endian header length,
 * a JSON header {"name": {"dtype":"F32","shape":[…],"data_offsets":[b,e]},
 * "__metadata__": {string: string}}, padded with spaces to 8 bytes, then the
 * data. Enough for Fluff's own weight files; other dtypes are refused. */

#include <json-c/json.h>

#include "fluff/error.h"

#define ST_MAX_DIMS 4
#define ST_MAX_HEADER (16u << 20)

typedef struct StTensor {
        const char *name; /* borrowed */
        unsigned n_dims;
        uint64_t dims[ST_MAX_DIMS];
        const float *data; /* borrowed */
} StTensor;

/* Builds the whole file in memory; meta is a NULL-terminated key, value list. */
int st_build(const StTensor *t, size_t n, const char *const *meta, void **ret_buf, size_t *ret_size);

typedef struct StFile {
        char *buf; /* owned: the whole file */
        size_t size;
        json_object *header; /* owned */
        const char *data;    /* into buf, 8-byte aligned offset */
        size_t data_size;
} StFile;

int st_parse(char *buf, size_t size, StFile *ret, Error *e); /* takes buf, also on failure */
void st_file_done(StFile *f);
/* A metadata string, or NULL. */
const char *st_meta(const StFile *f, const char *key);
/* The tensor's floats after checking its dtype and shape; -ENOENT if absent. */
int st_tensor(const StFile *f, const char *name, const uint64_t *dims, unsigned n_dims, const float **ret,
              Error *e);
