/* SPDX-License-Identifier: MIT */
/* One query searched newest first, filtered, cropped and scored: the steps
 * the Predict job and the RunWatches job share. */
#include <assert.h>
#include <inttypes.h>

#include "config.h"
#include "blacklist.h"
#include "core/context.h"
#include "e621.h"
#include "images.h"
#include "jobs/runner.h"
#include "predict/predict.h"
#include "services/backbone.h"
#include "services/image-fetch.h"
#include "services/taste.h"
#include "store.h"
#include "work/work.h"

struct PredictPass {
        Predictor pr; /* borrowed pointers */
        Job *job;     /* borrowed: progress goes there */
        PredictPassDone done;
        void *userdata;
        char *tags, *dir; /* owned */
        unsigned count, max_pages;
        uint64_t after_id;
        bool include_animated, skip_announced, stopped;
        const Blacklist *blacklist; /* borrowed */
        void (*before_images)(void *userdata);

        E621Request *request; /* borrowed handle of the search in progress */
        PredictPassStats stats;

        Post **picked; /* owned, n_picked */
        char **paths;  /* owned, n_picked */
        bool *ok;      /* n_picked: the crop is on disk */
        size_t n_picked, next_image, images_done;
        ImageFetch *fetch;    /* owned; the downloads and crops in flight */
        uint64_t images_usec; /* CLOCK_MONOTONIC when the images began */
};

static void pass_stop(PredictPass *p)
{
        p->stopped = true;
        p->request = e621_request_cancel(p->request);
        image_fetch_stop(p->fetch);
        work_pool_forget(p->pr.work, p);
}

/* Crops of a pass that never got scored: nothing would know to delete them.
 * (predict-score.c does the same for the ones handed to scoring.) */
static void unlink_crops(char **paths, const bool *ok, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (paths[i] && ok[i] && unlink(paths[i]) < 0 && errno != ENOENT)
                        log_debug_errno(errno, "Failed to delete the unused crop \"%s\", ignoring: %m",
                                        paths[i]);
}

PredictPass *predict_pass_free(PredictPass *p)
{
        if (!p)
                return NULL;
        pass_stop(p);
        image_fetch_free(p->fetch);
        if (p->paths && p->ok)
                unlink_crops(p->paths, p->ok, p->n_picked);
        post_array_free(p->picked, p->n_picked);
        for (size_t i = 0; i < p->n_picked; i++)
                free(p->paths ? p->paths[i] : NULL);
        free(p->paths);
        free(p->ok);
        free(p->tags);
        free(p->dir);
        free(p);
        return NULL;
}

const PredictPassStats *predict_pass_stats(const PredictPass *p)
{
        return &p->stats;
}

const char *predict_pass_summary(const PredictPass *p, char *buf, size_t size)
{
        const PredictPassStats *s = &p->stats;
        char announced[64] = "";

        if (s->dropped_announced > 0)
                snprintf(announced, sizeof(announced), ", %" PRIu64 " already announced",
                         s->dropped_announced);
        snprintf(buf, size,
                 "%" PRIu64 " posts seen; left out: %" PRIu64 " already labelled, %" PRIu64
                 " hidden by the blacklist, %" PRIu64 " without a usable image, %" PRIu64
                 " whose image failed%s",
                 s->seen, s->dropped_known, s->dropped_blacklist, s->dropped_unusable, s->images_failed,
                 announced);
        return buf;
}

static void pass_finish(PredictPass *p, int r, PredictScore *s, const char *fmt, ...) _printf_(4, 5);
static void pass_finish(PredictPass *p, int r, PredictScore *s, const char *fmt, ...)
{
        _cleanup_free_ char *m = NULL;
        va_list ap;

        if (p->stopped)
                return;
        pass_stop(p);
        if (fmt) {
                va_start(ap, fmt);
                if (vasprintf(&m, fmt, ap) < 0)
                        m = NULL;
                va_end(ap);
        }
        /* Last: the callback may start the next pass. */
        p->done(p->userdata, r, m, s);
}

int predict_row_compare(const void *a, const void *b)
{
        const PredictionRow *x = a, *y = b;
        return x->score > y->score   ? -1
               : x->score < y->score ? 1
                                     : (x->post_id > y->post_id) - (x->post_id < y->post_id);
}

int predict_blacklist_load(Store *store, Blacklist **ret)
{
        _cleanup_strv_free_ char **rules = NULL;
        _cleanup_free_ char *text = NULL;
        Blacklist *b;
        int r;

        Error db = {};
        r = store_blacklist_get(store, &rules, &db);
        if (r < 0)
                return log_error_errno(r, "Failed to read the blacklist: %s", error_message(&db, r));
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
        r = blacklist_parse(text, &b);
        if (r < 0)
                return r;
        if (blacklist_n_skipped(b) > 0)
                log_info("%zu blacklist rules cannot be applied and are left out.", blacklist_n_skipped(b));
        *ret = b;
        return 0;
}

