/* SPDX-License-Identifier: MIT */
#pragma once

/* The importer reports one human sentence about what is wrong with a package
 * (the first failure found), so the daemon can hand it to the user as is. */

#include "fluff/util.h"

typedef struct ImportError {
        char msg[512];
} ImportError;

/* Records the message unless one is already there, and returns r (negative). */
int import_error(ImportError *e, int r, const char *fmt, ...) _printf_(3, 4);
