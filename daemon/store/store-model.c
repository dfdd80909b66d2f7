/* SPDX-License-Identifier: MIT */
/* What the model side keeps: the vote outbox, prediction runs, watches and
 * cached embeddings. */
#include "store-internal.h"

static const char *const outbox_state_table[_OUTBOX_STATE_MAX] = {
        [OUTBOX_PENDING] = "pending",
        [OUTBOX_SENT] = "sent",
        [OUTBOX_FAILED] = "failed",
};

const char *outbox_state_to_string(OutboxState st)
{
        return st >= 0 && st < _OUTBOX_STATE_MAX ? outbox_state_table[st] : NULL;
}

static OutboxState outbox_state_from_string(const char *s)
{
        for (int i = 0; s && i < _OUTBOX_STATE_MAX; i++)
                if (streq(s, outbox_state_table[i]))
                        return i;
        return _OUTBOX_STATE_INVALID;
}

/* ---- vote outbox ---- */

void outbox_entry_array_free(OutboxEntry *a, size_t n)
{
        for (size_t i = 0; a && i < n; i++)
                free(a[i].last_error);
        free(a);
}

int store_outbox_add(Store *s, uint64_t post_id, int score, int favourite, uint64_t *ret_id, Error *error)
{
        uint64_t now = store_now();
        Error e = {};
        int r;

        if (score < -1 || score > 1 || favourite < -1 || favourite > 1)
                return error_setf(error, -EINVAL, "a vote is +1, -1 or 0");
        r = store_savepoint(s, error);
        if (r < 0)
                return r;
        /* only the latest intent goes out: an earlier one not yet sent is moot */
        r = store_run(s, &e, "DELETE FROM vote_outbox WHERE post_id = ? AND state = 'pending'", "u",
                      post_id);
        if (r >= 0)
                r = store_run(
                        s, &e,
                        "INSERT INTO vote_outbox (post_id, score, favourite, state, next_try, created_at)"
                        " VALUES (?, ?, ?, 'pending', ?, ?)",
                        "uiiuu", post_id, (int64_t)score, (int64_t)favourite, now, now);
        r = store_post_missing(s, error, r, &e, post_id);
        uint64_t id = (uint64_t)sqlite3_last_insert_rowid(s->db);
        r = store_savepoint_end(s, error, r < 0 ? r : 0);
        if (r < 0)
                return r;
        if (ret_id)
                *ret_id = id;
        return 0;
}

int store_outbox_due(Store *s, uint64_t now_usec, size_t limit, OutboxEntry **ret, size_t *ret_n,
                     Error *error)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        OutboxEntry *a = NULL;
        size_t n = 0, cap = 0;
        int r;

        r = store_query(s, error, &st,
                        "SELECT id, post_id, score, favourite, state, attempts, next_try, created_at,"
                        " coalesce(sent_at, 0), last_error FROM vote_outbox"
                        " WHERE state = 'pending' AND next_try <= ? ORDER BY id LIMIT ?",
                        "ui", now_usec, limit > 0 ? (int64_t)MIN(limit, (size_t)INT64_MAX) : -1);
        if (r < 0)
                return r;
        while ((r = store_step(s, error, st)) > 0) {
                r = STORE_ROWS_GROW(a, n, cap, 16);
                if (r < 0)
                        break;
                a[n] = (OutboxEntry){
                        .id = (uint64_t)sqlite3_column_int64(st, 0),
                        .post_id = (uint64_t)sqlite3_column_int64(st, 1),
                        .score = sqlite3_column_int(st, 2),
                        .favourite = sqlite3_column_int(st, 3),
                        .state = outbox_state_from_string((const char *)sqlite3_column_text(st, 4)),
                        .attempts = (unsigned)sqlite3_column_int(st, 5),
                        .next_try_usec = (uint64_t)sqlite3_column_int64(st, 6),
                        .created_usec = (uint64_t)sqlite3_column_int64(st, 7),
                        .sent_usec = (uint64_t)sqlite3_column_int64(st, 8),
                };
                if (sqlite3_column_type(st, 9) != SQLITE_NULL &&
                    !(a[n].last_error = store_column_strdup(st, 9))) {
                        r = -ENOMEM;
                        break;
                }
                n++;
        }
        if (r < 0) {
                outbox_entry_array_free(a, n);
                return r;
        }
        *ret = a;
        *ret_n = n;
        return 0;
}

