/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <sys/stat.h>
#include <time.h>

#include "services/image-fetch.h"
#include "sync/sync-internal.h"
#include "work/work.h"

/* Images still to fetch are read from the store in batches of this size. */
#define IMAGES_BATCH 4096
void sync_images_stop(SyncJob *s)
{
        /* A crop on a worker still completes its file; the next sync finds it
         * on disk and records it without downloading it again. */
        image_fetch_stop(s->fetch);
}

void sync_images_free(SyncJob *s)
{
        s->fetch = image_fetch_free(s->fetch);
        image_needed_array_free(s->needed, s->n_needed);
        s->needed = NULL;
        s->n_needed = s->next_needed = 0;
}

static void images_step(SyncJob *s);

static int record_failure(SyncJob *s, const char *md5, uint64_t post_id, const char *reason, bool transient)
{
        Error db = {};
        int r;

        log_debug("Image of post %" PRIu64 " failed%s: %s", post_id, transient ? " (will retry)" : "",
                  reason);
        r = store_image_failed(s->store, md5, post_id, reason, transient, s->generation, &db);
        if (r < 0) {
                sync_finish_store_error(s, r, &db, "record a failed image");
                return r;
        }
        s->images_failed++;
        s->images_done++;
        return 0;
}

static int record_ok(SyncJob *s, const char *md5, uint64_t post_id, const char *path, bool found)
{
        struct stat st;
        Error db = {};
        int r;

        if (stat(path, &st) < 0)
                return record_failure(s, md5, post_id, "the crop vanished from disk after it was written",
                                      true);
        r = store_image_ok(s->store, md5, post_id, (uint64_t)st.st_size, &db);
        if (r < 0) {
                sync_finish_store_error(s, r, &db, "record an image");
                return r;
        }
        if (found)
                s->images_found++;
        else
                s->images_new++;
        s->images_done++;
        return 0;
}

/* An image the fetch started is through: recorded, and the next ones start. */
static void on_fetched(void *userdata, uint64_t post_id, const char *md5, const char *path, int r,
                       const char *reason, bool transient)
{
        SyncJob *s = userdata;

        if (r < 0) {
                if (record_failure(s, md5, post_id, reason, transient) < 0)
                        return;
        } else if (record_ok(s, md5, post_id, path, false) < 0)
                return;
        job_set_progress(s->job, s->images_done, s->images_total);
        sync_refresh_counts(s);
        images_step(s);
}

/* Starts one image: recorded at once when its crop is already on disk. */
static int image_start(SyncJob *s, const ImageNeeded *n)
{
        _cleanup_free_ char *path = NULL;
        int r;

        r = image_path_for_md5(s->images_dir, n->md5, &path);
        if (r < 0)
                return record_failure(s, n->md5, n->post_id,
                                      "the site gave an md5 that is not 32 hex digits", false);
        /* A crop written just before a kill (or by an earlier sync) is adopted;
         * one of another size or damaged is replaced. */
        r = image_check_crop(path, s->config->image_size);
        if (r >= 0)
                return record_ok(s, n->md5, n->post_id, path, true);
        if (r != -ENOENT && unlink(path) < 0 && errno != ENOENT)
                log_warning_errno(errno, "Failed to remove the unusable crop \"%s\", ignoring: %m", path);

        r = image_fetch_start(s->fetch, n->post_id, n->md5, n->url, path);
        if (r == -ENOMEM) {
                sync_finish(s, r, "Out of memory.");
                return r;
        }
        if (r < 0) {
                _cleanup_free_ char *reason = NULL;
                if (asprintf(&reason, "download refused: %s", strerror(-r)) < 0)
                        reason = NULL;
                return record_failure(s, n->md5, n->post_id, reason ?: "download refused", false);
        }
        return 0;
}

static void images_step(SyncJob *s)
{
        Error db = {};
        int r;

        for (;;) {
                while (!s->stopped && s->next_needed < s->n_needed && image_fetch_can_start(s->fetch)) {
                        r = image_start(s, &s->needed[s->next_needed++]);
                        if (r < 0)
                                return;
                }
                if (s->stopped)
                        return;
                job_set_progress(s->job, s->images_done, s->images_total);
                if (s->next_needed < s->n_needed || image_fetch_in_flight(s->fetch) > 0)
                        return;

                /* This batch is through: what is still missing? Everything tried
                 * in this generation is left out, so this ends. */
                image_needed_array_free(s->needed, s->n_needed);
                s->needed = NULL;
                s->n_needed = s->next_needed = 0;
                r = store_images_needed(s->store, s->generation, IMAGES_BATCH, &s->needed, &s->n_needed,
                                        &db);
                if (r < 0)
                        return sync_finish_store_error(s, r, &db, "list the missing images");
                if (s->n_needed == 0)
                        return sync_summary(s);
                if (s->images_total < s->images_done + s->n_needed)
                        s->images_total = s->images_done + s->n_needed;
        }
}

void sync_images_begin(SyncJob *s)
{
        if (!s->fetch && image_fetch_new(s->work, s->e621, s->config, on_fetched, s, &s->fetch) < 0)
                return sync_finish(s, -ENOMEM, "Out of memory.");
        (void)job_set_phase(s->job, "images", "Downloading images");
        job_set_progress(s->job, 0, 0);
        images_step(s);
}
