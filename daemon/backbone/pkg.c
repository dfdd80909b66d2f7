/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <sys/stat.h>
#include <zlib.h>

#include "pkg.h"

#define TAR_BLOCK 512

void pkg_blobs_free(PkgBlob *b, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(b[i].data);
                b[i].data = NULL;
                b[i].size = 0;
        }
}

static void gzclosep(gzFile *gz)
{
        if (*gz)
                (void)gzclose(*gz);
}

/* zlib's message starts with the descriptor ("<fd:3>: "), which means nothing
 * to a user. */
static int gz_fail(gzFile gz, const char *src, Error *e)
{
        int zr = Z_OK;
        const char *m = gzerror(gz, &zr), *colon = m ? strstr(m, ": ") : NULL;

        if (zr == Z_OK || zr == Z_BUF_ERROR)
                return error_setf(e, -EBADMSG, "Package \"%s\" is truncated (the archive ends early)", src);
        return error_setf(e, -EBADMSG, "Package \"%s\" is not a valid gzip archive: %s", src,
                          colon     ? colon + 2
                          : m && *m ? m
                                    : "read error");
}

/* Reads exactly n bytes; a short read is a truncated archive, a zlib error a
 * corrupt one. */
static int gz_read_exact(gzFile gz, void *buf, size_t n, const char *src, Error *e)
{
        size_t got = 0;

        while (got < n) {
                unsigned chunk = (unsigned)MIN(n - got, (size_t)1 << 24);
                int k = gzread(gz, (char *)buf + got, chunk);
                if (k <= 0)
                        return gz_fail(gz, src, e);
                got += (size_t)k;
        }
        return 0;
}

static int parse_octal(const char *p, size_t n, uint64_t *ret)
{
        uint64_t v = 0;
        size_t i = 0;

        while (i < n && p[i] == ' ')
                i++;
        if (i == n || p[i] < '0' || p[i] > '7')
                return -EINVAL;
        for (; i < n && p[i] >= '0' && p[i] <= '7'; i++) {
                if (v > (UINT64_MAX >> 3))
                        return -ERANGE;
                v = (v << 3) | (uint64_t)(p[i] - '0');
        }
        for (; i < n; i++)
                if (p[i] != ' ' && p[i] != '\0')
                        return -EINVAL;
        *ret = v;
        return 0;
}

static bool tar_checksum_ok(const unsigned char *h)
{
        uint64_t want, sum = 0;

        if (parse_octal((const char *)h + 148, 8, &want) < 0)
                return false;
        for (size_t i = 0; i < TAR_BLOCK; i++)
                sum += (i >= 148 && i < 156) ? ' ' : h[i];
        return sum == want;
}

static bool block_is_zero(const unsigned char *h)
{
        for (size_t i = 0; i < TAR_BLOCK; i++)
                if (h[i])
                        return false;
        return true;
}

/* npm tarballs put everything under "package/"; other packers use another
 * first component, so it is dropped whatever it is called. */
static const char *strip_first(const char *name)
{
        const char *s = strchr(name, '/');
        return s ? s + 1 : name;
}

static int wanted_index(const char *name, const char *const *wanted, size_t n)
{
        const char *rel = strip_first(name);
        for (size_t i = 0; i < n; i++)
                if (streq(rel, wanted[i]))
                        return (int)i;
        return -1;
}

static bool cancelled(const atomic_bool *cancel)
{
        return cancel && atomic_load_explicit(cancel, memory_order_relaxed);
}

