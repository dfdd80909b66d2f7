/* SPDX-License-Identifier: MIT */
#pragma once

/* The backbone's jobs.
 *
 * Import: reads an nsfwjs package on a worker, writes the weight file
 * atomically and loads it; the previous file stays on any failure.
 *
 * Embed: every stored image without an embedding for the loaded backbone gets
 * one, in batches on a worker; each batch is committed as it finishes, so a
 * killed daemon loses at most the batch in flight, and an image is never
 * computed twice (one that fails is marked and not tried again). */

#include "fluff/util.h"

typedef struct Daemon Daemon;
typedef struct Job Job;

int import_job_new(Daemon *d, const char *src_path, Job **ret);
int embed_job_new(Daemon *d, Job **ret);

/* Starts an Embed job when a backbone is loaded and none runs (after a sync). */
void embed_after_sync(Daemon *d);

/* Recounts the embedded images and announces a change. */
void backbone_refresh_embedded(Daemon *d);
