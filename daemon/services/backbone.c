/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <malloc.h>
#include <sys/stat.h>

#include "services/backbone.h"
#include "graph.h"

/* Large enough to keep the device busy, small enough that a kill loses
 * little and cancelling answers within a few seconds on lavapipe. */
#define VK_MAX_BATCH 16
/* Starting the engine again costs a second or two; holding it costs memory. */
#define IDLE_RELEASE_USEC (60 * USEC_PER_SEC)

BbHandle *bb_handle_ref(BbHandle *h)
{
        if (h)
                atomic_fetch_add(&h->n_ref, 1);
        return h;
}

BbHandle *bb_handle_unref(BbHandle *h)
{
        if (!h || atomic_fetch_sub(&h->n_ref, 1) > 1)
                return NULL;
        backbone_free(h->bb);
        free(h);
        return NULL;
}

static int load(const char *path, BbHandle **ret, Error *error)
{
        _cleanup_(backbone_freep) Backbone *bb = NULL;
        int r;

        r = backbone_load(path, &bb, error);
        if (r < 0)
                return r;
        BbHandle *h = calloc(1, sizeof(BbHandle));
        if (!h)
                return -ENOMEM;
        atomic_init(&h->n_ref, 1);
        h->bb = TAKE_PTR(bb);
        /* The importer reads only nsfwjs packages; the weight file keeps its version. */
        snprintf(h->info, sizeof(h->info), "nsfwjs %s, MobileNetV2", backbone_source_version(h->bb));
        *ret = h;
        return 0;
}

int backbone_service_new(sd_event *event, const char *data_dir, BackboneService **ret)
{
        _cleanup_(backbone_service_freep) BackboneService *s = NULL;
        Error error = {};
        int r;

        s = calloc(1, sizeof(BackboneService));
        if (!s)
                return -ENOMEM;
        pthread_mutex_init(&s->lock, NULL);
        s->event = event;
        if (asprintf(&s->path, "%s/models/backbone.safetensors", data_dir) < 0) {
                s->path = NULL;
                return -ENOMEM;
        }
        r = load(s->path, &s->current, &error);
        if (r == -ENOENT)
                log_info(
                        "No image backbone imported yet; run \"fluffctl backbone import PATH\" to add one.");
        else if (r < 0)
                log_warning_errno(
                        r,
                        "Ignoring the backbone \"%s\": %s Import it again with \"fluffctl backbone "
                        "import PATH\".",
                        s->path, error_message(&error, r));
        else
                log_info("Loaded backbone %.12s (%s).", backbone_id(s->current->bb), s->current->info);
        *ret = TAKE_PTR(s);
        return 0;
}

BackboneService *backbone_service_free(BackboneService *s)
{
        if (!s)
                return NULL;
        sd_event_source_disable_unref(s->idle_timer);
        backbone_vk_free(s->vk);
        bb_handle_unref(s->vk_for);
        vk_engine_free(s->engine);
        bb_handle_unref(s->current);
        pthread_mutex_destroy(&s->lock);
        free(s->device_name);
        free(s->device_type);
        free(s->path);
        free(s);
        return NULL;
}

int backbone_service_reload(BackboneService *s, Error *error)
{
        BbHandle *h = NULL;
        int r;

        r = load(s->path, &h, error);
        if (r < 0)
                return r;
        bb_handle_unref(s->current);
        s->current = h;
        log_info("Loaded backbone %.12s (%s).", backbone_id(h->bb), h->info);
        return 0;
}

const char *backbone_service_id(const BackboneService *s)
{
        return s->current ? backbone_id(s->current->bb) : "";
}

const char *backbone_service_info(const BackboneService *s)
{
        return s->current ? s->current->info : "";
}

void backbone_service_device(BackboneService *s, const char **ret_name, const char **ret_type)
{
        /* Once, on the first question, never at start-up: creating a Vulkan
         * instance is not free, and an idle daemon should not pay for it. */
        if (!s->probed) {
                VkDeviceKind kind;
                int r = vk_probe_device(&s->device_name, &kind);
                if (r < 0)
                        log_debug_errno(r, "No Vulkan device found: %m");
                else
                        s->device_type = strdup(vk_device_kind_to_string(kind));
                s->probed = true;
        }
        *ret_name = strempty(s->device_name);
        *ret_type = strempty(s->device_type);
}

VkEngine *backbone_service_engine_locked(BackboneService *s)
{
        int r;

        if (s->vk_unavailable)
                return NULL;
        if (!s->engine) {
                r = vk_engine_new(&s->engine);
                if (r < 0) {
                        log_warning_errno(
                                r,
                                "No Vulkan device (%m); the backbone runs on the slow C reference pass. %s.",
                                VK_NO_DEVICE_HINT);
                        s->vk_unavailable = true;
                        return NULL;
                }
                log_info("Backbone runs on %s (%s).", vk_engine_device_name(s->engine),
                         vk_device_kind_to_string(vk_engine_device_kind(s->engine)));
        }
        return s->engine;
}

