/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <malloc.h>
#include <sys/stat.h>
#include <time.h>

#include "core/context.h"
#include "sync/sync-internal.h"
#include "sync/sync.h"

#define COUNTS_INTERVAL_USEC (1 * USEC_PER_SEC)
#define SYNC_CHUNK 32

static void page_free(SyncJob *s);

static const struct {
        const char *prefix;
        LabelSource source;
        const char *phase, *title;
} lists[] = {
        {"fav:", LABEL_SOURCE_FAVOURITE, "favourites", "Fetching favourites"},
        {"votedup:", LABEL_SOURCE_UPVOTE, "upvotes", "Fetching upvotes"},
        {"voteddown:", LABEL_SOURCE_DOWNVOTE, "downvotes", "Fetching downvotes"},
};

static void sync_free(void *userdata)
{
        SyncJob *s = userdata;

        if (!s)
                return;
        e621_request_cancel(s->request);
        page_free(s);
        sync_images_free(s);
        counts_forget(s->counts, s);
        free(s->page_error);
        free(s->message);
        free(s);
}

void sync_refresh_counts(SyncJob *s)
{
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        if (now < s->last_counts_usec + COUNTS_INTERVAL_USEC)
                return;
        s->last_counts_usec = now;
        counts_refresh_soon(s->counts);
}

/* Stops everything in flight: nothing of this job runs after it. */
static void sync_stop(SyncJob *s)
{
        s->stopped = true;
        page_free(s);
        s->request = e621_request_cancel(s->request);
        sync_images_stop(s);
}

/* The job ends once the counts include all the sync stored: the summary
 * quotes them, and a client reads them as soon as the job ends. */
static void on_counted(void *userdata)
{
        SyncJob *s = userdata;
        const StoreCounts *c = &s->counts->now;

        if (s->summarize) {
                free(s->message);
                if (asprintf(&s->message,
                             "Synced %" PRIu64 " liked and %" PRIu64 " disliked posts (%" PRIu64
                             " in both lists left out, %" PRIu64 " skipped); %" PRIu64
                             " images on disk, %" PRIu64 " new, %" PRIu64 " failed.",
                             c->liked, c->disliked, c->conflicts, c->skipped, c->images_ok, s->images_new,
                             s->images_failed) < 0)
                        s->message = NULL;
        }
        refresh_record_sync(s->store, s->mode, s->automatic, s->result, s->message);
        job_finish(s->job, s->result, "%s", s->message ?: "");
        /* Downloads and crops leave freed memory in the workers' malloc
         * arenas; an idle daemon should give it back. */
        (void)malloc_trim(0);
        if (s->summarize)
                /* New images are worth little to the model until they are
                 * embedded: the embed feature listens for this. */
                events_emit(s->events, EVENT_IMAGES_ADDED, NULL);
}

static void sync_end(SyncJob *s, int r, char *message, bool summarize)
{
        sync_stop(s);
        s->result = r;
        s->message = message;
        s->summarize = summarize;
        if (s->generation_open) {
                /* a stopped incremental walk closes its generation: a full
                 * sync must not count its marks as its own */
                Error db = {};
                int k = s->mode == SYNC_MODE_INCREMENTAL
                                ? store_sync_close(s->store, s->generation, &db)
                                : store_sync_end(s->store, s->generation, false, &db);
                if (k < 0)
                        log_warning_errno(k, "Failed to close the sync generation, ignoring: %s",
                                          error_message(&db, k));
                s->generation_open = false;
        }
        if (counts_refresh_then(s->counts, on_counted, s) == 0)
                on_counted(s);
}

void sync_finish(SyncJob *s, int r, const char *fmt, ...)
{
        char *m;
        va_list ap;

        if (s->stopped)
                return;
        va_start(ap, fmt);
        if (vasprintf(&m, fmt, ap) < 0)
                m = NULL;
        va_end(ap);
        sync_end(s, r, m, false);
}

