/* SPDX-License-Identifier: MIT */
#include <inttypes.h>

#include "bus/manager.h"
#include "bus/options.h"
#include "daemon.h"
#include "embed/bus-backbone.h"
#include "embed/jobs.h"
#include "embed/service.h"
#include "fluff/bus.h"
#include "jobs/job.h"
#include "work/work.h"

#define NO_MODEL_HINT                                                                                       \
        "No image backbone is imported: fetch it with tools/fetch-backbone.sh and run \"fluffctl backbone " \
        "import PATH\"."

static int method_import_backbone(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        Daemon *d = userdata;
        const char *path;
        Job *j;
        int r;

        r = bus_check_caller(m, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(m, "s", &path);
        if (r < 0)
                return r;
        /* The daemon's working directory is not the caller's. */
        if (path[0] != '/')
                return sd_bus_error_setf(error, FLUFF_ERROR_INVALID_ARGUMENT,
                                         "The package path must be absolute, not \"%.256s\".", path);
        j = daemon_find_active_job(d, "import");
        if (j)
                return sd_bus_error_setf(error, FLUFF_ERROR_BUSY,
                                         "An import is already running as job %" PRIu64 ".", j->id);
        r = import_job_new(d, path, &j);
        if (r < 0)
                return fluff_bus_error_set_errnof(error, r, "Failed to create the import job: %s",
                                                  strerror(-r));
        r = sd_bus_reply_method_return(m, "o", j->path);
        if (r < 0)
                return r;
        (void)job_start(j);
        return 1;
}

static int method_embed(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        Daemon *d = userdata;
        Job *j;
        int r;

        r = bus_check_caller(m, error);
        if (r < 0)
                return r;
        r = bus_read_options(m, "embed", bus_no_options, NULL, error);
        if (r < 0)
                return r;

        if (!d->backbone->current)
                return sd_bus_error_set(error, FLUFF_ERROR_NO_MODEL, NO_MODEL_HINT);
        j = daemon_find_active_job(d, "embed");
        if (j)
                return sd_bus_error_setf(error, FLUFF_ERROR_BUSY,
                                         "Images are already being embedded as job %" PRIu64 ".", j->id);
        r = embed_job_new(d, &j);
        if (r < 0)
                return fluff_bus_error_set_errnof(error, r, "Failed to create the embed job: %s",
                                                  strerror(-r));
        r = sd_bus_reply_method_return(m, "o", j->path);
        if (r < 0)
                return r;
        (void)job_start(j);
        return 1;
}

/* ---- ClassifyImage: answered from a worker's result ---- */

typedef struct Classify {
        sd_bus_message *call;     /* owned */
        BackboneService *service; /* borrowed */
        BbHandle *handle;         /* owned reference */
        char *path;               /* owned */
        float probs[BACKBONE_N_CLASSES];
        int status;
} Classify;

static void classify_free(void *userdata)
{
        Classify *c = userdata;
        sd_bus_message_unref(c->call);
        bb_handle_unref(c->handle);
        free(c->path);
        free(c);
}

static int classify_run(void *userdata)
{
        Classify *c = userdata;
        const char *paths[] = {c->path};
        return backbone_service_run(c->service, c->handle, paths, 1, NULL, c->probs, &c->status);
}

static void on_classified(void *userdata, int r)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Classify *c = userdata;

        backbone_service_used(c->service);
        if (r >= 0 && c->status < 0) {
                (void)sd_bus_error_setf(&error, FLUFF_ERROR_INVALID_ARGUMENT,
                                        "Failed to read \"%.256s\" as an image: %s", c->path,
                                        strerror(-c->status));
                goto fail;
        }
        if (r < 0) {
                (void)fluff_bus_error_set_errnof(&error, r, "Failed to run the backbone: %s", strerror(-r));
                goto fail;
        }
        r = sd_bus_message_new_method_return(c->call, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(sd)");
        for (unsigned i = 0; r >= 0 && i < BACKBONE_N_CLASSES; i++)
                r = sd_bus_message_append(reply, "(sd)", backbone_class_names[i], (double)c->probs[i]);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        if (r < 0)
                log_debug_errno(r, "Failed to answer ClassifyImage: %m");
        return;
fail:
        r = sd_bus_reply_method_error(c->call, &error);
        if (r < 0)
                log_debug_errno(r, "Failed to answer ClassifyImage: %m");
}

static int method_classify_image(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        Daemon *d = userdata;
        const char *path;
        Classify *c;
        int r;

        r = bus_check_caller(m, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(m, "s", &path);
        if (r < 0)
                return r;
        if (path[0] != '/')
                return sd_bus_error_setf(error, FLUFF_ERROR_INVALID_ARGUMENT,
                                         "The image path must be absolute, not \"%.256s\".", path);
        if (!d->backbone->current)
                return sd_bus_error_set(error, FLUFF_ERROR_NO_MODEL, NO_MODEL_HINT);
        c = calloc(1, sizeof(Classify));
        if (!c)
                return -ENOMEM;
        c->call = sd_bus_message_ref(m);
        c->service = d->backbone;
        c->handle = bb_handle_ref(d->backbone->current);
        c->path = strdup(path);
        if (!c->path) {
                classify_free(c);
                return -ENOMEM;
        }
        /* Owned by the service: a request outlives no daemon, and the pool
         * drops or finishes it before the service goes. */
        r = work_pool_submit(d->work, d->backbone, classify_run, on_classified, classify_free, c);
        if (r < 0) {
                classify_free(c);
                return r;
        }
        return 1;
}

/* ---- properties ---- */

static int property_get_backbone(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        Daemon *d = userdata;
        const char *name, *type;

        if (streq(property, "BackboneId"))
                return sd_bus_message_append(reply, "s", backbone_service_id(d->backbone));
        if (streq(property, "BackboneInfo"))
                return sd_bus_message_append(reply, "s", backbone_service_info(d->backbone));
        if (streq(property, "EmbeddedCount"))
                return sd_bus_message_append(reply, "t", d->backbone->embedded);
        backbone_service_device(d->backbone, &name, &type);
        return sd_bus_message_append(reply, "s", streq(property, "VulkanDevice") ? name : type);
}

static const sd_bus_vtable backbone_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("BackboneId", "s", property_get_backbone, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("BackboneInfo", "s", property_get_backbone, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("EmbeddedCount", "t", property_get_backbone, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("VulkanDevice", "s", property_get_backbone, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("VulkanDeviceType", "s", property_get_backbone, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_METHOD_WITH_ARGS("ImportBackbone", SD_BUS_ARGS("s", path), SD_BUS_RESULT("o", job),
                                method_import_backbone, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ClassifyImage", SD_BUS_ARGS("s", path), SD_BUS_RESULT("a(sd)", classes),
                                method_classify_image, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Embed", SD_BUS_ARGS("a{sv}", options), SD_BUS_RESULT("o", job),
                                method_embed, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

int bus_backbone_register(Daemon *d)
{
        return sd_bus_add_object_vtable(d->bus, &d->backbone_slot, FLUFF_BUS_PATH, FLUFF_BUS_MANAGER_IFACE,
                                        backbone_vtable, d);
}

void bus_backbone_emit_changed(Daemon *d)
{
        if (!d->bus)
                return;
        int r = sd_bus_emit_properties_changed(d->bus, FLUFF_BUS_PATH, FLUFF_BUS_MANAGER_IFACE, "BackboneId",
                                               "BackboneInfo", "EmbeddedCount", NULL);
        if (r < 0)
                log_debug_errno(r, "Failed to announce the backbone's properties, ignoring: %m");
}
