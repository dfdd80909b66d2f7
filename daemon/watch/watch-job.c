/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <inttypes.h>

#include "blacklist.h"
#include "config.h"
#include "core/counts.h"
#include "core/events.h"
#include "jobs/runner.h"
#include "predict/predict.h"
#include "store.h"
#include "watch/watch.h"

typedef struct WatchJob {
        Predictor pr; /* borrowed pointers */
        Job *job;     /* borrowed: the job owns us */
        WatchJobOptions options;
        bool stopped;
        Blacklist *blacklist; /* owned */
        char *dir;            /* owned; the watches' crops folder */

        Watch *watches; /* owned, n_watches */
        size_t n_watches, current;
        /* The pass of the current watch, and the previous one: a pass is not
         * freed from inside its own callback, which starts the next. */
        PredictPass *pass, *old_pass;

        size_t watches_with_news, watches_failed;
        uint64_t posts_announced, posts_scored;
        int first_error;
        char *first_message; /* owned */
} WatchJob;

int watch_dir(char **ret)
{
        return xdg_fluff_dir("CACHE", "watches", ret);
}

static void watch_job_free(void *userdata)
{
        WatchJob *w = userdata;
        if (!w)
                return;
        w->stopped = true;
        predict_pass_free(w->pass);
        predict_pass_free(w->old_pass);
        counts_forget(w->pr.counts, w);
        blacklist_free(w->blacklist);
        watch_array_free(w->watches, w->n_watches);
        free(w->first_message);
        free(w->dir);
        free(w);
}

static void watch_finish(WatchJob *w, int r, const char *fmt, ...) _printf_(3, 4);
static void watch_finish(WatchJob *w, int r, const char *fmt, ...)
{
        va_list ap;

        if (w->stopped)
                return;
        w->stopped = true;
        va_start(ap, fmt);
        job_finishv(w->job, r, fmt, ap);
        va_end(ap);
}

static void unlink_ours(const char *dir, const char *path)
{
        if (!predict_path_is_ours(dir, path))
                return;
        if (unlink(path) < 0 && errno != ENOENT)
                log_warning_errno(errno, "Failed to delete the old crop \"%s\", ignoring: %m", path);
}

/* Drops watch runs past their age or count, then every crop in the folder no
 * kept run shows (left by a run that crashed before its commit). Only files
 * named <md5>.jpg there are touched. */
static void prune(WatchJob *w)
{
        Store *st = w->pr.store;
        _cleanup_free_ uint64_t *old = NULL;
        DIR *dir;
        uint64_t now = now_usec(CLOCK_REALTIME), age = (uint64_t)WATCH_RUNS_KEEP_DAYS * 24 * 3600 * 1000000;
        size_t n = 0;
        Error db = {};
        int r;

        r = store_prediction_watch_runs_expired(st, now > age ? now - age : 0, WATCH_RUNS_KEEP, &old, &n,
                                                &db);
        if (r < 0)
                log_warning_errno(r, "Failed to find old watch runs, ignoring: %s", error_message(&db, r));
        for (size_t i = 0; i < n; i++) {
                PredictionRow *rows = NULL;
                size_t k = 0;
                if (store_prediction_list(st, old[i], NULL, &rows, &k, NULL) < 0)
                        k = 0;
                Error del = {};
                r = store_prediction_run_delete(st, old[i], &del);
                if (r < 0 && r != -ENOENT)
                        log_warning_errno(r, "Failed to delete watch run %" PRIu64 ", ignoring: %s", old[i],
                                          error_message(&del, r));
                for (size_t j = 0; r >= 0 && j < k; j++)
                        if (!store_prediction_image_in_use(st, rows[j].image_path))
                                unlink_ours(w->dir, rows[j].image_path);
                prediction_row_array_free(rows, k);
        }

        dir = opendir(w->dir);
        if (!dir)
                return;
        for (struct dirent *de; (de = readdir(dir));) {
                _cleanup_free_ char *path = NULL;
                if (asprintf(&path, "%s/%s", w->dir, de->d_name) < 0)
                        break;
                if (predict_path_is_ours(w->dir, path) && !store_prediction_image_in_use(st, path))
                        unlink_ours(w->dir, path);
        }
        closedir(dir);
}

static void next_watch(WatchJob *w);

static void watch_failed(WatchJob *w, const Watch *x, int r, const char *message)
{
        log_warning("Watch %" PRIu64 " (\"%s\") failed: %s", x->id, x->tags, strna(message));
        w->watches_failed++;
        if (!w->first_message) {
                w->first_error = r;
                if (asprintf(&w->first_message, "watch %" PRIu64 " (\"%s\"): %s", x->id, x->tags,
                             message ?: strerror(-r)) < 0)
                        w->first_message = NULL;
        }
}

/* One transaction: the kept posts, their run and the watch's new
 * last_seen_id, so a crash either keeps all three or none. */
