/* SPDX-License-Identifier: MIT */
/* The Predict job: one PredictPass over the user's query, stored as the
 * latest manual run. */
#include <inttypes.h>

#include "blacklist.h"
#include "config.h"
#include "core/counts.h"
#include "core/events.h"
#include "jobs/runner.h"
#include "predict/predict.h"
#include "store.h"

typedef struct PredictJob PredictJob;

struct PredictJob {
        Predictor pr; /* borrowed pointers */
        Job *job;     /* borrowed: the job owns us */
        char *tags;   /* owned */
        unsigned count;
        bool include_animated, stopped;
        Blacklist *blacklist; /* owned */
        char *dir;            /* owned; the predictions folder */
        PredictPass *pass;    /* owned */
        char *message;        /* owned; the result, said once the counts include the run */
};

static void predict_stop(PredictJob *p)
{
        p->stopped = true;
        p->pass = predict_pass_free(p->pass);
}

static void predict_free(void *userdata)
{
        PredictJob *p = userdata;
        if (!p)
                return;
        predict_stop(p);
        counts_forget(p->pr.counts, p);
        free(p->message);
        blacklist_free(p->blacklist);
        free(p->tags);
        free(p->dir);
        free(p);
}

static void predict_finish(PredictJob *p, int r, const char *fmt, ...) _printf_(3, 4);
static void predict_finish(PredictJob *p, int r, const char *fmt, ...)
{
        va_list ap;

        if (p->stopped)
                return;
        /* Not freeing the pass here: this runs from inside its callback. */
        p->stopped = true;
        va_start(ap, fmt);
        job_finishv(p->job, r, fmt, ap);
        va_end(ap);
}

int predict_dir(char **ret)
{
        return xdg_fluff_dir("CACHE", "predictions", ret);
}

bool predict_path_is_ours(const char *dir, const char *path)
{
        size_t l = strlen(dir);

        if (!path || strncmp(path, dir, l) != 0 || path[l] != '/')
                return false;
        path += l + 1;
        return strlen(path) == 36 && streq(path + 32, ".jpg") && is_hex_digest(strndupa(path, 32), 32);
}

/* Deletes the crops of the stored runs: only files named <md5>.jpg in the
 * predictions folder, never anything else a user may keep there. */
static void delete_previous(void *userdata)
{
        PredictJob *p = userdata;
        Store *st = p->pr.store;
        uint64_t run;

        if (store_prediction_latest_run(st, &run, NULL) < 0)
                return;
        _cleanup_free_ char *tags = NULL;
        PredictionRow *rows = NULL;
        size_t n = 0;
        if (store_prediction_list(st, run, &tags, &rows, &n, NULL) < 0)
                return;
        for (size_t i = 0; i < n; i++) {
                if (!predict_path_is_ours(p->dir, rows[i].image_path))
                        continue;
                if (unlink(rows[i].image_path) < 0 && errno != ENOENT)
                        log_warning_errno(errno, "Failed to delete the old crop \"%s\", ignoring: %m",
                                          rows[i].image_path);
        }
        prediction_row_array_free(rows, n);
}

/* On the loop: the run goes into the store, the old runs out. */
static int record_run(PredictJob *p, PredictScore *s, PredictionRow *rows, uint64_t *ret_run, Error *error)
{
        Store *st = p->pr.store;
        uint64_t run;
        int r;

        for (size_t i = 0; i < s->n; i++) {
                r = store_post_upsert(st, s->posts[i], error);
                if (r < 0)
                        return r;
        }
        r = store_prediction_run_new(st, p->tags, &run, error);
        if (r < 0)
                return r;
        for (size_t i = 0; i < s->n; i++) {
                r = store_prediction_add(st, run, (unsigned)i, &rows[i], error);
                if (r < 0)
                        return r;
        }
        r = store_prediction_prune(st, run, error);
        if (r < 0)
                return r;
        *ret_run = run;
        return 0;
}

static void on_counted(void *userdata)
{
        PredictJob *p = userdata;
        predict_finish(p, 0, "%s", p->message);
}

