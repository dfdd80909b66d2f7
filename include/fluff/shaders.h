/* SPDX-License-Identifier: MIT */
#pragma once

/* SPIR-V of every shaders/<op>.comp, compiled and validated at build time. */

#include <stddef.h>
#include <stdint.h>

typedef struct FluffShaderEntry {
        const char *name;          /* file name without ".comp" */
        const unsigned char *code; /* 4-byte aligned SPIR-V words */
        const size_t *size;        /* in bytes */
} FluffShaderEntry;

extern const FluffShaderEntry fluff_shader_table[]; /* ends with a NULL name */

/* Returns the shader called name, or NULL. */
const FluffShaderEntry *fluff_shader_find(const char *name);
