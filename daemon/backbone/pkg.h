/* SPDX-License-Identifier: MIT */
#pragma once

/* Reads a few named files out of an npm package: the tarball `npm pack` writes
 * (gzip + tar, every path under "package/"), a plain tar, or an unpacked folder. */

#include "import-error.h"

typedef struct PkgBlob {
        char *data; /* owned, NUL-terminated */
        size_t size;
} PkgBlob;

/* Limits: a package file we keep is at most this big; the whole archive, once
 * uncompressed, at most PKG_MAX_TOTAL. */
#define PKG_MAX_FILE (64u << 20)
#define PKG_MAX_TOTAL (UINT64_C(1) << 30)

/* wanted[] are paths relative to the package root ("dist/models/…"). On
 * success every ret[i] is filled; a missing file is -ENOENT naming it. A
 * tarball is read to its end, so a truncated or corrupt one is refused even
 * when the wanted files come early. */
int pkg_read_files(const char *src, const char *const *wanted, size_t n_wanted, PkgBlob *ret,
                   ImportError *e);
void pkg_blobs_free(PkgBlob *b, size_t n);