static void on_pass_done(void *userdata, int r, const char *message, PredictScore *s)
{
        PredictJob *p = userdata;
        _cleanup_free_ PredictionRow *rows = NULL;
        _cleanup_free_ uint32_t *order = NULL;
        size_t likes = 0;
        uint64_t run;
        char buf[256];

        if (r < 0)
                return predict_finish(p, r, "%s", message ?: strerror(-r));
        predict_pass_summary(p->pass, buf, sizeof(buf));
        if (!s)
                return predict_finish(p, -ENODATA,
                                      "No posts to predict for \"%s\" (%s). Try other or broader tags.",
                                      p->tags, buf);
        rows = calloc(MAX(s->n, (size_t)1), sizeof(PredictionRow));
        order = calloc(MAX(s->n, (size_t)1), sizeof(uint32_t));
        if (!rows || !order)
                return predict_finish(p, -ENOMEM, "Out of memory.");
        /* best first, no artist more than artist_cap times before the others had their turn */
        r = predict_artist_order(s->posts, s->probs, s->n, p->pr.config->artist_cap, order);
        if (r < 0)
                return predict_finish(p, r, "Failed to order the predictions: %s", strerror(-r));
        for (size_t k = 0; k < s->n; k++) {
                size_t i = order[k];
                bool like = s->probs[i] >= s->threshold;
                rows[k] = predict_score_row(s, i, s->threshold);
                likes += like;
        }
        Error db = {};
        r = record_run(p, s, rows, &run, &db);
        if (r < 0)
                return predict_finish(p, r, "Failed to store the predictions: %s", error_message(&db, r));
        s->keep_crops = true;
        /* No NewPredictions: the user sees these in the terminal, and a
         * 320-post run must not flood the desktop (watches announce). */
        log_info("Predict run %" PRIu64 ": %zu posts; images %.2f s (download and crop), embedding %.2f s, "
                 "scoring %.3f s.",
                 run, s->n, (double)s->images_usec / USEC_PER_SEC, (double)s->embed_usec / USEC_PER_SEC,
                 (double)s->score_usec / USEC_PER_SEC);
        if (s->n < p->count)
                r = asprintf(&p->message,
                             "Only %zu of %u posts to predict for \"%s\" (the site ran out or the search "
                             "stopped after %u pages): %zu likely likes; %s.",
                             s->n, p->count, p->tags, predict_pass_stats(p->pass)->pages, likes, buf);
        else
                r = asprintf(&p->message,
                             "Predicted %zu posts for \"%s\" as run %" PRIu64 ": %zu likely likes; %s.",
                             s->n, p->tags, run, likes, buf);
        if (r < 0) {
                p->message = NULL;
                return predict_finish(p, -ENOMEM, "Out of memory.");
        }
        /* the posts just stored count; a client reads the counts as soon as the job ends */
        if (counts_refresh_then(p->pr.counts, on_counted, p) == 0)
                on_counted(p);
}

static int predict_start(Job *j)
{
        PredictJob *p = j->data;
        int r;

        r = predict_blacklist_load(p->pr.store, &p->blacklist);
        if (r < 0) {
                predict_finish(p, r, "Failed to read the blacklist: %s", strerror(-r));
                return 0;
        }
        PredictPassOptions o = {
                .tags = p->tags,
                .count = p->count,
                .include_animated = p->include_animated,
                .dir = p->dir,
                .max_pages = PREDICT_PAGES_MAX,
                .blacklist = p->blacklist,
                .before_images = delete_previous,
        };
        r = predict_pass_start(&p->pr, j, &o, on_pass_done, p, &p->pass);
        if (r < 0)
                predict_finish(p, r, "Failed to search the site: %s", strerror(-r));
        return 0;
}

static void predict_cancel(Job *j)
{
        PredictJob *p = j->data;
        if (p->stopped)
                return;
        p->pass = predict_pass_free(p->pass);
        predict_finish(p, -ECANCELED, "Prediction cancelled.");
}

static const JobOps predict_ops = {
        .kind = "predict",
        .start = predict_start,
        .cancel = predict_cancel,
        .free_data = predict_free,
};

int predict_job_create(const Predictor *pr, JobRunner *runner, const PredictJobOptions *o, Job **ret,
                       Error *error)
{
        PredictJob *p;
        int r;

        if (o->count < PREDICT_COUNT_MIN || o->count > PREDICT_COUNT_MAX)
                return error_setf(error, -EINVAL, "Failed to create the predict job: %s", strerror(EINVAL));
        p = calloc(1, sizeof(PredictJob));
        if (!p)
                return error_set_errno(error, -ENOMEM);
        p->pr = *pr;
        p->count = o->count;
        p->include_animated = o->include_animated;
        p->tags = strdup(o->tags);
        if (!p->tags || predict_dir(&p->dir) < 0) {
                predict_free(p);
                return error_set_errno(error, -ENOMEM);
        }
        r = job_runner_add(runner, &predict_ops, p, &p->job, error);
        if (r < 0) {
                predict_free(p);
                return r;
        }
        *ret = p->job;
        return 0;
}
