/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <math.h>
#include <sys/stat.h>

#include "blacklist.h"
#include "config.h"
#include "daemon.h"
#include "e621.h"
#include "embed/service.h"
#include "images.h"
#include "jobs/image-fetch.h"
#include "jobs/job.h"
#include "predict/predict.h"
#include "store.h"
#include "train/taste.h"
#include "work/work.h"

typedef struct PredictJob PredictJob;

struct PredictJob {
        Daemon *daemon; /* borrowed */
        Job *job;       /* borrowed: the job owns us */
        char *tags;     /* owned */
        unsigned count;
        bool include_animated, stopped;
        Blacklist *blacklist; /* owned */
        char *dir;            /* owned; the predictions folder */

        E621Request *request; /* borrowed handle of the search in progress */
        unsigned pages;
        uint64_t seen, dropped_known, dropped_blacklist, dropped_unusable, images_failed;

        Post **picked; /* owned, n_picked (an entry is NULL once its image failed) */
        char **paths;  /* owned, n_picked */
        bool *ok;      /* n_picked: the crop is on disk */
        size_t n_picked, next_image, images_done;
        ImageFetch *fetch; /* owned; the downloads and crops in flight */
        bool scoring;
        uint64_t images_usec; /* CLOCK_MONOTONIC when the images began, then their duration */
};

static void predict_stop(PredictJob *p)
{
        p->stopped = true;
        p->request = e621_request_cancel(p->request);
        image_fetch_stop(p->fetch);
        work_pool_forget(p->daemon->work, p);
}

/* Crops of a run that never got stored: no later run would know to delete
 * them. (predict-score.c does the same for the ones handed to scoring.) */
static void unlink_crops(char **paths, const bool *ok, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (paths[i] && ok[i] && unlink(paths[i]) < 0 && errno != ENOENT)
                        log_debug_errno(errno, "Failed to delete the unused crop \"%s\", ignoring: %m",
                                        paths[i]);
}

static void predict_free(void *userdata)
{
        PredictJob *p = userdata;
        if (!p)
                return;
        predict_stop(p);
        image_fetch_free(p->fetch);
        /* Crops still here were not handed to a stored run (failed or cancelled). */
        if (p->paths && p->ok)
                unlink_crops(p->paths, p->ok, p->n_picked);
        post_array_free(p->picked, p->n_picked);
        for (size_t i = 0; i < p->n_picked; i++)
                free(p->paths ? p->paths[i] : NULL);
        free(p->paths);
        free(p->ok);
        blacklist_free(p->blacklist);
        free(p->tags);
        free(p->dir);
        free(p);
}

static void predict_finish(PredictJob *p, int r, const char *fmt, ...) _printf_(3, 4);
static void predict_finish(PredictJob *p, int r, const char *fmt, ...)
{
        _cleanup_free_ char *m = NULL;
        va_list ap;

        if (p->stopped)
                return;
        predict_stop(p);
        va_start(ap, fmt);
        if (vasprintf(&m, fmt, ap) < 0)
                m = NULL;
        va_end(ap);
        job_finish(p->job, r, "%s", m ?: "");
}

