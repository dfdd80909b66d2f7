/* SPDX-License-Identifier: MIT */
#pragma once

/* The few helpers every part of Fluff shares: ownership (_cleanup_, TAKE_PTR),
 * logging that never loses errno, and small parsing routines. Kept short on
 * purpose: anything bigger belongs to the concern that needs it. */

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_ __attribute__((noreturn))
#define _likely_(x) __builtin_expect(!!(x), 1)
#define _unlikely_(x) __builtin_expect(!!(x), 0)

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define CLAMP(x, lo, hi) MIN(MAX((x), (lo)), (hi))

#define streq(a, b) (strcmp((a), (b)) == 0)
#define strneq(a, b, n) (strncmp((a), (b), (n)) == 0)
#define isempty(s) (!(s) || (s)[0] == '\0')
static inline const char *strempty(const char *s)
{
        return s ? s : "";
}
static inline const char *strna(const char *s)
{
        return s ? s : "n/a";
}

/* Hand ownership out of a _cleanup_ variable. */
#define TAKE_PTR(p)                                                                                        \
        ({                                                                                                 \
                __typeof__(p) _p_ = (p);                                                                   \
                (p) = NULL;                                                                                \
                _p_;                                                                                       \
        })
#define TAKE_FD(fd)                                                                                        \
        ({                                                                                                 \
                int _fd_ = (fd);                                                                           \
                (fd) = -EBADF;                                                                             \
                _fd_;                                                                                      \
        })

/* Declares name##p(type **) that calls func on a non-NULL pointer. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                                                            \
        static inline void func##p(type *p)                                                                \
        {                                                                                                  \
                if (*p)                                                                                    \
                        func(*p);                                                                          \
        }

static inline void freep(void *p)
{
        free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd)
{
        if (*fd >= 0)
                (void)close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f)
{
        if (*f)
                (void)fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

/* A NULL-terminated array of owned strings. */
char **strv_free(char **l);
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);
#define _cleanup_strv_free_ _cleanup_(strv_freep)
size_t strv_length(char *const *l);
int strv_push(char ***l, char *value);  /* takes value, also on failure */
bool strv_contains(char *const *l, const char *s);
char *strv_join(char *const *l, const char *sep); /* "" for an empty list; NULL: out of memory */

/* Wipes memory that held a secret before it is released. */
void erase_and_free(char *s);
static inline void erase_and_freep(char **s)
{
        erase_and_free(*s);
}
#define _cleanup_erase_ _cleanup_(erase_and_freep)

/* ---- logging ----
 * One line per event on stderr. log_*_errno() return -abs(error) so the call
 * that decides can log and return in one statement; %m prints that error. */
enum {
        LOG_LEVEL_ERR = 3,
        LOG_LEVEL_WARNING = 4,
        LOG_LEVEL_NOTICE = 5,
        LOG_LEVEL_INFO = 6,
        LOG_LEVEL_DEBUG = 7,
};
void log_set_max_level(int level);
int log_get_max_level(void);
void log_parse_environment(void); /* FLUFF_LOG_LEVEL=debug|info|notice|warning|err */
void log_set_prefix(const char *prefix); /* program name shown before each line */
/* "<level>" before each line, as the journal reads it: 1 on, 0 off, -1 (the
 * default) on only when stderr is the journal (JOURNAL_STREAM names it). */
void log_set_syslog_prefix(int on);
int log_internal(int level, int error, const char *file, int line, const char *fmt, ...) _printf_(5, 6);

#define log_full_errno(level, error, ...)                                                                  \
        ({                                                                                                 \
                int _l_ = (level), _e_ = (error);                                                          \
                _e_ = _e_ < 0 ? -_e_ : _e_;                                                                \
                log_get_max_level() >= _l_ ? log_internal(_l_, _e_, __FILE__, __LINE__, __VA_ARGS__)       \
                                           : -_e_;                                                         \
        })
#define log_debug(...) log_full_errno(LOG_LEVEL_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_full_errno(LOG_LEVEL_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_full_errno(LOG_LEVEL_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_LEVEL_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_full_errno(LOG_LEVEL_ERR, 0, __VA_ARGS__)
#define log_debug_errno(e, ...) log_full_errno(LOG_LEVEL_DEBUG, e, __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_LEVEL_INFO, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_LEVEL_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_LEVEL_ERR, e, __VA_ARGS__)
#define log_oom() log_error_errno(ENOMEM, "Out of memory.")

/* ---- parsing ---- */
int safe_atou64(const char *s, uint64_t *ret);
int safe_atou(const char *s, unsigned *ret);
int safe_atoi(const char *s, int *ret);
int safe_atod(const char *s, double *ret);
/* "90", "90s", "10m", "2h", "1h30m" → seconds. */
int parse_duration_s(const char *s, uint64_t *ret);
/* Lowercase hex digest check, e.g. an md5 before it becomes a file name. */
bool is_hex_digest(const char *s, size_t len);
/* Well-formed UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF), as sd-bus and JSON writers require of strings. */
bool utf8_is_valid(const char *s, size_t len);

/* ---- time ---- */
uint64_t now_usec(int clock); /* CLOCK_MONOTONIC, CLOCK_REALTIME, ... */

/* The CPUs this process may run on (its affinity mask, as nproc counts),
 * which a container or CPUAffinity= can make far fewer than are online. */
unsigned cpus_available(void);
#define USEC_PER_SEC UINT64_C(1000000)
#define USEC_PER_MSEC UINT64_C(1000)

/* ---- files ---- */
/* Writes data to path through "path.tmp.XXXXXX", fsync, rename and a directory
 * fsync, so a crash leaves either the old or the new file. */
int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode);
int read_file_full(const char *path, size_t max_size, char **ret_data, size_t *ret_size);
int mkdir_parents(const char *path, mode_t mode); /* creates every missing directory of path itself */
/* $XDG_<kind>_HOME/fluff (kind: "DATA", "CONFIG", "CACHE"), with the usual
 * defaults, and /name below it unless name is NULL. */
int xdg_fluff_dir(const char *kind, const char *name, char **ret);
