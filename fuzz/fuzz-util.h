/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared by the libFuzzer targets: a private folder for files a target must
 * hand over by path, and a loud check for the invariants the parsers promise
 * (a broken promise is a crash, so the fuzzer keeps the input). */

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fluff/text.h"
#include "fluff/util.h"

#define FUZZ_CHECK(expr)                                                                                    \
        do {                                                                                                \
                if (!(expr)) {                                                                              \
                        fprintf(stderr, "%s:%d: promise broken: %s\n", __FILE__, __LINE__, #expr);          \
                        abort();                                                                            \
                }                                                                                           \
        } while (0)

/* Text that may reach the bus or a terminal: clean UTF-8 without controls. */
static inline void fuzz_check_text(const char *s)
{
        if (s)
                FUZZ_CHECK(text_is_clean(s, strlen(s), 0));
}

/* A folder of this process's own, made once. */
static inline const char *fuzz_dir(void)
{
        static char dir[64];
        if (!dir[0]) {
                (void)snprintf(dir, sizeof dir, "/tmp/fluff-fuzz-XXXXXX");
                FUZZ_CHECK(mkdtemp(dir));
        }
        return dir;
}

/* data written to fuzz_dir()/name (mode 0600, no fsync: speed matters
 * here); the path (static storage). */
static inline const char *fuzz_file(const char *name, const uint8_t *data, size_t size)
{
        static char path[128];
        (void)snprintf(path, sizeof path, "%s/%s", fuzz_dir(), name);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        FUZZ_CHECK(fd >= 0);
        for (size_t off = 0; off < size;) {
                ssize_t n = write(fd, data + off, size - off);
                FUZZ_CHECK(n > 0);
                off += (size_t)n;
        }
        (void)close(fd);
        return path;
}

/* data in an anonymous in-memory file, read from its start. */
static inline int fuzz_memfd(const uint8_t *data, size_t size)
{
        int fd = memfd_create("fuzz", MFD_CLOEXEC);
        FUZZ_CHECK(fd >= 0);
        for (size_t off = 0; off < size;) {
                ssize_t n = write(fd, data + off, size - off);
                FUZZ_CHECK(n > 0);
                off += (size_t)n;
        }
        FUZZ_CHECK(lseek(fd, 0, SEEK_SET) == 0);
        return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
