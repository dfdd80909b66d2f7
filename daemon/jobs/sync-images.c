/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <sys/stat.h>
#include <time.h>

#include "jobs/sync-internal.h"
#include "work/work.h"

/* Images still to fetch are read from the store in batches of this size. */
#define IMAGES_BATCH 4096
/* Crops waiting for or on a worker: bounds the memory held in downloaded files. */
#define CROPS_IN_FLIGHT_MAX 8

struct Download {
        struct Download *next;
        SyncJob *sync;        /* borrowed */
        E621Request *request; /* borrowed handle, valid until the callback */
        uint64_t post_id;
        char md5[33];
        char *path; /* owned */
};

typedef struct Crop {
        SyncJob *sync; /* borrowed; only read on the loop, in on_cropped */
        uint64_t post_id;
        char md5[33];
        char *path;    /* owned */
        uint8_t *data; /* owned */
        size_t size;
        unsigned out_size;
        CropMode mode;
        ImageLimits limits;
        char *reason; /* owned; written by the worker */
} Crop;

static void download_free(Download *dl)
{
        if (!dl)
                return;
        free(dl->path);
        free(dl);
}

static void crop_destroy(void *userdata)
{
        Crop *c = userdata;
        free(c->path);
        free(c->data);
        free(c->reason);
        free(c);
}

void sync_images_stop(SyncJob *s)
{
        while (s->downloads) {
                Download *dl = s->downloads;
                s->downloads = dl->next;
                e621_request_cancel(dl->request);
                download_free(dl);
        }
        s->n_downloads = 0;
        /* A crop on a worker still completes its file; the next sync finds it
         * on disk and records it without downloading it again. */
        work_pool_forget(s->daemon->work, s);
        s->n_crops = 0;
}

void sync_images_free(SyncJob *s)
{
        sync_images_stop(s);
        image_needed_array_free(s->needed, s->n_needed);
        s->needed = NULL;
        s->n_needed = s->next_needed = 0;
}

static void images_step(SyncJob *s);

static int record_failure(SyncJob *s, const char *md5, uint64_t post_id, const char *reason, bool transient)
{
        int r;

        log_debug("Image of post %" PRIu64 " failed%s: %s", post_id, transient ? " (will retry)" : "", reason);
        r = store_image_failed(s->daemon->store, md5, post_id, reason, transient, s->generation);
        if (r < 0) {
                sync_finish_store_error(s, r, "record a failed image");
                return r;
        }
        s->images_failed++;
        s->images_done++;
        return 0;
}

static int record_ok(SyncJob *s, const char *md5, uint64_t post_id, const char *path, bool found)
{
        struct stat st;
        int r;

        if (stat(path, &st) < 0)
                return record_failure(s, md5, post_id, "the crop vanished from disk after it was written", true);
        r = store_image_ok(s->daemon->store, md5, post_id, (uint64_t)st.st_size);
        if (r < 0) {
                sync_finish_store_error(s, r, "record an image");
                return r;
        }
        if (found)
                s->images_found++;
        else
                s->images_new++;
        s->images_done++;
        return 0;
}

static int crop_run(void *userdata)
{
        Crop *c = userdata;
        return image_crop_square(c->data, c->size, c->out_size, c->mode, &c->limits, c->path, &c->reason);
}

static void on_cropped(void *userdata, int r)
{
        Crop *c = userdata;
        SyncJob *s = c->sync;

        s->n_crops--;
        /* the bytes are not needed any more: give the memory back now */
        free(c->data);
        c->data = NULL;
        if (r < 0) {
                _cleanup_free_ char *reason = NULL;
                if (asprintf(&reason, "crop failed: %s", c->reason ?: strerror(-r)) < 0)
                        reason = NULL;
                if (record_failure(s, c->md5, c->post_id, reason ?: "crop failed", image_error_is_transient(r)) < 0)
                        return;
        } else if (record_ok(s, c->md5, c->post_id, c->path, false) < 0)
                return;
        job_set_progress(s->job, s->images_done, s->images_total);
        sync_refresh_counts(s, false);
        images_step(s);
}

