/* SPDX-License-Identifier: MIT */
#include "core/context.h"
#include "embed/embed.h"
#include "jobs/runner.h"
#include "services/backbone.h"
#include "store.h"
#include "work/work.h"

typedef struct ImportJob {
        Embed *embed; /* borrowed */
        Job *job;     /* borrowed: the job owns us */
        char *src;    /* owned */
} ImportJob;

/* What the worker reads and writes: its own, so a job freed while the import
 * runs (daemon stopping) leaves the worker nothing dangling. */
typedef struct ImportWork {
        ImportJob *import; /* borrowed; only read on the loop */
        char *src, *dest;  /* owned */
        char *id;          /* owned; written by the worker */
        Error error;       /* written by the worker */
} ImportWork;

static void import_free(void *userdata)
{
        ImportJob *i = userdata;
        if (!i)
                return;
        work_pool_forget(i->embed->ctx->work, i);
        free(i->src);
        free(i);
}

static void import_work_free(void *userdata)
{
        ImportWork *w = userdata;
        free(w->src);
        free(w->dest);
        free(w->id);
        free(w);
}

static int import_run(void *userdata)
{
        ImportWork *w = userdata;
        return backbone_import(w->src, w->dest, &w->id, &w->error);
}

static void on_imported(void *userdata, int r)
{
        ImportWork *w = userdata;
        ImportJob *i = w->import;
        Embed *embed = i->embed;
        Context *d = embed->ctx;
        BackboneService *bb = embed->backbone;
        Error error = {};
        char old_id[65];

        if (r < 0) {
                job_finish(i->job, r == -ENOMEM ? r : -EINVAL, "Failed to import \"%s\": %s", i->src,
                           error_message(&w->error, r));
                return;
        }
        snprintf(old_id, sizeof(old_id), "%s", backbone_service_id(bb));
        r = backbone_service_reload(bb, &error);
        if (r < 0) {
                job_finish(i->job, r, "Imported, but the new weight file does not load: %s",
                           error_message(&error, r));
                return;
        }
        /* Its embeddings belong to weights that are gone; the next embed
         * starts over with the new ones. */
        Job *running = job_runner_find_active(embed->runner, "embed");
        if (running && !streq(old_id, backbone_service_id(bb)))
                job_cancel(running);
        /* Embeddings of other weights can never be used again. */
        r = store_embedding_prune(d->store, backbone_service_id(bb));
        if (r > 0)
                log_info("Dropped %d embeddings of an earlier backbone.", r);
        else if (r < 0)
                log_warning_errno(r, "Failed to drop embeddings of an earlier backbone, ignoring: %s",
                                  store_error(d->store));
        bb->embedded = UINT64_MAX; /* force the announcement */
        embed_refresh_embedded(embed);
        events_emit(d->events, EVENT_BACKBONE_CHANGED, NULL);
        job_finish(i->job, 0, "Imported backbone %.12s (%s).", backbone_service_id(bb),
                   backbone_service_info(bb));
}

static int import_start(Job *j)
{
        ImportJob *i = j->data;
        ImportWork *w;
        char *slash;
        int r;

        (void)job_set_phase(j, "importing", "Importing the backbone");
        w = calloc(1, sizeof(ImportWork));
        if (!w)
                return -ENOMEM;
        w->import = i;
        w->src = strdup(i->src);
        w->dest = strdup(i->embed->backbone->path);
        if (!w->src || !w->dest) {
                import_work_free(w);
                return -ENOMEM;
        }
        slash = strrchr(w->dest, '/');
        *slash = 0;
        r = mkdir_parents(w->dest, 0700);
        *slash = '/';
        if (r < 0) {
                import_work_free(w);
                return r;
        }
        r = work_pool_submit(i->embed->ctx->work, i, import_run, on_imported, import_work_free, w);
        if (r < 0)
                import_work_free(w);
        return r;
}

static const JobOps import_ops = {
        .kind = "import",
        .start = import_start,
        .free_data = import_free,
};

int import_job_create(Embed *embed, const char *src_path, Job **ret, Error *error)
{
        ImportJob *i;
        int r;

        i = calloc(1, sizeof(ImportJob));
        if (!i)
                return error_set_errno(error, -ENOMEM);
        i->embed = embed;
        i->src = strdup(src_path);
        if (!i->src) {
                import_free(i);
                return error_set_errno(error, -ENOMEM);
        }
        r = job_runner_add(embed->runner, &import_ops, i, &i->job, error);
        if (r < 0) {
                import_free(i);
                return r;
        }
        *ret = i->job;
        return 0;
}
