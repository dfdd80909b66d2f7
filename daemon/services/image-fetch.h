/* SPDX-License-Identifier: MIT */
#pragma once

/* Downloads images and crops them on the worker threads, a bounded number at
 * a time: the path the Sync job and the Predict job share. Lives on the loop;
 * done() runs there once per started image (never after stop or free). */

#include <stdbool.h>
#include <stdint.h>

#include "fluff/util.h"

typedef struct Config Config;
typedef struct E621Client E621Client;
typedef struct ImageFetch ImageFetch;
typedef struct WorkPool WorkPool;

/* r: 0 with the crop at path, or < 0 with reason ("download failed: ...",
 * "crop failed: ...") and whether a later try may pass. */
typedef void (*ImageFetchDone)(void *userdata, uint64_t post_id, const char *md5, const char *path, int r,
                               const char *reason, bool transient);

int image_fetch_new(WorkPool *work, E621Client *e621, const Config *config, ImageFetchDone done,
                    void *userdata, ImageFetch **ret);
/* Stops what is in flight (a crop on a worker still completes its file, unannounced). */
void image_fetch_stop(ImageFetch *f);
ImageFetch *image_fetch_free(ImageFetch *f);

/* Whether another image may start now: the client's download slots (twice
 * over, to keep them busy) and the crops waiting for a worker are bounded. */
bool image_fetch_can_start(const ImageFetch *f);
/* Downloads url and crops it to path (as the config says); done() follows
 * later, never from inside this call. < 0: not started (-ENOMEM, or the
 * client refused the URL: "download refused"), and done() will not come. */
int image_fetch_start(ImageFetch *f, uint64_t post_id, const char *md5, const char *url, const char *path);
/* Images started and not yet reported. */
unsigned image_fetch_in_flight(const ImageFetch *f);