static int commit_run(WatchJob *w, const Watch *x, PredictScore *s, const PredictionRow *rows, size_t n,
                      uint64_t newest_id, uint64_t *ret_run, Error *error)
{
        Store *st = w->pr.store;
        uint64_t run = 0;
        int r;

        r = store_begin(st, error);
        if (r < 0)
                return r;
        for (size_t i = 0; r >= 0 && i < n; i++)
                for (size_t j = 0; j < s->n; j++)
                        if (s->posts[j]->id == rows[i].post_id) {
                                r = store_post_upsert(st, s->posts[j], error);
                                break;
                        }
        if (r >= 0 && n > 0)
                r = store_prediction_run_new_watch(st, x->id, x->tags, &run, error);
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = store_prediction_add(st, run, (unsigned)i, &rows[i], error);
        if (r >= 0)
                r = store_watch_ran(st, x->id, newest_id, now_usec(CLOCK_REALTIME), error);
        if (r >= 0)
                r = store_commit(st, error);
        if (r < 0) {
                (void)store_rollback(st, NULL);
                return r;
        }
        *ret_run = run;
        return 0;
}

static void on_pass_done(void *userdata, int r, const char *message, PredictScore *s)
{
        WatchJob *w = userdata;
        const Watch *x = &w->watches[w->current];
        uint64_t newest = predict_pass_stats(w->pass)->newest_id, run = 0;
        _cleanup_free_ PredictionRow *rows = NULL;
        size_t n = 0;
        Error db = {};

        if (r < 0) {
                watch_failed(w, x, r, message);
                goto next;
        }
        if (s) {
                _cleanup_free_ Post **above = calloc(MAX(s->n, (size_t)1), sizeof(Post *));
                _cleanup_free_ float *scores = calloc(MAX(s->n, (size_t)1), sizeof(float));
                _cleanup_free_ uint32_t *index = calloc(MAX(s->n, (size_t)1), sizeof(uint32_t)),
                                        *order = calloc(MAX(s->n, (size_t)1), sizeof(uint32_t));
                rows = calloc(MAX(s->n, (size_t)1), sizeof(PredictionRow));
                if (!rows || !above || !scores || !index || !order) {
                        watch_failed(w, x, -ENOMEM, "Out of memory.");
                        goto next;
                }
                size_t n_above = 0;
                for (size_t i = 0; i < s->n; i++)
                        if (s->probs[i] >= x->threshold) {
                                above[n_above] = s->posts[i];
                                scores[n_above] = s->probs[i];
                                index[n_above++] = (uint32_t)i;
                        }
                /* best first, no artist more than artist_cap times before the
                 * others had their turn; then the watch's limit */
                r = predict_artist_order(above, scores, n_above, w->pr.config->artist_cap, order);
                if (r < 0) {
                        watch_failed(w, x, r, "Failed to order the posts.");
                        goto next;
                }
                for (size_t k = 0; k < n_above; k++)
                        rows[n++] = predict_score_row(s, index[order[k]], s->threshold);
                n = MIN(n, (size_t)x->max_per_run);
                w->posts_scored += s->n;
        }
        r = commit_run(w, x, s, rows, n, newest, &run, &db);
        if (r == -ENOENT) {
                /* Removed while it ran: nothing to keep (its crops go with s). */
                log_info("Watch %" PRIu64 " was removed while it ran; its results are dropped.", x->id);
                goto next;
        }
        if (r < 0) {
                watch_failed(w, x, r, error_message(&db, r));
                goto next;
        }
        if (s) {
                /* Keep the announced crops; the others go now. */
                s->keep_crops = true;
                for (size_t i = 0; i < s->n; i++) {
                        bool kept = false;
                        for (size_t j = 0; j < n && !kept; j++)
                                kept = rows[j].post_id == s->posts[i]->id;
                        if (!kept)
                                unlink_ours(w->dir, s->paths[i]);
                }
        }
        if (n > 0) {
                events_emit(w->pr.events, EVENT_PREDICTIONS_ANNOUNCED,
                            &(EventPredictions){.watch_id = x->id, .tags = x->tags, .rows = rows, .n = n});
                w->watches_with_news++;
                w->posts_announced += n;
        }
        log_debug("Watch %" PRIu64 ": %zu new posts above %.2f (run %" PRIu64 "), last seen %" PRIu64 ".",
                  x->id, n, x->threshold, run, MAX(newest, x->last_seen_id));
next:
        w->current++;
        next_watch(w);
}

static void on_counted(void *userdata)
{
        WatchJob *w = userdata;

        if (w->watches_failed > 0)
                return watch_finish(w, w->first_error,
                                    "%zu of %zu watches failed (%zu new posts above threshold from the "
                                    "others); %s",
                                    w->watches_failed, w->n_watches, (size_t)w->posts_announced,
                                    strna(w->first_message));
        watch_finish(w, 0, "%zu watch%s, %" PRIu64 " new post%s above threshold.", w->n_watches,
                     w->n_watches == 1 ? "" : "es", w->posts_announced, w->posts_announced == 1 ? "" : "s");
}