void sync_finish_store_error(SyncJob *s, int r, const Error *db, const char *what)
{
        sync_finish(s, r, "Failed to %s in the database: %s", what, error_message(db, r));
}

void sync_summary(SyncJob *s)
{
        if (!s->stopped)
                sync_end(s, 0, NULL, true);
}

/* ---- lists ---- */

static void list_begin(SyncJob *s);

static SkipReason post_skip_reason(const Post *p, const Config *cfg)
{
        if (p->deleted)
                return SKIP_DELETED;
        if (!p->file_url && !p->sample_url)
                return SKIP_NO_URL;
        if (post_is_animated(p) && !cfg->include_animated)
                return SKIP_ANIMATED;
        if (!p->md5 || !post_image_url(p))
                return SKIP_UNSUPPORTED;
        if (!p->sample_url && p->file_size > cfg->max_image_bytes)
                return SKIP_TOO_LARGE;
        return SKIP_NONE;
}

/* Stores posts [from, to) of the page taken from the site, in one
 * transaction. */
static int store_chunk(SyncJob *s, size_t from, size_t to, Error *error)
{
        Store *st = s->store;
        LabelSource source = lists[s->list].source;
        int r;

        r = store_begin(st, error);
        if (r < 0)
                return r;
        for (size_t i = from; i < to; i++) {
                const Post *p = s->page[i];
                SkipReason why = post_skip_reason(p, s->config);
                if (s->mode == SYNC_MODE_INCREMENTAL && store_label_known(st, p->id, source))
                        s->list_known = true;
                r = store_post_upsert(st, p, error);
                if (r >= 0)
                        r = store_post_set_skip(st, p->id, why, error);
                if (r >= 0)
                        r = store_label_seen(st, p->id, source, s->generation, error);
                if (r < 0) {
                        (void)store_rollback(st, NULL);
                        return r;
                }
                if (why != SKIP_NONE)
                        s->skipped++;
        }
        return store_commit(st, error);
}

static void page_free(SyncJob *s)
{
        s->page_source = sd_event_source_disable_unref(s->page_source);
        for (size_t i = 0; i < s->n_page; i++)
                post_free(s->page[i]);
        free(s->page);
        s->page = NULL;
        s->n_page = s->page_next = 0;
}

/* A page is stored SYNC_CHUNK posts a loop iteration, between which the
 * loop answers the bus: a 320-post page in one go held fluffctl status up
 * for 40 ms and more at 100,000 posts. */
static int on_page_chunk(sd_event_source *source, void *userdata)
{
        SyncJob *s = userdata;
        size_t to = MIN(s->n_page, s->page_next + SYNC_CHUNK);
        Error db = {};
        int r;

        r = store_chunk(s, s->page_next, to, &db);
        if (r < 0) {
                free(s->page_error);
                if (asprintf(&s->page_error, "Failed to store a page of %s in the database: %s",
                             lists[s->list].phase, error_message(&db, r)) < 0)
                        s->page_error = NULL;
                page_free(s);
                e621_walk_resume(s->request, r);
                return 0;
        }
        s->list_posts += to - s->page_next;
        s->posts += to - s->page_next;
        s->page_next = to;
        job_set_progress(s->job, s->list_posts, 0);
        if (to < s->n_page)
                return 0;
        page_free(s);
        if (s->list_known)
                /* everything below is known already (or waits for the next full sync) */
                r = E621_WALK_STOP;
        else
                sync_refresh_counts(s);
        e621_walk_resume(s->request, r);
        return 0;
}

