/* SPDX-License-Identifier: MIT */
#pragma once

/* What the store's files share: the handle and the thin SQLite wrapper that
 * turns SQLite result codes into negative errno plus a message in the
 * caller's Error. Every helper here takes that Error * (NULL: unread) after
 * the Store. */

#include <inttypes.h>
#include <sqlite3.h>

#include "store.h"

/* Prepared statements kept for the SQL that runs once per post or tag: a
 * sync of 100,000 posts ran several statements per post and spent a sixth
 * of its loop time parsing them again. One per SQL string of the code, for
 * the connection's life: none is ever dropped while a caller may hold it. */
typedef struct StoreCached {
        const char *key; /* the caller's SQL string, compared by address, then by text */
        sqlite3_stmt *st;
} StoreCached;

struct Store {
        sqlite3 *db;
        char *path;
        bool in_batch;
        StoreCached *cache; /* owned */
        size_t n_cache;
};

int sqlite_to_errno(int rc);
/* Sets error to "what: SQLite's message"; returns the errno. */
int store_sql_error(Store *s, Error *error, int rc, const char *what);

int store_exec(Store *s, Error *error, const char *sql);
int store_prepare(Store *s, Error *error, const char *sql, sqlite3_stmt **ret);
/* The store's own prepared statement for sql, reset and unbound: borrowed,
 * so it is released with _cleanup_reset_, never finalized, and not held
 * across another call that might use the same SQL. sql is a string of the
 * code (a literal): each one keeps a statement until the store is freed. */
int store_prepare_cached(Store *s, Error *error, const char *sql, sqlite3_stmt **ret);
void store_cache_clear(Store *s);
/* store_prepare_cached() and store_bind() in one: *ret ready to step, borrowed. */
int store_query_cached(Store *s, Error *error, sqlite3_stmt **ret, const char *sql, const char *fmt, ...);
/* Binds arguments from position 1 by a format: 'i' int64_t, 'u' uint64_t
 * (stored as a signed 64-bit integer), 'd' double, 't' const char * (NULL
 * binds NULL), 'b' const void *, size_t (a blob), 'n' NULL. */
int store_bind(Store *s, Error *error, sqlite3_stmt *st, const char *fmt, ...);
/* store_prepare() and store_bind() in one: *ret ready to step. */
int store_query(Store *s, Error *error, sqlite3_stmt **ret, const char *sql, const char *fmt, ...);
/* 1 when a row is ready, 0 when done, negative errno on failure. */
int store_step(Store *s, Error *error, sqlite3_stmt *st);
/* The columns store_prediction_rows_read() reads, in its order. */
#define PREDICTION_ROW_COLUMNS(p)                                                                           \
        p "post_id, " p "score, " p "label, " p "top_tags, " p "image_path, " p "logit, " p "bias, " p      \
          "image, " p "tags, " p "calibration, " p "tags_up, " p "tags_down"
/* Steps st, a SELECT of PREDICTION_ROW_COLUMNS, to its end. */
int store_prediction_rows_read(Store *s, Error *error, sqlite3_stmt *st, PredictionRow **ret, size_t *ret_n);
/* Prepares, binds, runs to completion; returns the number of changed rows. */
int store_run(Store *s, Error *error, const char *sql, const char *fmt, ...);
/* A single integer from a query; -ENOENT when it returns no row. */
int store_query_i64(Store *s, Error *error, int64_t *ret, const char *sql, const char *fmt, ...);

/* Room for one more row in the array a holding n of cap, doubling from
 * initial: the row loops' growth. 0, or -ENOMEM with a left as it was. */
#define STORE_ROWS_GROW(a, n, cap, initial)                                                                 \
        ({                                                                                                  \
                int _r_ = 0;                                                                                \
                if ((n) == (cap)) {                                                                         \
                        size_t _c_ = (cap) ? (cap)*2 : (initial);                                           \
                        __typeof__(a) _b_ = reallocarray((a), _c_, sizeof *(a));                            \
                        if (_b_) {                                                                          \
                                (a) = _b_;                                                                  \
                                (cap) = _c_;                                                                \
                        } else                                                                              \
                                _r_ = -ENOMEM;                                                              \
                }                                                                                           \
                _r_;                                                                                        \
        })

/* Savepoints make every multi-statement call atomic, inside a batch or not. */
int store_savepoint(Store *s, Error *error);
int store_savepoint_end(Store *s, Error *error, int r); /* releases on r ≥ 0, else rolls back; returns r */

static inline void sqlite3_finalizep(sqlite3_stmt **st)
{
        if (*st)
                (void)sqlite3_finalize(*st);
}
#define _cleanup_stmt_ _cleanup_(sqlite3_finalizep)

static inline void sqlite3_resetp(sqlite3_stmt **st)
{
        if (*st) {
                (void)sqlite3_reset(*st);
                (void)sqlite3_clear_bindings(*st);
        }
}
#define _cleanup_reset_ _cleanup_(sqlite3_resetp)

/* Column 0 of every row st yields, as integers; *ret is never NULL on success. */
int store_step_ids(Store *s, Error *error, sqlite3_stmt *st, uint64_t **ret, size_t *ret_n);
char *store_column_strdup(sqlite3_stmt *st, int col); /* NULL for NULL (and on OOM: check the column type) */
uint64_t store_now(void);                             /* CLOCK_REALTIME µs */

/* r from a write about post_id whose message is in cause: a foreign key
 * that failed because the post is not stored becomes -ENOENT with a
 * sentence saying so; any other failure keeps cause's message. */
int store_post_missing(Store *s, Error *error, int r, const Error *cause, uint64_t post_id);

/* The feedback record's part of store_prediction_add() (store-feedback.c). */
int store_feedback_record(Store *s, Error *error, uint64_t run_id, const PredictionRow *row);

/* Opens at an exact older schema version: only for tests of migrations. */
int store_open_version(const char *path, unsigned version, Store **ret, Error *error);