int store_outbox_next_due(Store *s, uint64_t *ret_usec, Error *error)
{
        int64_t v;
        int r = store_query_i64(s, error, &v,
                                "SELECT MIN(next_try) FROM vote_outbox WHERE state = 'pending'", NULL);
        if (r < 0)
                return r;
        *ret_usec = (uint64_t)v;
        return 0;
}

int store_outbox_mark_sent(Store *s, uint64_t id, Error *error)
{
        int r = store_run(s, error,
                          "UPDATE vote_outbox SET state = 'sent', sent_at = ?, attempts = attempts + 1,"
                          " last_error = NULL WHERE id = ? AND state = 'pending'",
                          "uu", store_now(), id);
        if (r < 0)
                return r;
        return r == 0 ? error_setf(error, -ENOENT, "no pending vote %" PRIu64, id) : 0;
}

int store_outbox_mark_failed(Store *s, uint64_t id, const char *why, bool permanent, uint64_t next_try_usec,
                             Error *error)
{
        int r = store_run(
                s, error,
                "UPDATE vote_outbox SET state = ?, attempts = attempts + 1, last_error = ?, next_try = ?"
                " WHERE id = ? AND state = 'pending'",
                "ttuu", permanent ? "failed" : "pending", why ? why : "unknown error", next_try_usec, id);
        if (r < 0)
                return r;
        return r == 0 ? error_setf(error, -ENOENT, "no pending vote %" PRIu64, id) : 0;
}

/* ---- prediction runs ---- */

void prediction_row_array_free(PredictionRow *a, size_t n)
{
        for (size_t i = 0; a && i < n; i++) {
                free(a[i].top_tags);
                free(a[i].image_path);
                free(a[i].tags_up);
                free(a[i].tags_down);
        }
        free(a);
}

int store_prediction_run_new(Store *s, const char *tags, uint64_t *ret_run_id, Error *error)
{
        int r = store_run(s, error, "INSERT INTO prediction_runs (tags, created_at) VALUES (?, ?)", "tu",
                          tags ? tags : "", store_now());
        if (r < 0)
                return r;
        *ret_run_id = (uint64_t)sqlite3_last_insert_rowid(s->db);
        return 0;
}

int store_prediction_run_new_watch(Store *s, uint64_t watch_id, const char *tags, uint64_t *ret_run_id,
                                   Error *error)
{
        if (watch_id == 0)
                return error_setf(error, -EINVAL, "a watch run needs a watch");
        int r = store_run(s, error,
                          "INSERT INTO prediction_runs (tags, created_at, watch_id) VALUES (?, ?, ?)", "tuu",
                          tags ? tags : "", store_now(), watch_id);
        if (r < 0)
                return r;
        *ret_run_id = (uint64_t)sqlite3_last_insert_rowid(s->db);
        return 0;
}

int store_prediction_add(Store *s, uint64_t run_id, unsigned rank, const PredictionRow *row, Error *error)
{
        Error e = {};
        int r = store_savepoint(s, error);
        if (r < 0)
                return r;
        static const char sql[] =
                "INSERT INTO prediction_posts (run_id, post_id, rank, score, label, top_tags, image_path,"
                "  logit, bias, image, tags, calibration, tags_up, tags_down)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (run_id, post_id) DO UPDATE SET rank = excluded.rank,"
                "  score = excluded.score, label = excluded.label, top_tags = excluded.top_tags,"
                "  image_path = excluded.image_path, logit = excluded.logit, bias = excluded.bias,"
                "  image = excluded.image, tags = excluded.tags, calibration = excluded.calibration,"
                "  tags_up = excluded.tags_up, tags_down = excluded.tags_down";
        if (row->explained)
                r = store_run(s, &e, sql, "uuidittddddttt", run_id, row->post_id, (int64_t)rank, row->score,
                              (int64_t)row->label, row->top_tags, row->image_path, row->logit, row->bias,
                              row->image, row->tags, row->calibration, row->tags_up, row->tags_down);
        else /* NULLs, as the rows from before explanations */
                r = store_run(s, &e, sql, "uuidittnnnnnnn", run_id, row->post_id, (int64_t)rank, row->score,
                              (int64_t)row->label, row->top_tags, row->image_path);
        if (r >= 0)
                r = store_feedback_record(s, &e, run_id, row);
        r = store_savepoint_end(s, &e, r < 0 ? r : 0);
        return store_post_missing(s, error, r, &e, row->post_id);
}

