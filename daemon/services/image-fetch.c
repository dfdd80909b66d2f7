/* SPDX-License-Identifier: MIT */
#include "config.h"
#include "e621.h"
#include "images.h"
#include "services/image-fetch.h"
#include "work/work.h"

/* Crops waiting for or on a worker: bounds the memory held in downloaded files. */
#define CROPS_IN_FLIGHT_MAX 8

typedef struct Download {
        struct Download *next;
        ImageFetch *fetch;    /* borrowed */
        E621Request *request; /* borrowed handle, valid until the callback */
        uint64_t post_id;
        char md5[33];
        char *path; /* owned */
} Download;

typedef struct Crop {
        ImageFetch *fetch; /* borrowed; only read on the loop, in on_cropped */
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

struct ImageFetch {
        WorkPool *work;       /* borrowed */
        E621Client *e621;     /* borrowed */
        const Config *config; /* borrowed */
        ImageFetchDone done;
        void *userdata;
        Download *downloads; /* owned list */
        unsigned n_downloads, n_crops;
};

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

int image_fetch_new(WorkPool *work, E621Client *e621, const Config *config, ImageFetchDone done,
                    void *userdata, ImageFetch **ret)
{
        ImageFetch *f = calloc(1, sizeof(ImageFetch));
        if (!f)
                return -ENOMEM;
        *f = (ImageFetch){.work = work, .e621 = e621, .config = config, .done = done, .userdata = userdata};
        *ret = f;
        return 0;
}

void image_fetch_stop(ImageFetch *f)
{
        if (!f)
                return;
        while (f->downloads) {
                Download *dl = f->downloads;
                f->downloads = dl->next;
                e621_request_cancel(dl->request);
                download_free(dl);
        }
        f->n_downloads = 0;
        /* A crop on a worker still completes its file; the next sync finds it
         * on disk and records it without downloading it again. */
        work_pool_forget(f->work, f);
        f->n_crops = 0;
}

ImageFetch *image_fetch_free(ImageFetch *f)
{
        image_fetch_stop(f);
        free(f);
        return NULL;
}

bool image_fetch_can_start(const ImageFetch *f)
{
        return f->n_downloads < f->config->download_concurrency * 2 && f->n_crops < CROPS_IN_FLIGHT_MAX;
}

unsigned image_fetch_in_flight(const ImageFetch *f)
{
        return f->n_downloads + f->n_crops;
}

static int crop_run(void *userdata)
{
        Crop *c = userdata;
        return image_crop_square(c->data, c->size, c->out_size, c->mode, &c->limits, c->path, &c->reason);
}

static void on_cropped(void *userdata, int r)
{
        Crop *c = userdata;
        ImageFetch *f = c->fetch;

        f->n_crops--;
        /* the bytes are not needed any more: give the memory back now */
        free(c->data);
        c->data = NULL;
        if (r < 0) {
                _cleanup_free_ char *reason = NULL;
                if (asprintf(&reason, "crop failed: %s", c->reason ?: strerror(-r)) < 0)
                        reason = NULL;
                f->done(f->userdata, c->post_id, c->md5, c->path, r, reason ?: "crop failed",
                        image_error_is_transient(r));
        } else
                f->done(f->userdata, c->post_id, c->md5, c->path, 0, NULL, false);
}

static void on_downloaded(int error, const char *message, E621Buffer *buf, void *userdata)
{
        Download *dl = userdata, **p;
        ImageFetch *f = dl->fetch;
        const Config *cfg = f->config;
        int r;

        for (p = &f->downloads; *p; p = &(*p)->next)
                if (*p == dl) {
                        *p = dl->next;
                        break;
                }
        f->n_downloads--;

        if (error < 0) {
                _cleanup_free_ char *reason = NULL;
                if (asprintf(&reason, "download failed: %s", message ?: strerror(-error)) < 0)
                        reason = NULL;
                f->done(f->userdata, dl->post_id, dl->md5, dl->path, error, reason ?: "download failed",
                        e621_error_is_transient(error));
                download_free(dl);
                return;
        }

        Crop *c = calloc(1, sizeof(Crop));
        if (!c) {
                f->done(f->userdata, dl->post_id, dl->md5, dl->path, -ENOMEM, "out of memory", true);
                download_free(dl);
                return;
        }
        *c = (Crop){
                .fetch = f,
                .post_id = dl->post_id,
                .path = TAKE_PTR(dl->path),
                .data = TAKE_PTR(buf->data),
                .size = buf->size,
                .out_size = cfg->image_size,
                .mode = cfg->crop,
                .limits = {cfg->max_image_bytes, cfg->max_image_pixels},
        };
        memcpy(c->md5, dl->md5, sizeof(c->md5));
        download_free(dl);
        r = work_pool_submit(f->work, f, crop_run, on_cropped, crop_destroy, c);
        if (r < 0) {
                f->done(f->userdata, c->post_id, c->md5, c->path, r,
                        "failed to hand the image to the worker threads", true);
                crop_destroy(c);
                return;
        }
        f->n_crops++;
}

int image_fetch_start(ImageFetch *f, uint64_t post_id, const char *md5, const char *url, const char *path)
{
        Download *dl;
        int r;

        dl = calloc(1, sizeof(Download));
        if (!dl)
                return -ENOMEM;
        dl->fetch = f;
        dl->post_id = post_id;
        snprintf(dl->md5, sizeof(dl->md5), "%s", strempty(md5));
        dl->path = strdup(path);
        if (!dl->path) {
                download_free(dl);
                return -ENOMEM;
        }
        r = e621_download(f->e621, url, on_downloaded, dl, &dl->request);
        if (r < 0) {
                download_free(dl);
                return r;
        }
        dl->next = f->downloads;
        f->downloads = dl;
        f->n_downloads++;
        return 0;
}
