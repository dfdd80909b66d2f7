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
        _cleanup_stmt_ sqlite3_stmt *announced = NULL, *label = NULL;
        StoreFeedback f = {};
        int r;

        /* announced as a like: everything a watch announced (above its
         * threshold), and what Predict labelled a like */
        r = store_query(s, error, &announced,
                        "SELECT post_id FROM announcements"
                        " WHERE announced_at >= ? AND (source = 'watch' OR label = 1)",
                        "u", since_usec);
        /* One post at a time: SQLite (3.40) finds a single post's label by
         * the labels' key, but a join with post_labels first groups every
         * label of the store, 0.1 s at 100,000 posts, and fluffctl status
         * asks for this on every call. */
        if (r >= 0)
                r = store_prepare(s, error, "SELECT value FROM post_labels WHERE post_id = ?", &label);
        while (r >= 0 && (r = store_step(s, error, announced)) > 0) {
                f.announced++;
                sqlite3_reset(label);
                r = store_bind(s, error, label, "u", (uint64_t)sqlite3_column_int64(announced, 0));
                if (r >= 0)
                        r = store_step(s, error, label);
                if (r > 0) {
                        int value = sqlite3_column_int(label, 0);
                        f.liked += value == 1;
                        f.disliked += value == -1;
                }
        }
        if (r < 0)
                return r;
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
