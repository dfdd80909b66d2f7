/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <unistd.h>

#include "core/context.h"
#include "embed/embed.h"
#include "images.h"
#include "jobs/runner.h"
#include "services/backbone.h"
#include "store.h"
#include "work/work.h"

#define EMBED_BATCH 16

typedef struct EmbedJob EmbedJob;

typedef struct EmbedBatch {
        EmbedJob *embed;          /* borrowed; read only on the loop */
        BackboneService *service; /* borrowed; outlives the work pool's items */
        BbHandle *handle;         /* owned reference */
        char **md5;               /* owned strv */
        char **paths;             /* owned strv */
        size_t n;
        float *embed_out; /* owned, n × BACKBONE_EMBED_DIM */
        int *status;      /* owned, n */
} EmbedBatch;

struct EmbedJob {
        Embed *embed;     /* borrowed */
        Job *job;         /* borrowed: the job owns us */
        BbHandle *handle; /* owned reference: the backbone this run embeds with */
        char id[65];
        uint64_t done, total, computed, failed, forgotten;
        bool stopped;
        char after[33]; /* the last md5 handed out: the next batch starts after it */
};

static void batch_free(void *userdata)
{
        EmbedBatch *b = userdata;
        bb_handle_unref(b->handle);
        strv_free(b->md5);
        strv_free(b->paths);
        free(b->embed_out);
        free(b->status);
        free(b);
}

static void embed_job_free(void *userdata)
{
        EmbedJob *e = userdata;
        if (!e)
                return;
        work_pool_forget(e->embed->work, e);
        bb_handle_unref(e->handle);
        free(e);
}

/* Counts on a worker, with a connection of its own: at 100,000 posts
 * counting the images still to embed probes the embeddings for each one
 * (0.5 s) and counting the embedded ones joins them all (0.15-0.25 s), time
 * the loop would not answer the bus. */
typedef struct EmbedCount {
        Embed *embed;  /* borrowed; done() only */
        EmbedJob *job; /* borrowed; done() only; NULL: the embedded count alone */
        char *path;    /* owned: the store */
        char id[65];   /* the backbone counted for */
        uint64_t embedded, missing;
        Error error;
} EmbedCount;

static void count_free(void *userdata)
{
        EmbedCount *c = userdata;
        free(c->path);
        free(c);
}

static int count_new(Embed *embed, EmbedJob *job, const char *id, EmbedCount **ret)
{
        EmbedCount *c = calloc(1, sizeof(EmbedCount));
        if (!c || !(c->path = strdup(store_path(embed->store)))) {
                free(c);
                return -ENOMEM;
        }
        c->embed = embed;
        c->job = job;
        snprintf(c->id, sizeof(c->id), "%s", id);
        *ret = c;
        return 0;
}

static int count_run(void *userdata)
{
        EmbedCount *c = userdata;
        const char *done_set = backbone_feature_info(BACKBONE_DONE_SET)->name;
        _cleanup_store_free_ Store *s = NULL;
        int r;

        r = store_open(c->path, &s, &c->error);
        if (r < 0)
                return r;
        /* reads only: the loop's writes never wait for it */
        if (!c->job)
                return store_embedding_counts(s, c->id, done_set, &c->embedded, NULL, &c->error);
        return store_embedding_counts(s, c->id, done_set, NULL, &c->missing, &c->error);
}

static void set_embedded(Embed *embed, uint64_t n)
{
        if (n == embed->backbone->embedded)
                return;
        embed->backbone->embedded = n;
        events_emit(embed->events, EVENT_BACKBONE_CHANGED, NULL);
}

static void on_recounted(void *userdata, int r)
{
        EmbedCount *c = userdata;
        BackboneService *bb = c->embed->backbone;

        /* a backbone imported meanwhile is counted by its import */
        if (r >= 0 && bb->current && streq(c->id, backbone_service_id(bb)))
                set_embedded(c->embed, c->embedded);
}

static void embed_recount_soon(Embed *embed)
{
        BackboneService *bb = embed->backbone;
        EmbedCount *c = NULL;

        if (!bb->current)
                return;
        if (count_new(embed, NULL, backbone_service_id(bb), &c) < 0 ||
            work_pool_submit(embed->work, embed, count_run, on_recounted, count_free, c) < 0) {
                if (c)
                        count_free(c);
                embed_refresh_embedded(embed);
        }
}

static void embed_finish(EmbedJob *e, int r, const char *fmt, ...) _printf_(3, 4);
static void embed_finish(EmbedJob *e, int r, const char *fmt, ...)
{
        _cleanup_free_ char *m = NULL;
        va_list ap;

        if (e->stopped)
                return;
        e->stopped = true;
        work_pool_forget(e->embed->work, e);
        va_start(ap, fmt);
        if (vasprintf(&m, fmt, ap) < 0)
                m = NULL;
        va_end(ap);
        embed_recount_soon(e->embed);
        if (e->forgotten > 0)
                counts_refresh(e->embed->counts);
        job_finish(e->job, r, "%s", m ?: "");
}