static void on_downloaded(int error, const char *message, E621Buffer *buf, void *userdata)
{
        Download *dl = userdata, **p;
        SyncJob *s = dl->sync;
        Config *cfg = s->daemon->config;
        int r;

        for (p = &s->downloads; *p; p = &(*p)->next)
                if (*p == dl) {
                        *p = dl->next;
                        break;
                }
        s->n_downloads--;

        if (error < 0) {
                _cleanup_free_ char *reason = NULL;
                if (asprintf(&reason, "download failed: %s", message ?: strerror(-error)) < 0)
                        reason = NULL;
                r = record_failure(s, dl->md5, dl->post_id, reason ?: "download failed",
                                   e621_error_is_transient(error));
                download_free(dl);
                if (r < 0)
                        return;
                job_set_progress(s->job, s->images_done, s->images_total);
                images_step(s);
                return;
        }

        Crop *c = calloc(1, sizeof(Crop));
        if (!c) {
                download_free(dl);
                sync_finish(s, -ENOMEM, "Out of memory.");
                return;
        }
        *c = (Crop){
                .sync = s,
                .post_id = dl->post_id,
                .path = TAKE_PTR(dl->path),
                .data = TAKE_PTR(buf->data),
                .size = buf->size,
                .out_size = cfg->image_size,
                .mode = cfg->crop,
                .limits = { cfg->max_image_bytes, cfg->max_image_pixels },
        };
        memcpy(c->md5, dl->md5, sizeof(c->md5));
        download_free(dl);
        r = work_pool_submit(s->daemon->work, s, crop_run, on_cropped, crop_destroy, c);
        if (r < 0) {
                crop_destroy(c);
                sync_finish(s, r, "Failed to hand an image to the worker threads: %s", strerror(-r));
                return;
        }
        s->n_crops++;
        images_step(s);
}

/* Starts one image: recorded at once when its crop is already on disk. */
static int image_start(SyncJob *s, const ImageNeeded *n)
{
        _cleanup_free_ char *path = NULL;
        Download *dl;
        int r;

        r = image_path_for_md5(s->daemon->images_dir, n->md5, &path);
        if (r < 0)
                return record_failure(s, n->md5, n->post_id, "the site gave an md5 that is not 32 hex digits", false);
        /* A crop written just before a kill (or by an earlier sync) is adopted;
         * one of another size or damaged is replaced. */
        r = image_check_crop(path, s->daemon->config->image_size);
        if (r >= 0)
                return record_ok(s, n->md5, n->post_id, path, true);
        if (r != -ENOENT && unlink(path) < 0 && errno != ENOENT)
                log_warning_errno(errno, "Failed to remove the unusable crop \"%s\", ignoring: %m", path);

        dl = calloc(1, sizeof(Download));
        if (!dl) {
                sync_finish(s, -ENOMEM, "Out of memory.");
                return -ENOMEM;
        }
        dl->sync = s;
        dl->post_id = n->post_id;
        memcpy(dl->md5, n->md5, sizeof(dl->md5));
        dl->path = TAKE_PTR(path);
        r = e621_download(s->daemon->e621, n->url, on_downloaded, dl, &dl->request);
        if (r < 0) {
                _cleanup_free_ char *reason = NULL;
                download_free(dl);
                if (asprintf(&reason, "download refused: %s", strerror(-r)) < 0)
                        reason = NULL;
                return record_failure(s, n->md5, n->post_id, reason ?: "download refused", false);
        }
        dl->next = s->downloads;
        s->downloads = dl;
        s->n_downloads++;
        return 0;
}

static void images_step(SyncJob *s)
{
        /* More downloads queued than the client runs at once keep its slots busy. */
        unsigned window = s->daemon->config->download_concurrency * 2;
        int r;

        for (;;) {
                while (!s->stopped && s->next_needed < s->n_needed && s->n_downloads < window &&
                       s->n_crops < CROPS_IN_FLIGHT_MAX) {
                        r = image_start(s, &s->needed[s->next_needed++]);
                        if (r < 0)
                                return;
                }
                if (s->stopped)
                        return;
                job_set_progress(s->job, s->images_done, s->images_total);
                if (s->next_needed < s->n_needed || s->n_downloads > 0 || s->n_crops > 0)
                        return;

                /* This batch is through: what is still missing? Everything tried
                 * in this generation is left out, so this ends. */
                image_needed_array_free(s->needed, s->n_needed);
                s->needed = NULL;
                s->n_needed = s->next_needed = 0;
                r = store_images_needed(s->daemon->store, s->generation, IMAGES_BATCH, &s->needed, &s->n_needed);
                if (r < 0)
                        return sync_finish_store_error(s, r, "list the missing images");
                if (s->n_needed == 0)
                        return sync_summary(s);
                if (s->images_total < s->images_done + s->n_needed)
                        s->images_total = s->images_done + s->n_needed;
        }
}

void sync_images_begin(SyncJob *s)
{
        (void)job_set_phase(s->job, "images", "Downloading images");
        job_set_progress(s->job, 0, 0);
        images_step(s);
}