int store_prediction_latest_run(Store *s, uint64_t *ret_run_id, Error *error)
{
        int64_t v;
        int r = store_query_i64(s, error, &v, "SELECT MAX(id) FROM prediction_runs WHERE watch_id IS NULL",
                                NULL);
        if (r < 0)
                return r;
        *ret_run_id = (uint64_t)v;
        return 0;
}

int store_prediction_run_watch(Store *s, uint64_t run_id, uint64_t *ret_watch_id, Error *error)
{
        int64_t v;
        int r = store_query_i64(s, error, &v, "SELECT IFNULL(watch_id, 0) FROM prediction_runs WHERE id = ?",
                                "u", run_id);
        if (r < 0)
                return r;
        *ret_watch_id = (uint64_t)v;
        return 0;
}

int store_prediction_rows_read(Store *s, Error *error, sqlite3_stmt *st, PredictionRow **ret, size_t *ret_n)
{
        PredictionRow *a = NULL;
        size_t n = 0, cap = 0;
        int r;

        while ((r = store_step(s, error, st)) > 0) {
                r = STORE_ROWS_GROW(a, n, cap, 32);
                if (r < 0)
                        break;
                a[n] = (PredictionRow){.post_id = (uint64_t)sqlite3_column_int64(st, 0),
                                       .score = sqlite3_column_double(st, 1),
                                       .label = sqlite3_column_int(st, 2)};
                n++;
                PredictionRow *row = &a[n - 1];
                if ((sqlite3_column_type(st, 3) != SQLITE_NULL &&
                     !(row->top_tags = store_column_strdup(st, 3))) ||
                    (sqlite3_column_type(st, 4) != SQLITE_NULL &&
                     !(row->image_path = store_column_strdup(st, 4)))) {
                        r = -ENOMEM;
                        break;
                }
                row->explained = sqlite3_column_type(st, 5) != SQLITE_NULL;
                if (!row->explained)
                        continue;
                row->logit = sqlite3_column_double(st, 5);
                row->bias = sqlite3_column_double(st, 6);
                row->image = sqlite3_column_double(st, 7);
                row->tags = sqlite3_column_double(st, 8);
                if (sqlite3_column_type(st, 9) != SQLITE_NULL)
                        (void)snprintf(row->calibration, sizeof(row->calibration), "%s",
                                       (const char *)sqlite3_column_text(st, 9));
                if ((sqlite3_column_type(st, 10) != SQLITE_NULL &&
                     !(row->tags_up = store_column_strdup(st, 10))) ||
                    (sqlite3_column_type(st, 11) != SQLITE_NULL &&
                     !(row->tags_down = store_column_strdup(st, 11)))) {
                        r = -ENOMEM;
                        break;
                }
        }
        if (r < 0) {
                prediction_row_array_free(a, n);
                return r;
        }
        *ret = a;
        *ret_n = n;
        return 0;
}

int store_prediction_list(Store *s, uint64_t run_id, char **ret_tags, PredictionRow **ret, size_t *ret_n,
                          Error *error)
{
        _cleanup_stmt_ sqlite3_stmt *run = NULL, *st = NULL;
        _cleanup_free_ char *tags = NULL;
        PredictionRow *a = NULL;
        size_t n = 0;
        int r;

        r = store_query(s, error, &run, "SELECT tags FROM prediction_runs WHERE id = ?", "u", run_id);
        if (r >= 0)
                r = store_step(s, error, run);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        tags = store_column_strdup(run, 0);
        if (!tags)
                return -ENOMEM;

        r = store_query(s, error, &st,
                        "SELECT " PREDICTION_ROW_COLUMNS("") " FROM prediction_posts"
                                                             " WHERE run_id = ? ORDER BY rank, post_id",
                        "u", run_id);
        if (r < 0)
                return r;
        r = store_prediction_rows_read(s, error, st, &a, &n);
        if (r < 0)
                return r;
        if (ret_tags)
                *ret_tags = TAKE_PTR(tags);
        *ret = a;
        *ret_n = n;
        return 0;
}

