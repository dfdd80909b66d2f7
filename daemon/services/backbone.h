/* SPDX-License-Identifier: MIT */
#pragma once

/* fluffd's pretrained backbone: the weight file in $XDG_DATA_HOME/fluff/models,
 * loaded on the loop, and run on worker threads. The Vulkan engine is created
 * on first use, in the worker that needs it, and falls back to the C
 * reference pass when there is no device. One run at a time holds the engine:
 * a device queue and its buffers are not shared between threads. */

#include <pthread.h>
#include <stdatomic.h>
#include <systemd/sd-event.h>

#include "backbone-embed.h"
#include "fluff/util.h"

/* A loaded backbone, shared by the loop and the work items that use it, so an
 * import can replace the current one while a batch still runs on the old. */
typedef struct BbHandle {
        atomic_uint n_ref;
        Backbone *bb;
        char info[96]; /* "nsfwjs 4.4.0, MobileNetV2" */
} BbHandle;

BbHandle *bb_handle_ref(BbHandle *h);
BbHandle *bb_handle_unref(BbHandle *h);
DEFINE_TRIVIAL_CLEANUP_FUNC(BbHandle *, bb_handle_unref);

typedef struct BackboneService {
        char *path;        /* owned; the weight file */
        BbHandle *current; /* owned reference; NULL without a backbone */
        uint64_t embedded; /* images with an embedding for current, as last counted */

        pthread_mutex_t lock; /* held by a worker for a whole run */
        VkEngine *engine;     /* under lock; created on first use */
        BackboneVk *vk;       /* under lock; for vk_for */
        BbHandle *vk_for;     /* under lock; owned reference */
        bool vk_unavailable;  /* under lock; no device: the C reference runs */

        sd_event *event;             /* borrowed */
        sd_event_source *idle_timer; /* owned; releases the engine after a quiet while */

        bool probed; /* the device as vk_probe_device() saw it, once */
        char *device_name, *device_type;
} BackboneService;

/* Loads the weight file if present; a broken one is only warned about. */
int backbone_service_new(sd_event *event, const char *data_dir, BackboneService **ret);
BackboneService *backbone_service_free(BackboneService *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(BackboneService *, backbone_service_free);

/* Re-reads the weight file (after an import). On failure the loaded one stays. */
int backbone_service_reload(BackboneService *s, Error *error);
const char *backbone_service_id(const BackboneService *s); /* "" without a backbone */
const char *backbone_service_info(const BackboneService *s);
/* Probes the device once, on the first ask with a backbone loaded; "" when
 * there is none or none was probed yet. */
void backbone_service_device(BackboneService *s, const char **ret_name, const char **ret_type);

/* On a worker: backbone_embed_files() with h, on the engine when there is one. */
int backbone_service_run(BackboneService *s, BbHandle *h, const char *const *paths, size_t n,
                         float *ret_embed, float *ret_probs, int *ret_status);

/* The same with the backbone's 1×1 conv `layer` (cin → cout) replaced by a
 * fine-tuned one for this run only, for a model that was trained with it
 * (ret_embed gets the tuned features; nothing is cached). -ENOENT when h has
 * no such layer, -ENODEV without a Vulkan device. */
int backbone_service_run_tuned(BackboneService *s, BbHandle *h, const char *layer, uint32_t cin,
                               uint32_t cout, const float *weight, const float *bias,
                               const char *const *paths, size_t n, float *ret_embed, int *ret_status);

/* On a worker, with s->lock held for as long as the engine is used: the
 * shared Vulkan engine, created on first use (the taste model trains on it);
 * NULL when there is no device. */
VkEngine *backbone_service_engine_locked(BackboneService *s);

/* With s->lock held: frees the forward pass's buffers (a batch of 16
 * images' activations, ~300 MB on lavapipe, kept for the next batch) but
 * not the engine. A training calls it first: it needs the engine, not the
 * pass, and both at once are more than fluffd's memory goal. The next run
 * builds the pass again. */
void backbone_service_drop_forward_locked(BackboneService *s);

/* With s->lock held: frees the whole engine (the forward pass, every
 * compiled pipeline, the device memory) and trims the heap; the next
 * backbone_service_engine_locked() makes a new one. On lavapipe the
 * pipelines another job compiled are ~150 MB of fluffd's RSS (bench-scale:
 * 474 MB with the engine, 158 MB once it was released): a training starts
 * and ends with this, so it never carries the embedding's pipelines and
 * the next job never carries the training's. Costs a second or two. */
void backbone_service_release_engine_locked(BackboneService *s);

/* On the loop, after each run: the engine and its buffers (a batch's
 * activations are tens of MB) go back once the backbone was idle a while. */
void backbone_service_used(BackboneService *s);

/* What a user without a backbone is told (Embed, ClassifyImage). */
#define BACKBONE_NO_MODEL_HINT                                                                              \
        "No image backbone is imported: fetch it with tools/fetch-backbone.sh and run \"fluffctl backbone " \
        "import PATH\"."

/* The feature set whose presence marks an image as embedded (stored last). */
#define BACKBONE_DONE_SET BACKBONE_FEAT_FINAL