/* Under s->lock. NULL when the C reference has to run. */
static BackboneVk *engine_for(BackboneService *s, BbHandle *h)
{
        int r;

        if (!backbone_service_engine_locked(s))
                return NULL;
        if (s->vk_for != h) {
                uint64_t before, after;
                s->vk = backbone_vk_free(s->vk);
                s->vk_for = bb_handle_unref(s->vk_for);
                vk_engine_memory(s->engine, &before, NULL);
                r = backbone_vk_new(s->engine, h->bb, VK_MAX_BATCH, BACKBONE_VK_KEEP_NONE, &s->vk);
                if (r < 0) {
                        log_warning_errno(
                                r, "Failed to set the backbone up on %s, using the C reference pass: %m",
                                vk_engine_device_name(s->engine));
                        return NULL;
                }
                vk_engine_memory(s->engine, &after, NULL);
                log_debug("The backbone's forward pass holds %" PRIu64
                          " MB of device memory (batches of %u).",
                          (after - before) >> 20, backbone_vk_max_batch(s->vk));
                s->vk_for = bb_handle_ref(h);
        }
        return s->vk;
}

void backbone_service_drop_forward_locked(BackboneService *s)
{
        s->vk = backbone_vk_free(s->vk);
        s->vk_for = bb_handle_unref(s->vk_for);
}

void backbone_service_release_engine_locked(BackboneService *s)
{
        backbone_service_drop_forward_locked(s);
        s->engine = vk_engine_free(s->engine);
        /* the pipelines and device memory went back to the heap: hand the pages back */
        (void)malloc_trim(0);
}

int backbone_service_run(BackboneService *s, BbHandle *h, const char *const *paths, size_t n,
                         float *ret_embed, float *ret_probs, int *ret_status)
{
        int r;

        pthread_mutex_lock(&s->lock);
        r = backbone_embed_files(h->bb, engine_for(s, h), paths, n, ret_embed, ret_probs, ret_status, NULL,
                                 NULL);
        pthread_mutex_unlock(&s->lock);
        return r;
}

int backbone_service_run_tuned(BackboneService *s, BbHandle *h, const char *layer, uint32_t cin,
                               uint32_t cout, const float *weight, const float *bias,
                               const char *const *paths, size_t n, float *ret_embed, int *ret_status)
{
        const BbGraph *g = backbone_graph(h->bb);
        int node = -1, r;

        for (unsigned i = 0; i < g->n_nodes; i++)
                if (streq(g->nodes[i].name, layer ?: ""))
                        node = (int)i;
        if (node < 0 || g->nodes[node].op != BB_OP_CONV || g->nodes[node].k != 1 ||
            g->nodes[node].cin != cin || g->nodes[node].c != cout)
                return -ENOENT;
        pthread_mutex_lock(&s->lock);
        BackboneVk *v = engine_for(s, h);
        if (!v)
                r = -ENODEV; /* the C reference pass runs the backbone's own weights only */
        else if ((r = backbone_vk_set_weights(v, (unsigned)node, weight, bias)) >= 0) {
                r = backbone_embed_files(h->bb, v, paths, n, ret_embed, NULL, ret_status, NULL, NULL);
                /* the shared pass goes back to the backbone's own layer, whatever happened */
                int q = backbone_vk_set_weights(v, (unsigned)node, NULL, NULL);
                if (q < 0) {
                        s->vk = backbone_vk_free(s->vk);
                        s->vk_for = bb_handle_unref(s->vk_for);
                        r = r < 0 ? r : q;
                }
        }
        pthread_mutex_unlock(&s->lock);
        return r;
}

static int on_idle(sd_event_source *source, uint64_t usec, void *userdata)
{
        BackboneService *s = userdata;

        /* A run in progress holds the lock: try again after it. */
        if (pthread_mutex_trylock(&s->lock) != 0) {
                backbone_service_used(s);
                return 0;
        }
        if (s->engine) {
                backbone_service_release_engine_locked(s);
                log_debug("Released the Vulkan engine after %u s idle.",
                          (unsigned)(IDLE_RELEASE_USEC / USEC_PER_SEC));
        }
        pthread_mutex_unlock(&s->lock);
        return 0;
}

void backbone_service_used(BackboneService *s)
{
        int r;

        if (!s->event)
                return;
        if (s->idle_timer) {
                r = sd_event_source_set_time_relative(s->idle_timer, IDLE_RELEASE_USEC);
                if (r >= 0)
                        r = sd_event_source_set_enabled(s->idle_timer, SD_EVENT_ONESHOT);
        } else
                r = sd_event_add_time_relative(s->event, &s->idle_timer, CLOCK_MONOTONIC, IDLE_RELEASE_USEC,
                                               USEC_PER_SEC, on_idle, s);
        if (r < 0)
                log_debug_errno(r, "Failed to arm the engine's idle timer, keeping it: %m");
}