/* src names the package in messages; fd is ours (closed here). */
static int read_tar(const char *src, int fd, const char *const *wanted, size_t n_wanted,
                    const atomic_bool *cancel, PkgBlob *ret, Error *e)
{
        _cleanup_(gzclosep) gzFile gz = NULL;
        unsigned char h[TAR_BLOCK];
        char longname[4096] = "";
        uint64_t total = 0;
        int r;

        gz = gzdopen(fd, "rb");
        if (!gz) {
                (void)close(fd);
                return error_setf(e, -ENOMEM, "Cannot read package \"%s\": out of memory", src);
        }

        for (;;) {
                uint64_t size;
                char name[sizeof(longname)];

                if (cancelled(cancel))
                        return error_setf(e, -ECANCELED, "The import was cancelled");
                r = gz_read_exact(gz, h, sizeof(h), src, e);
                if (r < 0)
                        return r;
                if (block_is_zero(h))
                        break;
                if (!tar_checksum_ok(h))
                        return error_setf(
                                e, -EBADMSG,
                                "Package \"%s\" is not a tar archive (or it is corrupt): bad header "
                                "checksum",
                                src);
                if (parse_octal((const char *)h + 124, 12, &size) < 0)
                        return error_setf(e, -EBADMSG, "Package \"%s\" has a tar header with a bad size",
                                          src);
                total += size;
                if (total > PKG_MAX_TOTAL)
                        return error_setf(e, -EFBIG, "Package \"%s\" unpacks to more than %llu bytes", src,
                                          (unsigned long long)PKG_MAX_TOTAL);

                char type = (char)h[156];
                if (longname[0]) {
                        memcpy(name, longname, sizeof(name));
                        longname[0] = '\0';
                } else if (memcmp(h + 257, "ustar", 5) == 0 && h[345]) {
                        (void)snprintf(name, sizeof(name), "%.155s/%.100s", (const char *)h + 345,
                                       (const char *)h);
                } else
                        (void)snprintf(name, sizeof(name), "%.100s", (const char *)h);

                uint64_t padded = (size + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
                int idx = (type == '0' || type == '\0') ? wanted_index(name, wanted, n_wanted) : -1;

                if (type == 'L' && size < sizeof(longname)) {
                        r = gz_read_exact(gz, longname, (size_t)padded, src, e);
                        if (r < 0)
                                return r;
                        longname[size] = '\0';
                        continue;
                }
                if (idx >= 0) {
                        if (size > PKG_MAX_FILE)
                                return error_setf(e, -EFBIG, "File \"%s\" in package \"%s\" is too large",
                                                  name, src);
                        free(ret[idx].data);
                        ret[idx].data = malloc((size_t)padded + 1);
                        if (!ret[idx].data)
                                return error_setf(e, -ENOMEM, "Out of memory reading \"%s\"", name);
                        r = gz_read_exact(gz, ret[idx].data, (size_t)padded, src, e);
                        if (r < 0)
                                return r;
                        ret[idx].data[size] = '\0';
                        ret[idx].size = (size_t)size;
                        continue;
                }
                /* skip what we do not need, still through zlib so its CRC is checked */
                for (uint64_t left = padded; left > 0;) {
                        char buf[16384];
                        size_t n = (size_t)MIN(left, (uint64_t)sizeof(buf));
                        if (cancelled(cancel))
                                return error_setf(e, -ECANCELED, "The import was cancelled");
                        r = gz_read_exact(gz, buf, n, src, e);
                        if (r < 0)
                                return r;
                        left -= n;
                }
        }

        /* Drain to the end: gzip checks its CRC and length only there. Only
         * tar's padding may follow the end marker, so the drain is bounded. */
        for (size_t after = 0;;) {
                char buf[16384];
                int k = gzread(gz, buf, sizeof(buf));
                if (k < 0)
                        return gz_fail(gz, src, e);
                if (k == 0)
                        break;
                after += (size_t)k;
                if (after > PKG_MAX_TRAILER)
                        return error_setf(e, -EBADMSG,
                                          "Package \"%s\" has more than %u KiB of data after the end of its "
                                          "archive",
                                          src, PKG_MAX_TRAILER >> 10);
        }
        int zr;
        (void)gzerror(gz, &zr);
        if (zr != Z_OK)
                return gz_fail(gz, src, e);
        return 0;
}

static int read_dir(const char *src, const char *const *wanted, size_t n_wanted, PkgBlob *ret, Error *e)
{
        /* the folder `tar xzf` leaves ("package/") or that folder's parent */
        static const char *const prefixes[] = {"", "package/"};

        for (size_t i = 0; i < n_wanted; i++) {
                int r = -ENOENT;
                for (size_t p = 0; p < ELEMENTSOF(prefixes) && r == -ENOENT; p++) {
                        _cleanup_free_ char *path = NULL;
                        if (asprintf(&path, "%s/%s%s", src, prefixes[p], wanted[i]) < 0)
                                return error_setf(e, -ENOMEM, "Out of memory");
                        r = read_file_full(path, PKG_MAX_FILE, &ret[i].data, &ret[i].size);
                        if (r < 0 && r != -ENOENT)
                                return error_setf(e, r, "Cannot read \"%s\": %s", path, strerror(-r));
                }
        }
        return 0;
}

int pkg_read_files(const char *src, const char *const *wanted, size_t n_wanted, PkgBlob *ret, Error *e)
{
        struct stat st;
        int r;

        if (stat(src, &st) < 0)
                return error_setf(e, -errno, "Cannot open package \"%s\": %s", src, strerror(errno));
        for (size_t i = 0; i < n_wanted; i++)
                ret[i] = (PkgBlob){};
        if (S_ISDIR(st.st_mode))
                r = read_dir(src, wanted, n_wanted, ret, e);
        else {
                int fd = open(src, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
                if (fd < 0)
                        return error_setf(e, -errno, "Cannot open package \"%s\": %s", src, strerror(errno));
                /* a FIFO or a device would block or never end */
                if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                        (void)close(fd);
                        return error_setf(e, -EBADF, "Package \"%s\" is not a regular file or folder", src);
                }
                r = read_tar(src, fd, wanted, n_wanted, NULL, ret, e);
        }
        if (r >= 0)
                for (size_t i = 0; i < n_wanted; i++)
                        if (!ret[i].data) {
                                r = error_setf(e, -ENOENT, "Package \"%s\" has no file \"%s\"", src,
                                               wanted[i]);
                                break;
                        }
        if (r < 0)
                pkg_blobs_free(ret, n_wanted);
        return r;
}

int pkg_read_fd(int fd, const char *name, const char *const *wanted, size_t n_wanted,
                const atomic_bool *cancel, PkgBlob *ret, Error *e)
{
        struct stat st;
        int r;

        for (size_t i = 0; i < n_wanted; i++)
                ret[i] = (PkgBlob){};
        if (fstat(fd, &st) < 0)
                return error_setf(e, -errno, "Cannot read package \"%s\": %s", name, strerror(errno));
        if (!S_ISREG(st.st_mode))
                return error_setf(e, -EBADF, "Package \"%s\" is not a regular file", name);
        /* zlib reads through its own descriptor and closes it */
        int copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (copy < 0)
                return error_setf(e, -errno, "Cannot read package \"%s\": %s", name, strerror(errno));
        if (lseek(copy, 0, SEEK_SET) < 0) {
                r = -errno;
                (void)close(copy);
                return error_setf(e, r, "Cannot read package \"%s\": %s", name, strerror(-r));
        }
        r = read_tar(name, copy, wanted, n_wanted, cancel, ret, e);
        if (r >= 0)
                for (size_t i = 0; i < n_wanted; i++)
                        if (!ret[i].data) {
                                r = error_setf(e, -ENOENT, "Package \"%s\" has no file \"%s\"", name,
                                               wanted[i]);
                                break;
                        }
        if (r < 0)
                pkg_blobs_free(ret, n_wanted);
        return r;
}
