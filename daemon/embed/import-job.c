/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <stdatomic.h>
#include <sys/stat.h>

#include "core/context.h"
#include "embed/embed.h"
#include "jobs/runner.h"
#include "services/backbone.h"
#include "store.h"
#include "work/work.h"

typedef struct ImportWork ImportWork;

typedef struct ImportJob {
        Embed *embed;     /* borrowed */
        Job *job;         /* borrowed: the job owns us */
        char *src;        /* owned: the caller's path, or NULL for a caller's file */
        int fd;           /* owned until start, or -EBADF: the package a caller opened (ImportBackboneFd) */
        ImportWork *work; /* borrowed: the worker's, from start until on_imported() */
} ImportJob;

/* What the worker reads and writes: its own, so a job freed while the import
 * runs (daemon stopping) leaves the worker nothing dangling. */
typedef struct ImportWork {
        ImportJob *import;  /* borrowed; only read on the loop */
        char *src, *dest;   /* owned; src NULL: read fd */
        int fd;             /* owned, or -EBADF */
        atomic_bool cancel; /* set on the loop by Cancel, read by the package reader */
        char *id;           /* owned; written by the worker */
        Error error;        /* written by the worker */
} ImportWork;

/* How messages name a caller's file: fluffd never learns its path. */
#define IMPORT_FD_NAME "the package given"

static void import_free(void *userdata)
{
        ImportJob *i = userdata;
        if (!i)
                return;
        /* fluffd stops: the worker need not read the rest of the package */
        if (i->work)
                atomic_store(&i->work->cancel, true);
        work_pool_forget(i->embed->work, i);
        free(i->src);
        if (i->fd >= 0)
                (void)close(i->fd);
        free(i);
}

static void import_work_free(void *userdata)
{
        ImportWork *w = userdata;
        free(w->src);
        free(w->dest);
        if (w->fd >= 0)
                (void)close(w->fd);
        free(w->id);
        free(w);
}

static int import_run(void *userdata)
{
        ImportWork *w = userdata;

        if (w->src) {
                /* A package file is read through its descriptor, so Cancel
                 * reaches the decompression; a folder (or what is refused with
                 * its own sentence: a FIFO, a missing file) by its path. The
                 * open does not block, and a folder's files are bounded. */
                _cleanup_close_ int fd = open(w->src, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
                struct stat st;
                if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                        return backbone_import(w->src, w->dest, &w->id, &w->error);
                return backbone_import_fd(fd, w->src, w->dest, &w->cancel, &w->id, &w->error);
        }
        return backbone_import_fd(w->fd, IMPORT_FD_NAME, w->dest, &w->cancel, &w->id, &w->error);
}

static void on_imported(void *userdata, int r)
{
        ImportWork *w = userdata;
        ImportJob *i = w->import;
        Embed *embed = i->embed;
        BackboneService *bb = embed->backbone;
        Error error = {};
        char old_id[65];

        i->work = NULL;
        if (r == -ECANCELED) {
                job_finish(i->job, r, "Cancelled.");
                return;
        }
        if (r < 0) {
                if (i->src)
                        job_finish(i->job, r == -ENOMEM ? r : -EINVAL, "Failed to import \"%s\": %s", i->src,
                                   error_message(&w->error, r));
                else
                        job_finish(i->job, r == -ENOMEM ? r : -EINVAL, "Failed to import %s: %s",
                                   IMPORT_FD_NAME, error_message(&w->error, r));
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
        Error db = {};
        r = store_embedding_prune(embed->store, backbone_service_id(bb), &db);
        if (r > 0)
                log_info("Dropped %d embeddings of an earlier backbone.", r);
        else if (r < 0)
                log_warning_errno(r, "Failed to drop embeddings of an earlier backbone, ignoring: %s",
                                  error_message(&db, r));
        bb->embedded = UINT64_MAX; /* force the announcement */
        embed_refresh_embedded(embed);
        events_emit(embed->events, EVENT_BACKBONE_CHANGED, NULL);
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
        /* the worker's own: a job freed while it runs closes nothing it reads */
        w->fd = TAKE_FD(i->fd);
        w->src = i->src ? strdup(i->src) : NULL;
        w->dest = strdup(i->embed->backbone->path);
        if (!w->dest || (i->src && !w->src)) {
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
        r = work_pool_submit(i->embed->work, i, import_run, on_imported, import_work_free, w);
        if (r < 0) {
                import_work_free(w);
                return r;
        }
        i->work = w;
        return 0;
}

/* The package reader sees the flag between blocks and stops; the job ends
 * when the worker returns (on_imported), not before, so a cancelled import
 * never installs weights after it was reported cancelled. */
static void import_cancel(Job *j)
{
        ImportJob *i = j->data;
        if (i->work)
                atomic_store(&i->work->cancel, true);
}

static const JobOps import_ops = {
        .kind = "import",
        .start = import_start,
        .cancel = import_cancel,
        .free_data = import_free,
};

/* Takes fd (-EBADF for none; closed on failure too). */
static int import_create(Embed *embed, const char *src_path, int fd, Job **ret, Error *error)
{
        ImportJob *i;
        int r;

        i = calloc(1, sizeof(ImportJob));
        if (!i) {
                if (fd >= 0)
                        (void)close(fd);
                return error_set_errno(error, -ENOMEM);
        }
        i->embed = embed;
        i->fd = fd;
        if (src_path) {
                i->src = strdup(src_path);
                if (!i->src) {
                        import_free(i);
                        return error_set_errno(error, -ENOMEM);
                }
        }
        r = job_runner_add(embed->runner, &import_ops, i, &i->job, error);
        if (r < 0) {
                import_free(i);
                return r;
        }
        *ret = i->job;
        return 0;
}

int import_job_create(Embed *embed, const char *src_path, Job **ret, Error *error)
{
        return import_create(embed, src_path, -EBADF, ret, error);
}

int import_job_create_fd(Embed *embed, int fd, Job **ret, Error *error)
{
        struct stat st;

        /* our own copy: the bus message's descriptor goes with the message */
        int copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (copy < 0)
                return error_set_errno(error, -errno);
        /* checked now, so a FIFO or a device never reaches a worker */
        if (fstat(copy, &st) < 0 || !S_ISREG(st.st_mode)) {
                (void)close(copy);
                return error_setf(error, -EINVAL,
                                  "The file given is not a regular file (an npm package tarball).");
        }
        return import_create(embed, NULL, copy, ret, error);
}