static int batch_run(void *userdata)
{
        EmbedBatch *b = userdata;
        return backbone_service_run(b->service, b->handle, (const char *const *)b->paths, b->n, b->embed_out,
                                    NULL, b->status);
}

static void embed_step(EmbedJob *e);

static int batch_store(EmbedJob *e, EmbedBatch *b, Error *error)
{
        Store *st = e->embed->store;
        int r;

        r = store_begin(st, error);
        if (r < 0)
                return r;
        for (size_t i = 0; i < b->n; i++) {
                /* The decoder says only that it could not read the file. */
                if (b->status[i] < 0 && access(b->paths[i], F_OK) < 0 && errno == ENOENT) {
                        /* The crop vanished from disk: the next sync fetches it again. */
                        log_warning("The image %s is gone from disk; the next sync fetches it again.",
                                    b->md5[i]);
                        r = store_image_forget(st, b->md5[i], error);
                        if (r < 0)
                                break;
                        e->forgotten++;
                        continue;
                }
                if (b->status[i] < 0) {
                        log_warning_errno(b->status[i], "Failed to embed image %s, not trying it again: %m",
                                          b->md5[i]);
                        r = store_embedding_failed(st, e->id, b->md5[i], b->status[i], error);
                        if (r < 0)
                                break;
                        e->failed++;
                        continue;
                }
                /* The done marker goes last, though the batch commits as one. */
                for (int f = 0; f < _BACKBONE_FEAT_MAX; f++) {
                        const BackboneFeatureInfo *fi = backbone_feature_info(f);
                        r = store_embedding_put(st, e->id, fi->name, b->md5[i],
                                                b->embed_out + i * BACKBONE_EMBED_DIM + fi->offset, fi->dim,
                                                error);
                        if (r < 0)
                                break;
                }
                if (r < 0)
                        break;
                e->computed++;
        }
        if (r < 0) {
                (void)store_rollback(st, NULL);
                return r;
        }
        return store_commit(st, error);
}

static void on_batch_done(void *userdata, int r)
{
        EmbedBatch *b = userdata;
        EmbedJob *e = b->embed;

        backbone_service_used(b->service);
        if (e->stopped)
                return;
        if (r < 0) {
                embed_finish(e, r, "Failed to run the backbone on a batch of images: %s", strerror(-r));
                return;
        }
        for (size_t i = 0; i < b->n; i++)
                if (b->status[i] == -ENOMEM) {
                        embed_finish(e, -ENOMEM, "Out of memory while embedding images.");
                        return;
                }
        Error db = {};
        uint64_t computed = e->computed;
        r = batch_store(e, b, &db);
        if (r < 0) {
                embed_finish(e, r, "Failed to store embeddings in the database: %s", error_message(&db, r));
                return;
        }
        e->done += b->n;
        job_set_progress(e->job, e->done, MAX(e->done, e->total));
        /* counted, not recounted: a count walks every image (embed_finish recounts) */
        if (e->computed > computed) {
                e->embed->backbone->embedded += e->computed - computed;
                events_emit(e->embed->events, EVENT_BACKBONE_CHANGED, NULL);
        }
        if (e->job->cancel_requested) {
                embed_finish(e, -ECANCELED, "Cancelled after %" PRIu64 " of %" PRIu64 " images.", e->done,
                             e->total);
                return;
        }
        embed_step(e);
}

static int batch_new(EmbedJob *e, char **md5, size_t n, EmbedBatch **ret)
{
        EmbedBatch *b = calloc(1, sizeof(EmbedBatch));
        if (!b) {
                strv_free(md5);
                return -ENOMEM;
        }
        b->embed = e;
        b->service = e->embed->backbone;
        b->handle = bb_handle_ref(e->handle);
        b->md5 = md5;
        b->n = n;
        b->paths = calloc(n + 1, sizeof(char *));
        b->embed_out = calloc(n * BACKBONE_EMBED_DIM, sizeof(float));
        b->status = calloc(n, sizeof(int));
        if (!b->paths || !b->embed_out || !b->status) {
                batch_free(b);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                int r = image_path_for_md5(e->embed->images_dir, md5[i], &b->paths[i]);
                if (r < 0) {
                        batch_free(b);
                        return r;
                }
        }
        *ret = b;
        return 0;
}

