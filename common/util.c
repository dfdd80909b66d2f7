/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fluff/util.h"

char **strv_free(char **l)
{
        if (!l)
                return NULL;
        for (char **i = l; *i; i++)
                free(*i);
        free(l);
        return NULL;
}

size_t strv_length(char *const *l)
{
        size_t n = 0;
        while (l && l[n])
                n++;
        return n;
}

int strv_push(char ***l, char *value)
{
        size_t n = strv_length(*l);
        char **c = realloc(*l, sizeof(char *) * (n + 2));
        if (!c) {
                free(value);
                return -ENOMEM;
        }
        c[n] = value;
        c[n + 1] = NULL;
        *l = c;
        return 0;
}

char *strv_join(char *const *l, const char *sep)
{
        size_t n = 0, k = strlen(sep);
        char *s, *p;

        for (size_t i = 0; l && l[i]; i++)
                n += strlen(l[i]) + (i > 0 ? k : 0);
        s = p = malloc(n + 1);
        if (!s)
                return NULL;
        for (size_t i = 0; l && l[i]; i++) {
                if (i > 0)
                        p = stpcpy(p, sep);
                p = stpcpy(p, l[i]);
        }
        *p = 0;
        return s;
}

bool strv_contains(char *const *l, const char *s)
{
        for (size_t i = 0; l && l[i]; i++)
                if (streq(l[i], s))
                        return true;
        return false;
}

void erase_and_free(char *s)
{
        if (!s)
                return;
        /* volatile so the compiler cannot drop the wipe of memory about to be freed */
        for (volatile char *p = s; *p; p++)
                *p = 0;
        free(s);
}

int safe_atou64(const char *s, uint64_t *ret)
{
        char *end;

        if (isempty(s) || !isdigit((unsigned char)s[0]))
                return -EINVAL;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (*end)
                return -EINVAL;
        *ret = v;
        return 0;
}

int safe_atou(const char *s, unsigned *ret)
{
        uint64_t v;
        int r = safe_atou64(s, &v);
        if (r < 0)
                return r;
        if (v > UINT_MAX)
                return -ERANGE;
        *ret = (unsigned)v;
        return 0;
}

int safe_atoi(const char *s, int *ret)
{
        char *end;

        if (isempty(s))
                return -EINVAL;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno == ERANGE || v < INT_MIN || v > INT_MAX)
                return -ERANGE;
        if (*end || isspace((unsigned char)s[0]))
                return -EINVAL;
        *ret = (int)v;
        return 0;
}

int safe_atod(const char *s, double *ret)
{
        char *end;

        if (isempty(s) || isspace((unsigned char)s[0]))
                return -EINVAL;
        errno = 0;
        double v = strtod(s, &end);
        if (errno == ERANGE)
                return -ERANGE;
        if (*end || !isfinite(v))
                return -EINVAL;
        *ret = v;
        return 0;
}

int parse_duration_s(const char *s, uint64_t *ret)
{
        uint64_t total = 0;
        const char *p = s;

        if (isempty(s))
                return -EINVAL;
        while (*p) {
                uint64_t v = 0, mult;
                if (!isdigit((unsigned char)*p))
                        return -EINVAL;
                while (isdigit((unsigned char)*p)) {
                        if (v > UINT64_MAX / 10)
                                return -ERANGE;
                        v = v * 10 + (uint64_t)(*p++ - '0');
                }
                switch (*p) {
                case 0:
                case 's':
                        mult = 1;
                        break;
                case 'm':
                        mult = 60;
                        break;
                case 'h':
                        mult = 3600;
                        break;
                case 'd':
                        mult = 86400;
                        break;
                default:
                        return -EINVAL;
                }
                if (*p)
                        p++;
                if (v > (UINT64_MAX - total) / mult)
                        return -ERANGE;
                total += v * mult;
        }
        *ret = total;
        return 0;
}