int predict_dir(char **ret)
{
        _cleanup_free_ char *cache = NULL;
        char *d;
        int r;

        r = xdg_fluff_dir("CACHE", &cache);
        if (r < 0)
                return r;
        if (asprintf(&d, "%s/predictions", cache) < 0)
                return -ENOMEM;
        *ret = d;
        return 0;
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
static void delete_previous(PredictJob *p)
{
        Store *st = p->daemon->store;
        uint64_t run;

        if (store_prediction_latest_run(st, &run) < 0)
                return;
        _cleanup_free_ char *tags = NULL;
        PredictionRow *rows = NULL;
        size_t n = 0;
        if (store_prediction_list(st, run, &tags, &rows, &n) < 0)
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

static void images_step(PredictJob *p);
static void score_begin(PredictJob *p);

static void image_failed(PredictJob *p, size_t i, const char *why)
{
        log_debug("Prediction image of post %" PRIu64 " failed: %s", p->picked[i]->id, why);
        p->images_failed++;
        p->images_done++;
}

static void on_fetched(void *userdata, uint64_t post_id, const char *md5, const char *path, int r,
                       const char *reason, bool transient)
{
        PredictJob *p = userdata;

        /* The images are in picked order: find this one's slot by its path. */
        for (size_t i = 0; i < p->n_picked; i++)
                if (p->paths[i] && streq(p->paths[i], path)) {
                        if (r < 0)
                                image_failed(p, i, reason);
                        else {
                                p->ok[i] = true;
                                p->images_done++;
                        }
                        break;
                }
        images_step(p);
}

static void images_step(PredictJob *p)
{
        int r;

        while (!p->stopped && p->next_image < p->n_picked && image_fetch_can_start(p->fetch)) {
                size_t i = p->next_image++;
                r = image_fetch_start(p->fetch, p->picked[i]->id, p->picked[i]->md5,
                                      post_image_url(p->picked[i]), p->paths[i]);
                if (r == -ENOMEM)
                        return predict_finish(p, r, "Out of memory.");
                if (r < 0)
                        image_failed(p, i, strerror(-r));
        }
        if (p->stopped)
                return;
        job_set_progress(p->job, p->images_done, p->n_picked);
        if (p->next_image < p->n_picked || image_fetch_in_flight(p->fetch) > 0)
                return;
        score_begin(p);
}

static void images_begin(PredictJob *p)
{
        int r;

        p->paths = calloc(MAX(p->n_picked, (size_t)1), sizeof(char *));
        p->ok = calloc(MAX(p->n_picked, (size_t)1), sizeof(bool));
        if (!p->paths || !p->ok)
                return predict_finish(p, -ENOMEM, "Out of memory.");
        for (size_t i = 0; i < p->n_picked; i++) {
                r = image_path_for_md5(p->dir, p->picked[i]->md5, &p->paths[i]);
                if (r < 0)
                        return predict_finish(p, r, "Post %" PRIu64 " has a malformed md5.", p->picked[i]->id);
        }
        r = image_fetch_new(p->daemon, on_fetched, p, &p->fetch);
        if (r < 0)
                return predict_finish(p, r, "Out of memory.");
        r = mkdir_parents(p->dir, 0700);
        if (r < 0)
                return predict_finish(p, r, "Failed to create \"%s\": %s", p->dir, strerror(-r));
        delete_previous(p);
        (void)images_remove_temporaries(p->dir);
        (void)job_set_phase(p->job, "images", "Downloading and cropping the images");
        p->images_usec = now_usec(CLOCK_MONOTONIC);
        images_step(p);
}

static const char *dropped_summary(PredictJob *p, char *buf, size_t size)
{
        snprintf(buf, size,
                 "%" PRIu64 " posts seen; left out: %" PRIu64 " already labelled, %" PRIu64
                 " hidden by the blacklist, %" PRIu64 " without a usable image, %" PRIu64 " whose image failed",
                 p->seen, p->dropped_known, p->dropped_blacklist, p->dropped_unusable, p->images_failed);
        return buf;
}

/* Whether post q is one to score; counts why not. */
static bool want_post(PredictJob *p, const Post *q)
{
        int label;
        bool conflict;

        if (q->deleted || !q->md5 || !is_hex_digest(q->md5, 32) || !post_image_url(q) ||
            (!p->include_animated && post_is_animated(q))) {
                p->dropped_unusable++;
                return false;
        }
        /* In the dataset or voted on (a cleared vote too), or voted on the
         * site since the last sync: the user has seen it. */
        if (q->own_vote != 0 || q->is_favorited ||
            store_post_label(p->daemon->store, q->id, &label, &conflict) >= 0) {
                p->dropped_known++;
                return false;
        }
        if (blacklist_match(p->blacklist, q, NULL)) {
                p->dropped_blacklist++;
                return false;
        }
        for (size_t i = 0; i < p->n_picked; i++)
                if (streq(p->picked[i]->md5, q->md5)) {
                        p->dropped_unusable++; /* the same file twice would share one crop */
                        return false;
                }
        return true;
}

static int search_next(PredictJob *p, uint64_t below);

static void on_page(int error, const char *message, E621PostList *list, void *userdata)
{
        PredictJob *p = userdata;
        char buf[256];

        p->request = NULL;
        if (error < 0)
                return predict_finish(p, error, "Searching the site for \"%s\" failed: %s", p->tags,
                                      message ?: strerror(-error));
        p->pages++;
        for (size_t i = 0; i < list->n_posts && p->n_picked < p->count; i++) {
                Post *q = list->posts[i];
                if (!q)
                        continue;
                p->seen++;
                if (!want_post(p, q))
                        continue;
                p->picked[p->n_picked++] = TAKE_PTR(list->posts[i]);
        }
        (void)job_set_messagef(p->job, "Searching: %zu of %u posts found (%s)", p->n_picked, p->count,
                               dropped_summary(p, buf, sizeof(buf)));
        if (p->n_picked < p->count && list->n_entries >= E621_POSTS_LIMIT_MAX && list->min_id > 1 &&
            p->pages < PREDICT_PAGES_MAX) {
                int r = search_next(p, list->min_id);
                if (r < 0)
                        predict_finish(p, r, "Failed to search the site: %s", strerror(-r));
                return;
        }
        if (p->n_picked == 0)
                return predict_finish(p, -ENODATA,
                                      "No posts to predict for \"%s\" (%s). Try other or broader tags.",
                                      p->tags, dropped_summary(p, buf, sizeof(buf)));
        images_begin(p);
}

static int search_next(PredictJob *p, uint64_t below)
{
        char page[32];

        if (below > 0)
                snprintf(page, sizeof(page), "b%" PRIu64, below);
        return e621_search_posts(p->daemon->e621, p->tags, E621_POSTS_LIMIT_MAX, below > 0 ? page : NULL,
                                 on_page, p, &p->request);
}

static int compare_rows(const void *a, const void *b)
{
        const PredictionRow *x = a, *y = b;
        return x->score > y->score ? -1 : x->score < y->score ? 1 : (x->post_id > y->post_id) - (x->post_id < y->post_id);
}

/* On the loop: the run goes into the store, the old runs out. */
static int store_run(PredictJob *p, PredictScore *s, PredictionRow *rows, uint64_t *ret_run)
{
        Store *st = p->daemon->store;
        uint64_t run;
        int r;

        for (size_t i = 0; i < s->n; i++) {
                r = store_post_upsert(st, s->posts[i]);
                if (r < 0)
                        return r;
        }
        r = store_prediction_run_new(st, p->tags, &run);
        if (r < 0)
                return r;
        for (size_t i = 0; i < s->n; i++) {
                r = store_prediction_add(st, run, (unsigned)i, &rows[i]);
                if (r < 0)
                        return r;
        }
        r = store_prediction_prune(st, run);
        if (r < 0)
                return r;
        *ret_run = run;
        return 0;
}

static void on_scored(void *userdata, int r)
{
        PredictScore *s = userdata;
        PredictJob *p;
        _cleanup_free_ PredictionRow *rows = NULL;
        size_t likes = 0;
        uint64_t run;
        char buf[256];

        /* done() only runs while the job lives: it forgets its work when it goes. */
        p = s->owner;
        p->scoring = false;
        if (r < 0)
                return predict_finish(p, r, "%s", s->error ?: strerror(-r));
        rows = calloc(MAX(s->n, (size_t)1), sizeof(PredictionRow));
        if (!rows)
                return predict_finish(p, -ENOMEM, "Out of memory.");
        for (size_t i = 0; i < s->n; i++) {
                bool like = s->probs[i] >= s->threshold;
                rows[i] = (PredictionRow){
                        .post_id = s->posts[i]->id,
                        .score = s->probs[i],
                        .label = like ? 1 : -1,
                        .top_tags = s->top_tags[i],
                        .image_path = s->paths[i],
                };
                likes += like;
        }
        qsort(rows, s->n, sizeof(PredictionRow), compare_rows);
        r = store_run(p, s, rows, &run);
        if (r < 0)
                return predict_finish(p, r, "Failed to store the predictions: %s", store_error(p->daemon->store));
        s->keep_crops = true;
        log_info("Predict run %" PRIu64 ": %zu posts; images %.2f s (download and crop), embedding %.2f s, "
                 "scoring %.3f s.",
                 run, s->n, (double)p->images_usec / USEC_PER_SEC, (double)s->embed_usec / USEC_PER_SEC,
                 (double)s->score_usec / USEC_PER_SEC);
        bus_predict_emit_new(p->daemon, rows, s->n);
        daemon_refresh_counts(p->daemon);
        if (s->n < p->count)
                predict_finish(p, 0,
                               "Only %zu of %u posts to predict for \"%s\" (the site ran out or the search "
                               "stopped after %u pages): %zu likely likes; %s.",
                               s->n, p->count, p->tags, p->pages, likes, dropped_summary(p, buf, sizeof(buf)));
        else
                predict_finish(p, 0, "Predicted %zu posts for \"%s\" as run %" PRIu64 ": %zu likely likes; %s.",
                               s->n, p->tags, run, likes, dropped_summary(p, buf, sizeof(buf)));
}

static void score_begin(PredictJob *p)
{
        Daemon *d = p->daemon;
        PredictScore *s;
        size_t n = 0;
        int r;

        if (!d->taste->model)
                return predict_finish(p, -ENOMEDIUM, "There is no taste model: run \"fluffctl train\" first.");
        s = calloc(1, sizeof(PredictScore));
        if (!s)
                return predict_finish(p, -ENOMEM, "Out of memory.");
        s->owner = p;
        s->backbone = d->backbone;
        s->model_path = strdup(d->taste->path);
        s->posts = calloc(MAX(p->n_picked, (size_t)1), sizeof(Post *));
        s->paths = calloc(MAX(p->n_picked, (size_t)1), sizeof(char *));
        if (!s->model_path || !s->posts || !s->paths) {
                predict_score_free(s);
                return predict_finish(p, -ENOMEM, "Out of memory.");
        }
        if (d->backbone->current)
                s->handle = bb_handle_ref(d->backbone->current);
        for (size_t i = 0; i < p->n_picked; i++)
                if (p->ok[i]) {
                        s->posts[n] = TAKE_PTR(p->picked[i]);
                        s->paths[n++] = TAKE_PTR(p->paths[i]);
                }
        s->n = n;
        if (n == 0) {
                char buf[256];
                predict_score_free(s);
                return predict_finish(p, -ENODATA, "No image of the posts found for \"%s\" could be fetched (%s).",
                                      p->tags, dropped_summary(p, buf, sizeof(buf)));
        }
        (void)job_set_phase(p->job, "scoring", "Scoring the posts");
        p->images_usec = now_usec(CLOCK_MONOTONIC) - p->images_usec;
        r = work_pool_submit(d->work, p, predict_score_run, on_scored, predict_score_free, s);
        if (r < 0) {
                predict_score_free(s);
                return predict_finish(p, r, "Failed to hand the scoring to a worker thread: %s", strerror(-r));
        }
        p->scoring = true;
}

static int predict_start(Job *j)
{
        PredictJob *p = j->data;
        Daemon *d = p->daemon;
        _cleanup_strv_free_ char **rules = NULL;
        _cleanup_free_ char *text = NULL;
        int r;

        r = store_blacklist_get(d->store, &rules);
        if (r < 0) {
                predict_finish(p, r, "Failed to read the blacklist: %s", store_error(d->store));
                return 0;
        }
        text = strdup("");
        for (size_t i = 0; text && rules && rules[i]; i++) {
                char *t;
                if (asprintf(&t, "%s%s\n", text, rules[i]) < 0)
                        return -ENOMEM;
                free(text);
                text = t;
        }
        if (!text)
                return -ENOMEM;
        r = blacklist_parse(text, &p->blacklist);
        if (r < 0)
                return r;
        if (blacklist_n_skipped(p->blacklist) > 0)
                log_info("%zu blacklist rules cannot be applied and are left out.",
                         blacklist_n_skipped(p->blacklist));

        (void)job_set_phase(j, "searching", "Searching the site");
        r = search_next(p, 0);
        if (r < 0) {
                predict_finish(p, r, "Failed to search the site: %s", strerror(-r));
                return 0;
        }
        return 0;
}

static void predict_cancel(Job *j)
{
        PredictJob *p = j->data;
        predict_finish(p, -ECANCELED, "Prediction cancelled.");
}

static const JobOps predict_ops = {
        .kind = "predict",
        .start = predict_start,
        .cancel = predict_cancel,
        .free_data = predict_free,
};

int predict_job_new(Daemon *d, const PredictJobOptions *o, Job **ret)
{
        PredictJob *p;
        int r;

        if (o->count < PREDICT_COUNT_MIN || o->count > PREDICT_COUNT_MAX)
                return -EINVAL;
        p = calloc(1, sizeof(PredictJob));
        if (!p)
                return -ENOMEM;
        p->daemon = d;
        p->count = o->count;
        p->include_animated = o->include_animated;
        p->tags = strdup(o->tags);
        p->picked = calloc(o->count, sizeof(Post *));
        if (!p->tags || !p->picked || predict_dir(&p->dir) < 0) {
                predict_free(p);
                return -ENOMEM;
        }
        r = job_new(d, &predict_ops, p, &p->job);
        if (r < 0) {
                predict_free(p);
                return r;
        }
        *ret = p->job;
        return 0;
}