static void embed_step(EmbedJob *e)
{
        const char *done_set = backbone_feature_info(BACKBONE_DONE_SET)->name;
        char **md5 = NULL;
        EmbedBatch *b;
        size_t n;
        Error db = {};
        int r;

        r = store_embedding_missing(e->embed->store, e->id, done_set, e->after, EMBED_BATCH, &md5, &n, &db);
        if (r >= 0 && n == 0 && e->after[0]) {
                /* once more from the first: images added behind the cursor meanwhile */
                strv_free(md5);
                e->after[0] = 0;
                r = store_embedding_missing(e->embed->store, e->id, done_set, NULL, EMBED_BATCH, &md5, &n,
                                            &db);
        }
        if (r < 0) {
                embed_finish(e, r, "Failed to list the images to embed: %s", error_message(&db, r));
                return;
        }
        if (n == 0) {
                strv_free(md5);
                log_info("Embedding computed %" PRIu64 " images (%" PRIu64 " failed, %" PRIu64
                         " gone from disk).",
                         e->computed, e->failed, e->forgotten);
                embed_finish(e, 0,
                             "Embedded %" PRIu64 " images (%" PRIu64 " failed, %" PRIu64
                             " gone from disk); %" PRIu64 " images have embeddings for backbone %.12s.",
                             e->computed, e->failed, e->forgotten, e->embed->backbone->embedded, e->id);
                return;
        }
        snprintf(e->after, sizeof(e->after), "%s", md5[n - 1]);
        r = batch_new(e, md5, n, &b);
        if (r >= 0) {
                r = work_pool_submit(e->embed->work, e, batch_run, on_batch_done, batch_free, b);
                if (r < 0)
                        batch_free(b);
        }
        if (r < 0)
                embed_finish(e, r, "Failed to queue a batch of images: %s", strerror(-r));
}

static void on_counted(void *userdata, int r)
{
        EmbedCount *c = userdata;
        EmbedJob *e = c->job;

        if (e->stopped)
                return;
        if (r < 0) {
                embed_finish(e, r, "Failed to count the images to embed: %s", error_message(&c->error, r));
                return;
        }
        if (e->job->cancel_requested) {
                embed_finish(e, -ECANCELED, "Cancelled before the first image.");
                return;
        }
        e->total = c->missing;
        (void)job_set_phase(e->job, "embedding", "Embedding images");
        job_set_progress(e->job, 0, e->total);
        embed_step(e);
}

static int embed_start(Job *j)
{
        EmbedJob *e = j->data;
        EmbedCount *c;
        int r;

        /* Left by a run that was still going when another backbone came in
         * (on the loop: a write, and one search of the key when none are left). */
        r = store_embedding_prune(e->embed->store, e->id, NULL);
        if (r > 0)
                log_info("Dropped %d embeddings of an earlier backbone.", r);
        r = count_new(e->embed, e, e->id, &c);
        if (r < 0)
                return r;
        (void)job_set_phase(j, "embedding", "Counting the images to embed");
        r = work_pool_submit(e->embed->work, e, count_run, on_counted, count_free, c);
        if (r < 0) {
                /* no thread to take it: the loop counts */
                r = count_run(c);
                on_counted(c, r);
                count_free(c);
        }
        return 0;
}

static void embed_cancel(Job *j)
{
        /* The batch on the worker finishes and is kept; on_batch_done stops. */
}

static const JobOps embed_ops = {
        .kind = "embed",
        .start = embed_start,
        .cancel = embed_cancel,
        .free_data = embed_job_free,
};

int embed_job_create(Embed *embed, Job **ret, Error *error)
{
        EmbedJob *e;
        int r;

        /* Checked first as well: the job holds the current backbone. */
        r = job_runner_check(embed->runner, embed_ops.kind, error);
        if (r < 0)
                return r;
        e = calloc(1, sizeof(EmbedJob));
        if (!e)
                return error_set_errno(error, -ENOMEM);
        e->embed = embed;
        e->handle = bb_handle_ref(embed->backbone->current);
        snprintf(e->id, sizeof(e->id), "%s", backbone_id(e->handle->bb));
        r = job_runner_add(embed->runner, &embed_ops, e, &e->job, error);
        if (r < 0) {
                embed_job_free(e);
                return r;
        }
        *ret = e->job;
        return 0;
}

static void on_images_added(EventKind kind, const void *payload, void *userdata)
{
        Embed *embed = userdata;
        Job *j;
        int r;

        if (!embed->backbone->current || job_runner_find_active(embed->runner, "embed"))
                return;
        r = embed_job_create(embed, &j, NULL);
        if (r < 0) {
                log_warning_errno(r, "Failed to start embedding the synced images: %m");
                return;
        }
        (void)job_start(j);
}

void embed_refresh_embedded(Embed *embed)
{
        const char *done_set = backbone_feature_info(BACKBONE_DONE_SET)->name;
        BackboneService *bb = embed->backbone;
        uint64_t n = 0;

        if (bb->current &&
            store_embedding_counts(embed->store, backbone_service_id(bb), done_set, &n, NULL, NULL) < 0)
                return;
        set_embedded(embed, n);
}

int embed_new(Context *ctx, BackboneService *backbone, JobRunner *runner, Embed **ret)
{
        _cleanup_free_ Embed *embed = NULL;
        int r;

        embed = calloc(1, sizeof(Embed));
        if (!embed)
                return -ENOMEM;
        *embed = (Embed){.store = ctx->store,
                         .work = ctx->work,
                         .counts = &ctx->counts,
                         .events = ctx->events,
                         .images_dir = ctx->images_dir,
                         .backbone = backbone,
                         .runner = runner};
        r = events_subscribe(ctx->events, EVENT_IMAGES_ADDED, on_images_added, embed);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(embed);
        return 0;
}

Embed *embed_free(Embed *embed)
{
        free(embed);
        return NULL;
}