static int on_page(E621PostList *page, void *userdata)
{
        SyncJob *s = userdata;
        int r;

        if (page->n_invalid > 0)
                log_warning("The site sent %zu malformed posts in the %s list, ignoring them.",
                            page->n_invalid, lists[s->list].phase);
        s->page = calloc(MAX(page->n_posts, (size_t)1), sizeof(Post *));
        if (!s->page)
                return -ENOMEM;
        for (size_t i = 0; i < page->n_posts; i++)
                if (page->posts[i])
                        s->page[s->n_page++] = TAKE_PTR(page->posts[i]);
        /* idle priority: anything else waiting on the loop goes first */
        r = sd_event_add_defer(s->event, &s->page_source, on_page_chunk, s);
        if (r >= 0)
                r = sd_event_source_set_priority(s->page_source, SD_EVENT_PRIORITY_IDLE);
        if (r >= 0)
                r = sd_event_source_set_enabled(s->page_source, SD_EVENT_ON);
        if (r < 0) {
                page_free(s);
                return r;
        }
        return E621_WALK_PAUSE;
}

static void on_list_done(int error, const char *message, void *userdata)
{
        SyncJob *s = userdata;
        Error db = {};
        int r;

        s->request = NULL;
        if (error < 0) {
                if (s->page_error)
                        return sync_finish(s, error, "%s", s->page_error);
                return sync_finish(s, error, "Fetching the %s of \"%s\" failed: %s", lists[s->list].phase,
                                   s->session->username, message ?: strerror(-error));
        }

        if (s->mode == SYNC_MODE_INCREMENTAL) {
                /* Not the whole list: nothing may be dropped. */
                if (++s->list < ELEMENTSOF(lists))
                        return list_begin(s);
                s->lists_complete = true;
                r = store_sync_close(s->store, s->generation, &db);
                if (r < 0)
                        return sync_finish_store_error(s, r, &db, "close the sync");
                s->generation_open = false;
                counts_refresh_soon(s->counts); /* the lists are in: worth showing now */
                return sync_images_begin(s);
        }

        /* The whole list was walked: what is not in it any more lost its label. */
        r = store_labels_drop_unseen(s->store, lists[s->list].source, s->generation, &db);
        if (r < 0)
                return sync_finish_store_error(s, r, &db, "drop labels removed on the site");
        if (r > 0)
                log_info("%d %s removed on the site since the last sync.", r, lists[s->list].phase);
        s->dropped += (uint64_t)r;

        if (++s->list < ELEMENTSOF(lists))
                return list_begin(s);

        s->lists_complete = true;
        r = store_sync_end(s->store, s->generation, true, &db);
        if (r < 0)
                return sync_finish_store_error(s, r, &db, "close the sync");
        s->generation_open = false;
        counts_refresh_soon(s->counts); /* the lists are in: worth showing now */
        sync_images_begin(s);
}

static void list_begin(SyncJob *s)
{
        _cleanup_free_ char *query = NULL;
        int r;

        s->list_posts = 0;
        s->list_known = false;
        (void)job_set_phase(s->job, lists[s->list].phase, lists[s->list].title);
        job_set_progress(s->job, 0, 0);
        /* status:any, or the site leaves deleted posts out and their labels
         * would look removed; they are kept and counted as skipped. */
        if (asprintf(&query, "%s%s status:any", lists[s->list].prefix, s->session->username) < 0)
                return sync_finish(s, -ENOMEM, "Out of memory.");
        r = e621_walk_posts(s->e621, query, s->config->sync_page_size, on_page, on_list_done, s,
                            &s->request);
        if (r < 0)
                return sync_finish(s, r, "Failed to start fetching the %s: %s", lists[s->list].phase,
                                   strerror(-r));
}

/* ---- blacklist ---- */

static int blacklist_store(SyncJob *s, const char *text, Error *error)
{
        _cleanup_strv_free_ char **rules = NULL;
        _cleanup_free_ char *copy = NULL;
        char *save = NULL;
        int r;

        if (text) {
                copy = strdup(text);
                if (!copy)
                        return -ENOMEM;
                for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                        while (*line == ' ' || *line == '\t' || *line == '\r')
                                line++;
                        size_t n = strlen(line);
                        while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t' || line[n - 1] == '\r'))
                                line[--n] = 0;
                        if (n == 0)
                                continue;
                        char *rule = strdup(line);
                        if (!rule)
                                return -ENOMEM;
                        r = strv_push(&rules, rule);
                        if (r < 0)
                                return r;
                }
        }
        return store_blacklist_set(s->store, rules, error);
}