static void images_step(PredictPass *p);
static void score_begin(PredictPass *p);

static void image_failed(PredictPass *p, size_t i, const char *why)
{
        log_debug("Prediction image of post %" PRIu64 " failed: %s", p->picked[i]->id, why);
        p->stats.images_failed++;
        p->images_done++;
}

static void on_fetched(void *userdata, uint64_t post_id, const char *md5, const char *path, int r,
                       const char *reason, bool transient)
{
        PredictPass *p = userdata;

        /* The images are in picked order: find this one's slot by its path. */
        /* A full disk is not this post's fault: every later crop would fail
         * the same way, and "34 whose image failed" would hide why. */
        if (r == -ENOSPC || r == -EDQUOT)
                return pass_finish(p, r, NULL,
                                   "No space left in %s for the crops: free some space there and try again.",
                                   p->dir);
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

static void images_step(PredictPass *p)
{
        int r;

        while (!p->stopped && p->next_image < p->n_picked && image_fetch_can_start(p->fetch)) {
                size_t i = p->next_image++;
                r = image_fetch_start(p->fetch, p->picked[i]->id, p->picked[i]->md5,
                                      post_image_url(p->picked[i]), p->paths[i]);
                if (r == -ENOMEM)
                        return pass_finish(p, r, NULL, "Out of memory.");
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

static void images_begin(PredictPass *p)
{
        int r;

        p->paths = calloc(MAX(p->n_picked, (size_t)1), sizeof(char *));
        p->ok = calloc(MAX(p->n_picked, (size_t)1), sizeof(bool));
        if (!p->paths || !p->ok)
                return pass_finish(p, -ENOMEM, NULL, "Out of memory.");
        for (size_t i = 0; i < p->n_picked; i++) {
                r = image_path_for_md5(p->dir, p->picked[i]->md5, &p->paths[i]);
                if (r < 0)
                        return pass_finish(p, r, NULL, "Post %" PRIu64 " has a malformed md5.",
                                           p->picked[i]->id);
        }
        r = image_fetch_new(p->pr.work, p->pr.e621, p->pr.config, on_fetched, p, &p->fetch);
        if (r < 0)
                return pass_finish(p, r, NULL, "Out of memory.");
        r = mkdir_parents(p->dir, 0700);
        if (r < 0)
                return pass_finish(p, r, NULL, "Failed to create \"%s\": %s", p->dir, strerror(-r));
        if (p->before_images)
                p->before_images(p->userdata);
        (void)images_remove_temporaries(p->dir);
        (void)job_set_phase(p->job, "images", "Downloading and cropping the images");
        p->images_usec = now_usec(CLOCK_MONOTONIC);
        images_step(p);
}

/* Whether post q is one to score; counts why not. */
static bool want_post(PredictPass *p, const Post *q)
{
        int label;
        bool conflict;

        if (q->deleted || !q->md5 || !is_hex_digest(q->md5, 32) || !post_image_url(q) ||
            (!p->include_animated && post_is_animated(q))) {
                p->stats.dropped_unusable++;
                return false;
        }
        /* In the dataset or voted on (a cleared vote too), or voted on the
         * site since the last sync: the user has seen it. */
        if (q->own_vote != 0 || q->is_favorited ||
            store_post_label(p->pr.store, q->id, &label, &conflict, NULL) >= 0) {
                p->stats.dropped_known++;
                return false;
        }
        if (blacklist_match(p->blacklist, q, NULL)) {
                p->stats.dropped_blacklist++;
                return false;
        }
        /* Another watch announced it already: once is enough, and its crop is
         * that run's. */
        if (p->skip_announced && store_prediction_in_watch_run(p->pr.store, q->id)) {
                p->stats.dropped_announced++;
                return false;
        }
        for (size_t i = 0; i < p->n_picked; i++)
                if (streq(p->picked[i]->md5, q->md5)) {
                        p->stats.dropped_unusable++; /* the same file twice would share one crop */
                        return false;
                }
        return true;
}

static int search_next(PredictPass *p, uint64_t below);

static void on_page(int error, const char *message, E621PostList *list, void *userdata)
{
        PredictPass *p = userdata;
        bool reached_seen = false;
        char buf[256];

        p->request = NULL;
        if (error < 0)
                return pass_finish(p, error, NULL, "Searching the site for \"%s\" failed: %s", p->tags,
                                   message ?: strerror(-error));
        p->stats.pages++;
        for (size_t i = 0; i < list->n_posts && p->n_picked < p->count; i++) {
                Post *q = list->posts[i];
                if (!q)
                        continue;
                /* Newest first: everything from here on was seen by an earlier run. */
                if (q->id <= p->after_id) {
                        reached_seen = true;
                        break;
                }
                p->stats.newest_id = MAX(p->stats.newest_id, q->id);
                p->stats.seen++;
                if (!want_post(p, q))
                        continue;
                p->picked[p->n_picked++] = TAKE_PTR(list->posts[i]);
        }
        (void)job_set_messagef(p->job, "Searching \"%s\": %zu of at most %u posts found (%s)", p->tags,
                               p->n_picked, p->count, predict_pass_summary(p, buf, sizeof(buf)));
        if (!reached_seen && p->n_picked < p->count && list->n_entries >= E621_POSTS_LIMIT_MAX &&
            list->min_id > MAX(p->after_id, (uint64_t)1) && p->stats.pages < p->max_pages) {
                int r = search_next(p, list->min_id);
                if (r < 0)
                        pass_finish(p, r, NULL, "Failed to search the site: %s", strerror(-r));
                return;
        }
        if (p->n_picked == 0)
                return pass_finish(p, 0, NULL, NULL);
        images_begin(p);
}

static int search_next(PredictPass *p, uint64_t below)
{
        char page[32];

        if (below > 0)
                snprintf(page, sizeof(page), "b%" PRIu64, below);
        return e621_search_posts(p->pr.e621, p->tags, E621_POSTS_LIMIT_MAX, below > 0 ? page : NULL, on_page,
                                 p, &p->request);
}

static void on_scored(void *userdata, int r)
{
        PredictScore *s = userdata;
        /* done() only runs while the pass lives: it forgets its work when it goes. */
        PredictPass *p = s->owner;

        if (r < 0)
                return pass_finish(p, r, NULL, "%s", error_message(&s->error, r));
        pass_finish(p, 0, s, NULL);
}

static void score_begin(PredictPass *p)
{
        const Predictor *d = &p->pr;
        PredictScore *s;
        size_t n = 0;
        int r;

        if (!d->taste->model)
                return pass_finish(p, -ENOMEDIUM, NULL,
                                   "There is no taste model: run \"fluffctl train\" first.");
        s = calloc(1, sizeof(PredictScore));
        if (!s)
                return pass_finish(p, -ENOMEM, NULL, "Out of memory.");
        s->owner = p;
        s->backbone = d->backbone;
        s->model_path = strdup(d->taste->path);
        s->like_threshold = d->config->like_threshold;
        s->posts = calloc(MAX(p->n_picked, (size_t)1), sizeof(Post *));
        s->paths = calloc(MAX(p->n_picked, (size_t)1), sizeof(char *));
        if (!s->model_path || !s->posts || !s->paths) {
                predict_score_free(s);
                return pass_finish(p, -ENOMEM, NULL, "Out of memory.");
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
                return pass_finish(p, -ENODATA, NULL,
                                   "No image of the posts found for \"%s\" could be fetched (%s).", p->tags,
                                   predict_pass_summary(p, buf, sizeof(buf)));
        }
        (void)job_set_phase(p->job, "scoring", "Scoring the posts");
        s->images_usec = now_usec(CLOCK_MONOTONIC) - p->images_usec;
        r = work_pool_submit(d->work, p, predict_score_run, on_scored, predict_score_free, s);
        if (r < 0) {
                predict_score_free(s);
                return pass_finish(p, r, NULL, "Failed to hand the scoring to a worker thread: %s",
                                   strerror(-r));
        }
}

Predictor predictor_make(Context *ctx, BackboneService *backbone, TasteService *taste)
{
        return (Predictor){.store = ctx->store,
                           .work = ctx->work,
                           .e621 = ctx->e621,
                           .config = ctx->config,
                           .counts = &ctx->counts,
                           .events = ctx->events,
                           .backbone = backbone,
                           .taste = taste};
}

int predict_pass_start(const Predictor *pr, Job *job, const PredictPassOptions *o, PredictPassDone done,
                       void *userdata, PredictPass **ret)
{
        PredictPass *p;
        int r;

        assert(o->blacklist && o->dir && o->tags && done);
        if (o->count < PREDICT_COUNT_MIN || o->count > PREDICT_COUNT_MAX)
                return -EINVAL;
        p = calloc(1, sizeof(PredictPass));
        if (!p)
                return -ENOMEM;
        *p = (PredictPass){
                .pr = *pr,
                .job = job,
                .done = done,
                .userdata = userdata,
                .count = o->count,
                .max_pages = MAX(o->max_pages, 1u),
                .after_id = o->after_id,
                .include_animated = o->include_animated,
                .skip_announced = o->skip_announced,
                .blacklist = o->blacklist,
                .before_images = o->before_images,
        };
        p->tags = strdup(o->tags);
        p->dir = strdup(o->dir);
        p->picked = calloc(o->count, sizeof(Post *));
        if (!p->tags || !p->dir || !p->picked) {
                predict_pass_free(p);
                return -ENOMEM;
        }
        (void)job_set_phase(job, "searching", "Searching the site");
        r = search_next(p, 0);
        if (r < 0) {
                predict_pass_free(p);
                return r;
        }
        *ret = p;
        return 0;
}
