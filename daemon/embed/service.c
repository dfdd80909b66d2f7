/* SPDX-License-Identifier: MIT */
#include <sys/stat.h>

#include "embed/service.h"

/* Large enough to keep the device busy, small enough that a kill loses
 * little and cancelling answers within a few seconds on lavapipe. */
#define VK_MAX_BATCH 16

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

static int load(const char *path, BbHandle **ret, char **ret_error)
{
        _cleanup_(backbone_freep) Backbone *bb = NULL;
        int r;

        r = backbone_load(path, &bb, ret_error);
        if (r < 0)
                return r;
        BbHandle *h = calloc(1, sizeof(BbHandle));
        if (!h)
                return -ENOMEM;
        atomic_init(&h->n_ref, 1);
        h->bb = TAKE_PTR(bb);
        *ret = h;
        return 0;
}

int backbone_service_new(const char *data_dir, BackboneService **ret)
{
        _cleanup_(backbone_service_freep) BackboneService *s = NULL;
        _cleanup_free_ char *error = NULL;
        int r;

        s = calloc(1, sizeof(BackboneService));
        if (!s)
                return -ENOMEM;
        pthread_mutex_init(&s->lock, NULL);
        if (asprintf(&s->path, "%s/models/backbone.safetensors", data_dir) < 0) {
                s->path = NULL;
                return -ENOMEM;
        }
        r = load(s->path, &s->current, &error);
        if (r == -ENOENT)
                log_info("No image backbone imported yet; run \"fluffctl backbone import PATH\" to add one.");
        else if (r < 0)
                log_warning_errno(r, "Ignoring the backbone \"%s\": %s Import it again with \"fluffctl backbone "
                                  "import PATH\".",
                                  s->path, error ?: "it could not be loaded.");
        else
                log_info("Loaded backbone %.12s (%s).", backbone_id(s->current->bb),
                         backbone_source_version(s->current->bb));
        *ret = TAKE_PTR(s);
        return 0;
}

BackboneService *backbone_service_free(BackboneService *s)
{
        if (!s)
                return NULL;
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

int backbone_service_reload(BackboneService *s, char **ret_error)
{
        BbHandle *h = NULL;
        int r;

        r = load(s->path, &h, ret_error);
        if (r < 0)
                return r;
        bb_handle_unref(s->current);
        s->current = h;
        log_info("Loaded backbone %.12s (%s).", backbone_id(h->bb), backbone_source_version(h->bb));
        return 0;
}

const char *backbone_service_id(const BackboneService *s)
{
        return s->current ? backbone_id(s->current->bb) : "";
}

const char *backbone_service_info(const BackboneService *s)
{
        return s->current ? backbone_source_version(s->current->bb) : "";
}

void backbone_service_device(BackboneService *s, const char **ret_name, const char **ret_type)
{
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

/* Under s->lock. NULL when the C reference has to run. */
static BackboneVk *engine_for(BackboneService *s, BbHandle *h)
{
        int r;

        if (s->vk_unavailable)
                return NULL;
        if (!s->engine) {
                r = vk_engine_new(&s->engine);
                if (r < 0) {
                        log_warning_errno(r, "No Vulkan device (%m); the backbone runs on the slow C reference pass. %s.",
                                          VK_NO_DEVICE_HINT);
                        s->vk_unavailable = true;
                        return NULL;
                }
                log_info("Backbone runs on %s (%s).", vk_engine_device_name(s->engine),
                         vk_device_kind_to_string(vk_engine_device_kind(s->engine)));
        }
        if (s->vk_for != h) {
                s->vk = backbone_vk_free(s->vk);
                s->vk_for = bb_handle_unref(s->vk_for);
                r = backbone_vk_new(s->engine, h->bb, VK_MAX_BATCH, BACKBONE_VK_KEEP_NONE, &s->vk);
                if (r < 0) {
                        log_warning_errno(r, "Failed to set the backbone up on %s, using the C reference pass: %m",
                                          vk_engine_device_name(s->engine));
                        return NULL;
                }
                s->vk_for = bb_handle_ref(h);
        }
        return s->vk;
}

int backbone_service_run(BackboneService *s, BbHandle *h, const char *const *paths, size_t n, float *ret_embed,
                         float *ret_probs, int *ret_status)
{
        int r;

        pthread_mutex_lock(&s->lock);
        r = backbone_embed_files(h->bb, engine_for(s, h), paths, n, ret_embed, ret_probs, ret_status, NULL, NULL);
        pthread_mutex_unlock(&s->lock);
        return r;
}
