/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "fluff/shaders.h"

const FluffShaderEntry *fluff_shader_find(const char *name)
{
        for (const FluffShaderEntry *e = fluff_shader_table; e->name; e++)
                if (strcmp(e->name, name) == 0)
                        return e;
        return NULL;
}
