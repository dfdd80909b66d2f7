/* SPDX-License-Identifier: MIT */
#pragma once

/* Reads a few named files out of an npm package: the tarball `npm pack` writes
 * (gzip + tar, every path under "package/"), a plain tar, or an unpacked folder. */

#include <stdatomic.h>

#include "fluff/error.h"

typedef struct PkgBlob {
        char *data; /* owned, NUL-terminated */
        size_t size;
} PkgBlob;

/* Limits: a package file we keep is at most this big; the whole archive, once
 * uncompressed, at most PKG_MAX_TOTAL. */
#define PKG_MAX_FILE (64u << 20)
#define PKG_MAX_TOTAL (UINT64_C(1) << 30)
/* What may follow the tar end marker: tar pads its last record to 10 KiB of
 * zeros; anything much longer is not a package (a gzip bomb after the end
 * would otherwise be decompressed in full). */
#define PKG_MAX_TRAILER (64u << 10)

/* wanted[] are paths relative to the package root ("dist/models/…"). On
 * success every ret[i] is filled; a missing file is -ENOENT naming it. A
 * tarball is read to its end, so a truncated or corrupt one is refused even
 * when the wanted files come early. */
int pkg_read_files(const char *src, const char *const *wanted, size_t n_wanted, PkgBlob *ret, Error *e);
/* The same from an open regular file (fd is not closed; a folder cannot be
 * passed this way); name is what messages call it. cancel (may be NULL) is
 * read between blocks: once true the read stops with -ECANCELED. */
int pkg_read_fd(int fd, const char *name, const char *const *wanted, size_t n_wanted,
                const atomic_bool *cancel, PkgBlob *ret, Error *e);
void pkg_blobs_free(PkgBlob *b, size_t n);
