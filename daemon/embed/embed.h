/* SPDX-License-Identifier: MIT */
#pragma once

/* The image backbone's feature: its jobs and the one-image classification.
 *
 * Import: reads an nsfwjs package on a worker, writes the weight file
 * atomically and loads it; the previous file stays on any failure.
 *
 * Embed: every stored image without an embedding for the loaded backbone gets
 * one, in batches on a worker; each batch is committed as it finishes, so a
 * killed daemon loses at most the batch in flight, and an image is never
 * computed twice (one that fails is marked and not tried again). An Embed job
 * starts by itself on EVENT_IMAGES_ADDED (after a sync, or a vote that moved
 * a crop into the dataset) when a backbone is loaded and none runs.
 *
 * Classify: one image through the backbone on a worker (ClassifyImage). */

#include "backbone-embed.h"
#include "fluff/error.h"
#include "fluff/util.h"

typedef struct BackboneService BackboneService;
typedef struct Context Context;
typedef struct Counts Counts;
typedef struct Events Events;
typedef struct Job Job;
typedef struct JobRunner JobRunner;
typedef struct Store Store;
typedef struct WorkPool WorkPool;

/* What embedding, importing and classifying touch, not the whole Context. */
typedef struct Embed {
        Store *store;              /* borrowed */
        WorkPool *work;            /* borrowed; batches, imports and classifications run there */
        Counts *counts;            /* borrowed; refreshed as embeddings land */
        Events *events;            /* borrowed; EVENT_BACKBONE_CHANGED */
        const char *images_dir;    /* borrowed; the dataset's crops */
        BackboneService *backbone; /* borrowed */
        JobRunner *runner;         /* borrowed */
} Embed;

/* Subscribes to EVENT_IMAGES_ADDED. */
int embed_new(Context *ctx, BackboneService *backbone, JobRunner *runner, Embed **ret);
Embed *embed_free(Embed *embed);

/* Imports the package at src_path (absolute; a tarball or its unpacked folder). */
int import_job_create(Embed *embed, const char *src_path, Job **ret, Error *error);
/* The same for a package tarball a caller opened (ImportBackboneFd): fd is
 * borrowed (fluffd keeps its own copy); anything but a regular file is
 * -EINVAL at once. Either import stops soon on Cancel, also while the package
 * is being decompressed. */
int import_job_create_fd(Embed *embed, int fd, Job **ret, Error *error);
int embed_job_create(Embed *embed, Job **ret, Error *error);

/* Recounts the embedded images and announces a change (EVENT_BACKBONE_CHANGED). */
void embed_refresh_embedded(Embed *embed);

/* r < 0: message says why (-EINVAL: not an image); else probs holds the classes. */
typedef void (*EmbedClassifyDone)(void *userdata, int r, const char *message, const float *probs);
/* Classifies the image at path (absolute) on a worker; done() follows on the
 * loop unless fluffd stops first (then destroy() alone runs). -ENOMEDIUM
 * without a backbone. */
/* The same for a file the caller opened (ClassifyImageFd): fd is borrowed
 * (fluffd keeps its own copy); anything but a regular file is -EINVAL at once. */
int embed_classify_fd(Embed *embed, int fd, EmbedClassifyDone done, void (*destroy)(void *userdata),
                      void *userdata, Error *error);
int embed_classify(Embed *embed, const char *path, EmbedClassifyDone done, void (*destroy)(void *userdata),
                   void *userdata, Error *error);