bool is_hex_digest(const char *s, size_t len)
{
        if (!s || strlen(s) != len)
                return false;
        for (size_t i = 0; i < len; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

bool utf8_is_valid(const char *s, size_t len)
{
        const unsigned char *u = (const unsigned char *)s;

        for (size_t i = 0; i < len;) {
                unsigned c = u[i], n;
                uint32_t cp;

                if (c < 0x80) {
                        i++;
                        continue;
                }
                if (c >= 0xc2 && c <= 0xdf)
                        n = 1, cp = c & 0x1f;
                else if (c >= 0xe0 && c <= 0xef)
                        n = 2, cp = c & 0x0f;
                else if (c >= 0xf0 && c <= 0xf4)
                        n = 3, cp = c & 0x07;
                else
                        return false;
                if (i + n >= len)
                        return false;
                for (unsigned k = 1; k <= n; k++) {
                        if ((u[i + k] & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | (u[i + k] & 0x3f);
                }
                if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || (cp >= 0xd800 && cp <= 0xdfff) ||
                    cp > 0x10ffff)
                        return false;
                i += n + 1;
        }
        return true;
}

uint64_t now_usec(int clock)
{
        struct timespec ts;
        (void)clock_gettime(clock, &ts);
        return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

static int fsync_parent(const char *path)
{
        _cleanup_free_ char *dir = strdup(path);
        if (!dir)
                return -ENOMEM;
        char *slash = strrchr(dir, '/');
        if (slash == dir)
                slash[1] = 0;
        else if (slash)
                *slash = 0;
        else
                strcpy(dir, ".");
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fsync(fd) < 0)
                return -errno;
        return 0;
}

int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode)
{
        _cleanup_free_ char *tmp = NULL;
        int r;

        if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0)
                return -ENOMEM;
        _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fchmod(fd, mode) < 0) {
                r = -errno;
                goto fail;
        }
        for (const char *p = data; size > 0;) {
                ssize_t n = write(fd, p, size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        goto fail;
                }
                p += n;
                size -= (size_t)n;
        }
        if (fsync(fd) < 0) {
                r = -errno;
                goto fail;
        }
        if (rename(tmp, path) < 0) {
                r = -errno;
                goto fail;
        }
        return fsync_parent(path);
fail:
        (void)unlink(tmp);
        return r;
}

int read_file_full(const char *path, size_t max_size, char **ret_data, size_t *ret_size)
{
        /* O_NONBLOCK: a FIFO must not block the open (it is refused below) */
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        struct stat st;

        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADF;
        if ((uint64_t)st.st_size > max_size)
                return -EFBIG;
        _cleanup_free_ char *buf = malloc((size_t)st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        size_t have = 0;
        for (;;) {
                if (have > (size_t)st.st_size)
                        return -EFBIG;
                ssize_t n = read(fd, buf + have, (size_t)st.st_size + 1 - have);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                have += (size_t)n;
                /* grew while we read it: refuse rather than truncate silently */
                if (have > (size_t)st.st_size)
                        return -EFBIG;
        }
        buf[have] = 0;
        if (ret_size)
                *ret_size = have;
        *ret_data = TAKE_PTR(buf);
        return 0;
}

int mkdir_parents(const char *path, mode_t mode)
{
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        for (char *s = p + 1;; s++) {
                if (*s != '/' && *s != 0)
                        continue;
                char c = *s;
                *s = 0;
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return -errno;
                *s = c;
                if (!c)
                        break;
        }
        return 0;
}

int xdg_fluff_dir(const char *kind, const char *name, char **ret)
{
        static const struct {
                const char *kind, *fallback;
        } table[] = {
                {"DATA", ".local/share"},
                {"CONFIG", ".config"},
                {"CACHE", ".cache"},
        };
        char var[32];

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                if (!streq(kind, table[i].kind))
                        continue;
                (void)snprintf(var, sizeof(var), "XDG_%s_HOME", kind);
                const char *e = getenv(var);
                int n;
                /* the XDG spec says relative values are invalid and must be ignored */
                if (!isempty(e) && e[0] == '/')
                        n = asprintf(ret, "%s/fluff%s%s", e, name ? "/" : "", strempty(name));
                else {
                        const char *home = getenv("HOME");
                        if (isempty(home) || home[0] != '/')
                                return -ENXIO;
                        n = asprintf(ret, "%s/%s/fluff%s%s", home, table[i].fallback, name ? "/" : "",
                                     strempty(name));
                }
                return n < 0 ? -ENOMEM : 0;
        }
        return -EINVAL;
}

unsigned cpus_available(void)
{
        cpu_set_t set;

        if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
                return (unsigned)CPU_COUNT(&set);
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        return n > 0 ? (unsigned)n : 1;
}