static void next_watch(WatchJob *w)
{
        char buf[256];
        int r;

        if (w->stopped)
                return;
        job_set_progress(w->job, w->current, w->n_watches);
        if (w->current >= w->n_watches) {
                /* the posts just stored count; a client reads the counts as soon as the job ends */
                if (counts_refresh_then(w->pr.counts, on_counted, w) == 0)
                        on_counted(w);
                return;
        }

        const Watch *x = &w->watches[w->current];
        bool first = x->last_seen_id == 0;
        PredictPassOptions o = {
                .tags = x->tags,
                .count = first ? WATCH_FIRST_RUN_POSTS : PREDICT_COUNT_MAX,
                .include_animated = w->options.include_animated,
                .dir = w->dir,
                .after_id = x->last_seen_id,
                .max_pages = first ? 1 : PREDICT_PAGES_MAX,
                .skip_announced = true,
                .blacklist = w->blacklist,
        };
        predict_pass_free(w->old_pass);
        w->old_pass = TAKE_PTR(w->pass);
        (void)job_set_messagef(w->job, "Watch %zu of %zu: \"%s\"", w->current + 1, w->n_watches, x->tags);
        r = predict_pass_start(&w->pr, w->job, &o, on_pass_done, w, &w->pass);
        if (r < 0) {
                snprintf(buf, sizeof(buf), "Failed to search the site: %s", strerror(-r));
                watch_failed(w, x, r, buf);
                w->current++;
                return next_watch(w);
        }
}

static int watch_job_start(Job *j)
{
        WatchJob *w = j->data;
        const Predictor *d = &w->pr;
        Error db = {};
        int r;

        if (w->options.watch > 0) {
                w->watches = calloc(1, sizeof(Watch));
                if (!w->watches)
                        return -ENOMEM;
                r = store_watch_get(d->store, w->options.watch, w->watches, &db);
                if (r == -ENOENT) {
                        watch_finish(w, -ENOENT, "There is no watch %" PRIu64 ".", w->options.watch);
                        return 0;
                }
                w->n_watches = r >= 0;
        } else
                r = store_watch_list(d->store, &w->watches, &w->n_watches, &db);
        if (r < 0) {
                watch_finish(w, r, "Failed to read the watches: %s", error_message(&db, r));
                return 0;
        }
        r = predict_blacklist_load(d->store, &w->blacklist);
        if (r < 0) {
                watch_finish(w, r, "Failed to read the blacklist: %s", strerror(-r));
                return 0;
        }
        r = mkdir_parents(w->dir, 0700);
        if (r < 0) {
                watch_finish(w, r, "Failed to create \"%s\": %s", w->dir, strerror(-r));
                return 0;
        }
        prune(w);
        (void)job_set_phase(j, "searching", "Searching the site");
        next_watch(w);
        return 0;
}

static void watch_job_cancel(Job *j)
{
        WatchJob *w = j->data;
        if (w->stopped)
                return;
        w->pass = predict_pass_free(w->pass);
        watch_finish(w, -ECANCELED, "Watch run cancelled after %zu of %zu watches (%" PRIu64 " new posts).",
                     w->current, w->n_watches, w->posts_announced);
}

static const JobOps watch_ops = {
        .kind = "watch",
        .start = watch_job_start,
        .cancel = watch_job_cancel,
        .free_data = watch_job_free,
};

int watch_job_create(const Predictor *pr, JobRunner *runner, const WatchJobOptions *o, Job **ret,
                     Error *error)
{
        WatchJob *w;
        Watch one;
        int r;

        if (o->watch > 0) {
                Error db = {};
                r = store_watch_get(pr->store, o->watch, &one, &db);
                if (r == -ENOENT)
                        return error_setf(error, r,
                                          "There is no watch %" PRIu64
                                          "; \"fluffctl watch list\" shows them.",
                                          o->watch);
                if (r < 0)
                        return error_setf(error, r, "Failed to read watch %" PRIu64 ": %s", o->watch,
                                          error_message(&db, r));
                free(one.tags);
        }
        w = calloc(1, sizeof(WatchJob));
        if (!w)
                return error_set_errno(error, -ENOMEM);
        w->pr = *pr;
        w->options = *o;
        r = watch_dir(&w->dir);
        if (r < 0) {
                watch_job_free(w);
                return error_setf(error, r, "Failed to create the watch job: %s", strerror(-r));
        }
        r = job_runner_add(runner, &watch_ops, w, &w->job, error);
        if (r < 0) {
                watch_job_free(w);
                return r;
        }
        *ret = w->job;
        return 0;
}