static void on_user(int error, const char *message, const E621User *user, void *userdata)
{
        SyncJob *s = userdata;
        Error db = {};
        int r;

        s->request = NULL;
        if (error == -EKEYREJECTED)
                return sync_finish(
                        s, error,
                        "The site rejected the login of \"%s\"; the API key may have been revoked. "
                        "Log in again with \"fluffctl login %s\".",
                        s->session->username, s->session->username);
        if (error < 0)
                return sync_finish(s, error, "Fetching the account of \"%s\" failed: %s",
                                   s->session->username, message ?: strerror(-error));
        if (!user->blacklisted_tags)
                log_notice("The site did not send the blacklist of \"%s\"; keeping the stored one.",
                           s->session->username);
        else {
                r = blacklist_store(s, user->blacklisted_tags, &db);
                if (r < 0)
                        return sync_finish_store_error(s, r, &db, "store the blacklist");
        }
        list_begin(s);
}

/* ---- job ---- */

static int sync_start(Job *j)
{
        SyncJob *s = j->data;
        Error db = {};
        int r;

        r = store_sync_begin(s->store, &s->generation, &db);
        if (r < 0) {
                sync_finish_store_error(s, r, &db, "start the sync");
                return 0;
        }
        s->generation_open = true;
        /* Crops deleted by hand are fetched again; partial files go. */
        r = images_remove_temporaries(s->images_dir);
        if (r > 0)
                log_info("Removed %d partial crops of an interrupted sync.", r);
        r = store_images_verify(s->store, s->images_dir, &db);
        if (r < 0) {
                sync_finish_store_error(s, r, &db, "check the crops on disk");
                return 0;
        }
        if (r > 0)
                log_info("%d crops are missing from \"%s\" and will be fetched again.", r, s->images_dir);
        s->mode = refresh_sync_mode(s->store, s->config, s->mode);
        log_info("%s sync of \"%s\" started (generation %" PRIu64 ").",
                 s->mode == SYNC_MODE_INCREMENTAL ? "Incremental" : "Full", s->session->username,
                 s->generation);
        (void)job_set_phase(j, "account", "Fetching the account and blacklist");
        r = e621_get_user(s->e621, s->session->username, on_user, s, &s->request);
        if (r < 0)
                sync_finish(s, r, "Failed to ask the site for the account: %s", strerror(-r));
        return 0;
}

static void sync_cancel(Job *j)
{
        sync_finish(j->data, -ECANCELED, "Cancelled.");
}

static const JobOps sync_ops = {
        .kind = "sync",
        .start = sync_start,
        .cancel = sync_cancel,
        .free_data = sync_free,
};

int sync_job_create(Context *ctx, JobRunner *runner, const SyncJobOptions *o, Job **ret, Error *e)
{
        SyncJob *s;
        int r;

        if (o->mode < 0 || o->mode >= _SYNC_MODE_MAX)
                return error_setf(e, -EINVAL, "Unknown sync mode %d.", o->mode);
        s = calloc(1, sizeof(SyncJob));
        if (!s)
                return error_set_errno(e, -ENOMEM);
        *s = (SyncJob){
                .event = ctx->event,
                .store = ctx->store,
                .e621 = ctx->e621,
                .config = ctx->config,
                .session = &ctx->session,
                .counts = &ctx->counts,
                .events = ctx->events,
                .work = ctx->work,
                .images_dir = ctx->images_dir,
        };
        s->mode = o->mode;
        s->automatic = o->automatic;
        r = job_runner_add(runner, &sync_ops, s, &s->job, e);
        if (r < 0) {
                free(s);
                return r;
        }
        *ret = s->job;
        return 0;
}
