/* SPDX-License-Identifier: MIT */
/* What voting on predicted posts and reviewing them read from the prediction
 * runs: the crops a post has in the kept runs, and the unlabelled posts the
 * model is least sure about. */
#include <limits.h>

#include "store-internal.h"

int store_prediction_images(Store *s, uint64_t post_id, char ***ret_paths, Error *error)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_strv_free_ char **paths = NULL;
        size_t n = 0;
        int r;

        /* Newest run first: its crop is the one most likely still on disk. */
        r = store_query(
                s, error, &st,
                "SELECT image_path FROM prediction_posts WHERE post_id = ? AND image_path IS NOT NULL"
                " GROUP BY image_path ORDER BY MAX(run_id) DESC",
                "u", post_id);
        if (r < 0)
                return r;
        while ((r = store_step(s, error, st)) > 0) {
                char **b = reallocarray(paths, n + 2, sizeof(char *));
                if (!b)
                        return -ENOMEM;
                paths = b;
                paths[n] = store_column_strdup(st, 0);
                if (!paths[n])
                        return -ENOMEM;
                paths[++n] = NULL;
        }
        if (r < 0)
                return r;
        if (!paths) {
                paths = calloc(1, sizeof(char *));
                if (!paths)
                        return -ENOMEM;
        }
        *ret_paths = TAKE_PTR(paths);
        return (int)MIN(n, (size_t)INT_MAX);
}

int store_prediction_set_image(Store *s, uint64_t post_id, const char *path, Error *error)
{
        int r = store_run(s, error, "UPDATE prediction_posts SET image_path = ? WHERE post_id = ?", "tu",
                          path, post_id);
        return r < 0 ? r : 0;
}

int store_review_list(Store *s, double threshold, size_t limit, PredictionRow **ret, size_t *ret_n,
                      Error *error)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        if (!(threshold >= 0.0 && threshold <= 1.0))
                return error_setf(error, -EINVAL, "the threshold is not a probability");
        /* A post shown by several runs counts once, with its newest score.
         * Any label row, a cleared vote included, means the user has seen it. */
        r = store_query(
                s, error, &st,
                "SELECT " PREDICTION_ROW_COLUMNS(
                        "p.") " FROM prediction_posts p"
                              " WHERE p.run_id = (SELECT MAX(q.run_id) FROM prediction_posts q"
                              "                   WHERE q.post_id = p.post_id)"
                              "  AND NOT EXISTS (SELECT 1 FROM labels l WHERE l.post_id = p.post_id)"
                              "  AND NOT EXISTS (SELECT 1 FROM skipped k WHERE k.post_id = p.post_id)"
                              " ORDER BY abs(p.score - ?) ASC, p.score DESC, p.post_id ASC LIMIT ?",
                "di", threshold, limit > 0 ? (int64_t)MIN(limit, (size_t)INT64_MAX) : (int64_t)-1);
        if (r < 0)
                return r;
        return store_prediction_rows_read(s, error, st, ret, ret_n);
}
