/* SPDX-License-Identifier: MIT */
/* The feedback record: what Fluff announced, and how the user answered. The
 * outcome is not copied anywhere: it is the post's label (post_labels), so a
 * vote on the site seen by a sync counts as much as one made here, and a vote
 * taken back stops counting. */
#include <math.h>

#include "store-internal.h"

/* Called by store_prediction_add() for every row it keeps. */
int store_feedback_record(Store *s, Error *error, uint64_t run_id, const PredictionRow *row)
{
        int64_t watch = 0;
        int r;

        if (row->label != 1 && row->label != -1)
                return 0; /* not a prediction the record can judge */
        r = store_query_i64(s, error, &watch,
                            "SELECT watch_id IS NOT NULL FROM prediction_runs WHERE id = ?", "u", run_id);
        if (r < 0)
                return r;
        /* The latest showing is the one a vote answers. The installed model
         * (if the history knows it) is remembered with it. */
        r = store_run(
                s, error,
                "INSERT INTO announcements (post_id, source, run_id, score, label, model_id, announced_at)"
                " VALUES (?, ?, ?, ?, ?, (SELECT id FROM models WHERE state = 'installed'), ?)"
                " ON CONFLICT (post_id) DO UPDATE SET source = excluded.source, run_id = excluded.run_id,"
                "  score = excluded.score, label = excluded.label, model_id = excluded.model_id,"
                "  announced_at = excluded.announced_at",
                "utudiu", row->post_id, watch ? "watch" : "predict", run_id, row->score, (int64_t)row->label,
                store_now());
        return r < 0 ? r : 0;
}

int store_feedback(Store *s, uint64_t since_usec, StoreFeedback *ret, Error *error)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        /* announced as a like: everything a watch announced (above its
         * threshold), and what Predict labelled a like */
        r = store_query(s, error, &st,
                        "SELECT COUNT(*),"
                        "  COALESCE(SUM(l.value = 1), 0), COALESCE(SUM(l.value = -1), 0)"
                        " FROM announcements a LEFT JOIN post_labels l ON l.post_id = a.post_id"
                        " WHERE a.announced_at >= ? AND (a.source = 'watch' OR a.label = 1)",
                        "u", since_usec);
        if (r >= 0)
                r = store_step(s, error, st);
        if (r < 0)
                return r;
        StoreFeedback f = {
                .announced = (uint64_t)sqlite3_column_int64(st, 0),
                .liked = (uint64_t)sqlite3_column_int64(st, 1),
                .disliked = (uint64_t)sqlite3_column_int64(st, 2),
        };
        f.unanswered = f.announced - f.liked - f.disliked;
        f.precision = f.liked + f.disliked > 0 ? (double)f.liked / (double)(f.liked + f.disliked) : NAN;
        *ret = f;
        return 0;
}

int store_feedback_get(Store *s, uint64_t post_id, double *ret_score, int *ret_label, char **ret_source,
                       Error *error)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r = store_query(s, error, &st,
                            "SELECT score, label, source FROM announcements WHERE post_id = ?", "u",
                            post_id);
        if (r >= 0)
                r = store_step(s, error, st);
        if (r < 0)
                return r;
        if (r == 0)
                return error_setf(error, -ENOENT, "post %" PRIu64 " was never announced", post_id);
        if (ret_source) {
                char *src = store_column_strdup(st, 2);
                if (!src)
                        return -ENOMEM;
                *ret_source = src;
        }
        if (ret_score)
                *ret_score = sqlite3_column_double(st, 0);
        if (ret_label)
                *ret_label = (int)sqlite3_column_int64(st, 1);
        return 0;
}