int store_prediction_prune(Store *s, uint64_t keep_run_id, Error *error)
{
        int r = store_run(s, error, "DELETE FROM prediction_runs WHERE id <> ? AND watch_id IS NULL", "u",
                          keep_run_id);
        return r < 0 ? r : 0;
}

bool store_prediction_in_watch_run(Store *s, uint64_t post_id)
{
        int64_t v;
        return store_query_i64(s, NULL, &v,
                               "SELECT 1 FROM prediction_posts p JOIN prediction_runs r ON r.id = p.run_id"
                               " WHERE p.post_id = ? AND r.watch_id IS NOT NULL LIMIT 1",
                               "u", post_id) >= 0;
}

int store_prediction_watch_runs_expired(Store *s, uint64_t older_than_usec, size_t keep_runs, uint64_t **ret,
                                        size_t *ret_n, Error *error)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        r = store_query(
                s, error, &st,
                "SELECT id FROM prediction_runs WHERE watch_id IS NOT NULL AND (created_at < ? OR id NOT IN"
                " (SELECT id FROM prediction_runs WHERE watch_id IS NOT NULL ORDER BY id DESC LIMIT ?))"
                " ORDER BY id",
                "ui", older_than_usec, (int64_t)MIN(keep_runs, (size_t)INT64_MAX));
        if (r < 0)
                return r;
        return store_step_ids(s, error, st, ret, ret_n);
}

int store_prediction_run_delete(Store *s, uint64_t run_id, Error *error)
{
        int r = store_run(s, error, "DELETE FROM prediction_runs WHERE id = ?", "u", run_id);
        if (r < 0)
                return r;
        return r == 0 ? error_setf(error, -ENOENT, "no prediction run %" PRIu64, run_id) : 0;
}

bool store_prediction_image_in_use(Store *s, const char *image_path)
{
        int64_t v;
        return image_path &&
               store_query_i64(s, NULL, &v, "SELECT 1 FROM prediction_posts WHERE image_path = ? LIMIT 1",
                               "t", image_path) >= 0;
}

/* ---- watches ---- */

void watch_array_free(Watch *a, size_t n)
{
        for (size_t i = 0; a && i < n; i++)
                free(a[i].tags);
        free(a);
}

int store_watch_add(Store *s, const char *tags, double threshold, unsigned max_per_run, uint64_t *ret_id,
                    Error *error)
{
        if (isempty(tags) || !(threshold >= 0.0 && threshold <= 1.0) || max_per_run == 0)
                return error_setf(error, -EINVAL, "a watch needs tags, a threshold in 0..1 and a limit");
        int r = store_run(
                s, error,
                "INSERT INTO watches (tags, threshold, max_per_run, created_at) VALUES (?, ?, ?, ?)", "tdiu",
                tags, threshold, (int64_t)max_per_run, store_now());
        if (r < 0)
                return r;
        if (ret_id)
                *ret_id = (uint64_t)sqlite3_last_insert_rowid(s->db);
        return 0;
}

int store_watch_remove(Store *s, uint64_t id, Error *error)
{
        int r = store_run(s, error, "DELETE FROM watches WHERE id = ?", "u", id);
        if (r < 0)
                return r;
        return r == 0 ? error_setf(error, -ENOENT, "no watch %" PRIu64, id) : 0;
}

static int watch_query(Store *s, Error *error, const char *where, bool by_id, uint64_t id, Watch **ret,
                       size_t *ret_n)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_free_ char *sql = NULL;
        Watch *a = NULL;
        size_t n = 0, cap = 0;
        int r;

        if (asprintf(&sql,
                     "SELECT id, tags, threshold, max_per_run, last_seen_id, created_at, last_run_at FROM "
                     "watches"
                     " %s ORDER BY id",
                     where) < 0)
                return -ENOMEM;
        r = store_prepare(s, error, sql, &st);
        if (r >= 0 && by_id)
                r = store_bind(s, error, st, "u", id);
        if (r < 0)
                return r;
        while ((r = store_step(s, error, st)) > 0) {
                r = STORE_ROWS_GROW(a, n, cap, 8);
                if (r < 0)
                        break;
                a[n] = (Watch){.id = (uint64_t)sqlite3_column_int64(st, 0),
                               .tags = store_column_strdup(st, 1),
                               .threshold = sqlite3_column_double(st, 2),
                               .max_per_run = (unsigned)sqlite3_column_int64(st, 3),
                               .last_seen_id = (uint64_t)sqlite3_column_int64(st, 4),
                               .created_usec = (uint64_t)sqlite3_column_int64(st, 5),
                               .last_run_usec = (uint64_t)sqlite3_column_int64(st, 6)};
                if (!a[n++].tags) {
                        r = -ENOMEM;
                        break;
                }
        }
        if (r < 0) {
                watch_array_free(a, n);
                return r;
        }
        *ret = a;
        *ret_n = n;
        return 0;
}

