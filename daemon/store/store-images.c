/* SPDX-License-Identifier: MIT */
/* Image records and the user's blacklist. */
#include "store-internal.h"

void image_needed_array_free(ImageNeeded *a, size_t n)
{
        for (size_t i = 0; a && i < n; i++)
                free(a[i].url);
        free(a);
}

int store_images_needed(Store *s, uint64_t generation, size_t limit, ImageNeeded **ret, size_t *ret_n,
                        Error *error)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        ImageNeeded *a = NULL;
        size_t n = 0, cap = 0;
        int r;

        /* "An image on disk is never downloaded again": a row in state ok
         * ends the story; a permanent failure too; a transient one waits for
         * the next generation and gives up after STORE_IMAGE_MAX_ATTEMPTS. */
        r = store_query(s, error, &st,
                        "SELECT p.id, p.md5, p.image_url FROM dataset d JOIN posts p ON p.id = d.post_id"
                        " WHERE p.md5 IS NOT NULL AND p.image_url IS NOT NULL"
                        "  AND NOT EXISTS (SELECT 1 FROM images i WHERE i.md5 = p.md5 AND"
                        "   (i.state = 'ok' OR NOT i.transient OR i.generation >= ? OR i.attempts >= ?))"
                        " ORDER BY p.id DESC LIMIT ?",
                        "uii", generation, (int64_t)STORE_IMAGE_MAX_ATTEMPTS,
                        limit > 0 ? (int64_t)MIN(limit, (size_t)INT64_MAX) : (int64_t)-1);
        if (r < 0)
                return r;
        while ((r = store_step(s, error, st)) > 0) {
                r = STORE_ROWS_GROW(a, n, cap, 64);
                if (r < 0)
                        break;
                ImageNeeded *e = &a[n];
                *e = (ImageNeeded){.post_id = (uint64_t)sqlite3_column_int64(st, 0)};
                (void)snprintf(e->md5, sizeof e->md5, "%s", (const char *)sqlite3_column_text(st, 1));
                e->url = store_column_strdup(st, 2);
                if (!e->url) {
                        r = -ENOMEM;
                        break;
                }
                n++;
        }
        if (r < 0) {
                image_needed_array_free(a, n);
                return r;
        }
        *ret = a;
        *ret_n = n;
        return 0;
}

int store_image_ok(Store *s, const char *md5, uint64_t post_id, uint64_t size, Error *error)
{
        if (!is_hex_digest(md5, 32))
                return error_setf(error, -EINVAL, "not an md5");
        int r = store_run(
                s, error,
                "INSERT INTO images (md5, post_id, state, reason, transient, size, attempts, generation,"
                "  updated_at) VALUES (?, ?, 'ok', NULL, 0, ?, 1, 0, ?)"
                " ON CONFLICT (md5) DO UPDATE SET post_id = excluded.post_id, state = 'ok', reason = NULL,"
                "  transient = 0, size = excluded.size, attempts = attempts + 1,"
                "  updated_at = excluded.updated_at",
                "tuuu", md5, post_id, size, store_now());
        return r < 0 ? r : 0;
}

int store_image_failed(Store *s, const char *md5, uint64_t post_id, const char *reason, bool transient,
                       uint64_t generation, Error *error)
{
        if (!is_hex_digest(md5, 32))
                return error_setf(error, -EINVAL, "not an md5");
        /* a crop already on disk stays: a later failure cannot unmake it */
        int r = store_run(
                s, error,
                "INSERT INTO images (md5, post_id, state, reason, transient, attempts, generation,"
                "  updated_at) VALUES (?, ?, 'failed', ?, ?, 1, ?, ?)"
                " ON CONFLICT (md5) DO UPDATE SET post_id = excluded.post_id, state = 'failed',"
                "  reason = excluded.reason, transient = excluded.transient, attempts = attempts + 1,"
                "  generation = excluded.generation, updated_at = excluded.updated_at"
                " WHERE state <> 'ok'",
                "tutiuu", md5, post_id, reason ? reason : "unknown error", (int64_t)transient, generation,
                store_now());
        return r < 0 ? r : 0;
}

int store_image_forget(Store *s, const char *md5, Error *error)
{
        if (!is_hex_digest(md5, 32))
                return error_setf(error, -EINVAL, "not an md5");
        int r = store_run(s, error, "DELETE FROM images WHERE md5 = ?", "t", md5);
        return r < 0 ? r : 0;
}

bool store_image_is_ok(Store *s, const char *md5)
{
        int64_t one;
        return is_hex_digest(md5, 32) &&
               store_query_i64(s, NULL, &one, "SELECT 1 FROM images WHERE md5 = ? AND state = 'ok'", "t",
                               md5) >= 0;
}

int store_images_verify(Store *s, const char *images_dir, Error *error)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_strv_free_ char **gone = NULL;
        int r, n = 0;

        if (isempty(images_dir))
                return -EINVAL;
        r = store_prepare(s, error, "SELECT md5 FROM images WHERE state = 'ok'", &st);
        if (r < 0)
                return r;
        while ((r = store_step(s, error, st)) > 0) {
                const char *md5 = (const char *)sqlite3_column_text(st, 0);
                _cleanup_free_ char *path = NULL;
                if (!md5 || asprintf(&path, "%s/%s.jpg", images_dir, md5) < 0)
                        return -ENOMEM;
                if (access(path, F_OK) < 0 && errno == ENOENT) {
                        char *m = strdup(md5);
                        if (!m || strv_push(&gone, m) < 0)
                                return -ENOMEM;
                }
        }
        if (r < 0)
                return r;
        r = store_savepoint(s, error);
        if (r < 0)
                return r;
        for (char **m = gone; r >= 0 && m && *m; m++, n++)
                r = store_image_forget(s, *m, error);
        r = store_savepoint_end(s, error, r < 0 ? r : 0);
        return r < 0 ? r : n;
}

/* ---- blacklist ---- */

int store_blacklist_set(Store *s, char *const *rules, Error *error)
{
        int r = store_savepoint(s, error);
        if (r < 0)
                return r;
        r = store_run(s, error, "DELETE FROM blacklist", NULL);
        for (size_t i = 0; r >= 0 && rules && rules[i]; i++)
                r = store_run(s, error, "INSERT INTO blacklist (position, rule) VALUES (?, ?)", "it",
                              (int64_t)i, rules[i]);
        return store_savepoint_end(s, error, r < 0 ? r : 0);
}

int store_blacklist_get(Store *s, char ***ret_rules, Error *error)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_strv_free_ char **l = calloc(1, sizeof(char *));
        int r;

        if (!l)
                return -ENOMEM;
        r = store_prepare(s, error, "SELECT rule FROM blacklist ORDER BY position", &st);
        if (r < 0)
                return r;
        while ((r = store_step(s, error, st)) > 0) {
                char *rule = store_column_strdup(st, 0);
                if (!rule)
                        return -ENOMEM;
                r = strv_push(&l, rule);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        *ret_rules = TAKE_PTR(l);
        return 0;
}
