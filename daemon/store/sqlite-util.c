/* SPDX-License-Identifier: MIT */
#include <time.h>

#include "store-internal.h"

int sqlite_to_errno(int rc)
{
        switch (rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_ROW:
        case SQLITE_DONE:
                return 0;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_READONLY:
                return -EROFS;
        case SQLITE_PERM:
        case SQLITE_AUTH:
                return -EACCES;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
                return -EBADMSG;
        case SQLITE_CANTOPEN:
                return -ENOENT;
        case SQLITE_CONSTRAINT:
                return rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY ? -EEXIST
                                                                                            : -EINVAL;
        case SQLITE_TOOBIG:
                return -EFBIG;
        case SQLITE_RANGE:
        case SQLITE_MISMATCH:
        case SQLITE_MISUSE:
                return -EINVAL;
        case SQLITE_INTERRUPT:
                return -EINTR;
        default:
                return -EIO;
        }
}

int store_sql_error(Store *s, Error *error, int rc, const char *what)
{
        int r = sqlite_to_errno(rc);
        if (r == 0)
                r = -EIO;
        if (r == -ENOSPC && s->path) {
                /* "database or disk is full" alone does not say which disk:
                 * name the folder, so the user knows what to clear. */
                const char *slash = strrchr(s->path, '/');
                int dir_len = slash ? (int)(slash - s->path) : (int)strlen(s->path);
                return error_setf(error, r, "%s: no space left in %.*s (%s)", what, dir_len, s->path,
                                  s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        }
        return error_setf(error, r, "%s: %s", what, s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
}

int store_exec(Store *s, Error *error, const char *sql)
{
        int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
        if (rc != SQLITE_OK)
                return store_sql_error(s, error, rc, "Failed to run a statement");
        return 0;
}

int store_prepare(Store *s, Error *error, const char *sql, sqlite3_stmt **ret)
{
        int rc = sqlite3_prepare_v2(s->db, sql, -1, ret, NULL);
        if (rc != SQLITE_OK)
                return store_sql_error(s, error, rc, "Failed to prepare a statement");
        return 0;
}

static int bind_va(Store *s, Error *error, sqlite3_stmt *st, const char *fmt, va_list ap)
{
        int i = 1, rc = SQLITE_OK;

        for (const char *f = fmt; f && *f && rc == SQLITE_OK; f++, i++) {
                switch (*f) {
                case 'i':
                        rc = sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
                        break;
                case 'u':
                        rc = sqlite3_bind_int64(st, i, (sqlite3_int64)va_arg(ap, uint64_t));
                        break;
                case 'd':
                        rc = sqlite3_bind_double(st, i, va_arg(ap, double));
                        break;
                case 't': {
                        const char *t = va_arg(ap, const char *);
                        rc = t ? sqlite3_bind_text(st, i, t, -1, SQLITE_TRANSIENT)
                               : sqlite3_bind_null(st, i);
                        break;
                }
                case 'b': {
                        const void *p = va_arg(ap, const void *);
                        size_t n = va_arg(ap, size_t);
                        rc = sqlite3_bind_blob64(st, i, p, n, SQLITE_TRANSIENT);
                        break;
                }
                case 'n':
                        rc = sqlite3_bind_null(st, i);
                        break;
                default:
                        return error_setf(error, -EINVAL, "Unknown bind format '%c'", *f);
                }
        }
        if (rc != SQLITE_OK)
                return store_sql_error(s, error, rc, "Failed to bind a value");
        return 0;
}

int store_bind(Store *s, Error *error, sqlite3_stmt *st, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = bind_va(s, error, st, fmt, ap);
        va_end(ap);
        return r;
}

static int query_va(Store *s, Error *error, sqlite3_stmt **ret, const char *sql, const char *fmt, va_list ap)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = store_prepare(s, error, sql, &st);
        if (r < 0)
                return r;
        r = bind_va(s, error, st, fmt, ap);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(st);
        return 0;
}

int store_query(Store *s, Error *error, sqlite3_stmt **ret, const char *sql, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = query_va(s, error, ret, sql, fmt, ap);
        va_end(ap);
        return r;
}

int store_step(Store *s, Error *error, sqlite3_stmt *st)
{
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                return 1;
        if (rc == SQLITE_DONE)
                return 0;
        return store_sql_error(s, error, rc, "Failed to run a statement");
}

int store_prepare_cached(Store *s, Error *error, const char *sql, sqlite3_stmt **ret)
{
        sqlite3_stmt *st;
        int rc;

        /* by address, then by text: a freed string's address may come back
         * with other SQL */
        for (size_t i = 0; i < s->n_cache; i++)
                if (s->cache[i].key == sql && streq(sqlite3_sql(s->cache[i].st), sql)) {
                        *ret = s->cache[i].st;
                        return 0;
                }
        StoreCached *a = reallocarray(s->cache, s->n_cache + 1, sizeof(StoreCached));
        if (!a)
                return error_set_errno(error, -ENOMEM);
        s->cache = a;
        rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
        if (rc != SQLITE_OK)
                return store_sql_error(s, error, rc, "Failed to prepare a statement");
        s->cache[s->n_cache++] = (StoreCached){.key = sql, .st = st};
        *ret = st;
        return 0;
}

void store_cache_clear(Store *s)
{
        for (size_t i = 0; i < s->n_cache; i++)
                (void)sqlite3_finalize(s->cache[i].st);
        free(s->cache);
        s->cache = NULL;
        s->n_cache = 0;
}

static int cached_va(Store *s, Error *error, sqlite3_stmt **ret, const char *sql, const char *fmt,
                     va_list ap)
{
        int r = store_prepare_cached(s, error, sql, ret);
        if (r < 0)
                return r;
        r = bind_va(s, error, *ret, fmt, ap);
        if (r < 0) {
                sqlite3_resetp(ret);
                *ret = NULL;
        }
        return r;
}

int store_query_cached(Store *s, Error *error, sqlite3_stmt **ret, const char *sql, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = cached_va(s, error, ret, sql, fmt, ap);
        va_end(ap);
        return r;
}

int store_run(Store *s, Error *error, const char *sql, const char *fmt, ...)
{
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = cached_va(s, error, &st, sql, fmt, ap);
        va_end(ap);
        if (r < 0)
                return r;
        do
                r = store_step(s, error, st);
        while (r > 0);
        if (r < 0)
                return r;
        return sqlite3_changes(s->db);
}

int store_query_i64(Store *s, Error *error, int64_t *ret, const char *sql, const char *fmt, ...)
{
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = cached_va(s, error, &st, sql, fmt, ap);
        va_end(ap);
        if (r >= 0)
                r = store_step(s, error, st);
        if (r < 0)
                return r;
        if (r == 0 || sqlite3_column_type(st, 0) == SQLITE_NULL)
                return -ENOENT;
        *ret = sqlite3_column_int64(st, 0);
        return 0;
}

int store_savepoint(Store *s, Error *error)
{
        int r = store_run(s, error, "SAVEPOINT store_op", NULL);
        return r < 0 ? r : 0;
}

int store_savepoint_end(Store *s, Error *error, int r)
{
        if (r >= 0) {
                int k = store_run(s, error, "RELEASE store_op", NULL);
                return k < 0 ? k : r;
        }
        /* error keeps the first failure's message: it says what went wrong */
        (void)sqlite3_exec(s->db, "ROLLBACK TO store_op; RELEASE store_op", NULL, NULL, NULL);
        return r;
}

int store_post_missing(Store *s, Error *error, int r, const Error *cause, uint64_t post_id)
{
        if (r == -EINVAL && !store_post_exists(s, post_id))
                return error_setf(error, -ENOENT, "post %" PRIu64 " is not in the store", post_id);
        if (r < 0)
                return error_setf(error, r, "%s", error_message(cause, r));
        return r;
}

int store_step_ids(Store *s, Error *error, sqlite3_stmt *st, uint64_t **ret, size_t *ret_n)
{
        _cleanup_free_ uint64_t *a = NULL;
        size_t n = 0, cap = 0;
        int r;

        while ((r = store_step(s, error, st)) > 0) {
                if (STORE_ROWS_GROW(a, n, cap, 16) < 0)
                        return -ENOMEM;
                a[n++] = (uint64_t)sqlite3_column_int64(st, 0);
        }
        if (r < 0)
                return r;
        if (!a && !(a = malloc(sizeof *a)))
                return -ENOMEM;
        *ret = TAKE_PTR(a);
        *ret_n = n;
        return 0;
}

char *store_column_strdup(sqlite3_stmt *st, int col)
{
        const unsigned char *t = sqlite3_column_text(st, col);
        return t ? strdup((const char *)t) : NULL;
}

uint64_t store_now(void)
{
        return now_usec(CLOCK_REALTIME);
}