int store_watch_list(Store *s, Watch **ret, size_t *ret_n, Error *error)
{
        return watch_query(s, error, "", false, 0, ret, ret_n);
}

int store_watch_get(Store *s, uint64_t id, Watch *ret, Error *error)
{
        Watch *a = NULL;
        size_t n = 0;
        int r = watch_query(s, error, "WHERE id = ?", true, id, &a, &n);
        if (r < 0)
                return r;
        if (n == 0) {
                free(a);
                return -ENOENT;
        }
        *ret = a[0];
        free(a);
        return 0;
}

int store_watch_ran(Store *s, uint64_t id, uint64_t last_seen_id, uint64_t run_usec, Error *error)
{
        int r = store_run(
                s, error,
                "UPDATE watches SET last_seen_id = MAX(last_seen_id, ?), last_run_at = ? WHERE id = ?",
                "uuu", last_seen_id, run_usec, id);
        if (r < 0)
                return r;
        return r == 0 ? error_setf(error, -ENOENT, "no watch %" PRIu64, id) : 0;
}

/* ---- cached embeddings ---- */

#define EMBEDDING_MAX_FLOATS (UINT64_C(1) << 24)

int store_embedding_put(Store *s, const char *backbone, const char *feature_set, const char *md5,
                        const float *data, size_t n, Error *error)
{
        if (isempty(backbone) || isempty(feature_set) || !is_hex_digest(md5, 32) || !data || n == 0 ||
            n > EMBEDDING_MAX_FLOATS)
                return error_setf(error, -EINVAL, "bad embedding");
        int r = store_run(s, error,
                          "INSERT INTO embeddings (backbone, feature_set, md5, dim, data, created_at)"
                          " VALUES (?, ?, ?, ?, ?, ?)"
                          " ON CONFLICT (backbone, feature_set, md5) DO UPDATE SET dim = excluded.dim,"
                          "  data = excluded.data, created_at = excluded.created_at",
                          "tttibu", backbone, feature_set, md5, (int64_t)n, (const void *)data,
                          n * sizeof(float), store_now());
        return r < 0 ? r : 0;
}

int store_embedding_get(Store *s, const char *backbone, const char *feature_set, const char *md5,
                        float **ret, size_t *ret_n, Error *error)
{
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r = store_query_cached(
                s, error, &st,
                "SELECT dim, data FROM embeddings WHERE backbone = ? AND feature_set = ? AND md5 = ?", "ttt",
                backbone, feature_set, md5);
        if (r >= 0)
                r = store_step(s, error, st);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        int64_t dim = sqlite3_column_int64(st, 0);
        const void *blob = sqlite3_column_blob(st, 1);
        size_t bytes = (size_t)sqlite3_column_bytes(st, 1);
        if (dim <= 0 || (uint64_t)dim > EMBEDDING_MAX_FLOATS || bytes != (size_t)dim * sizeof(float) ||
            !blob)
                return error_setf(error, -EBADMSG, "cached embedding of %s has the wrong size", md5);
        float *f = malloc(bytes);
        if (!f)
                return -ENOMEM;
        memcpy(f, blob, bytes);
        *ret = f;
        *ret_n = (size_t)dim;
        return 0;
}

int store_embedding_prune(Store *s, const char *keep_backbone, Error *error)
{
        const char *keep = keep_backbone ? keep_backbone : "";
        /* two ranges of the (backbone, ...) key: "<>" read the whole table,
         * 0.9 s at 85,000 images, at the start of every embedding */
        return store_run(s, error, "DELETE FROM embeddings WHERE backbone < ? OR backbone > ?", "tt", keep,
                         keep);
}
