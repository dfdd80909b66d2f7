/* SPDX-License-Identifier: MIT */
/* Manager.ImportBackbone(Fd), ClassifyImage(Fd), Embed and the Backbone*, Vulkan*
 * and EmbeddedCount properties. */
#include "dbus/bus.h"
#include "dbus/options.h"
#include "embed/embed.h"
#include "services/backbone.h"
#include "fluff/text.h"

int method_import_backbone(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        BusServer *s = userdata;
        const char *path;
        Error e = {};
        Job *j;
        int r;

        r = bus_read_absolute_path(m, "package", &path, error);
        if (r < 0)
                return r;
        r = import_job_create(s->f.embed, path, &j, &e);
        if (r < 0)
                return bus_error_from(error, r, &e);
        return bus_reply_job(m, j);
}

int method_import_backbone_fd(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        BusServer *s = userdata;
        Error e = {};
        Job *j;
        int fd, r;

        r = sd_bus_message_read(m, "h", &fd);
        if (r < 0)
                return r;
        r = import_job_create_fd(s->f.embed, fd, &j, &e);
        if (r < 0)
                return bus_error_from(error, r, &e);
        return bus_reply_job(m, j);
}

int method_embed(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        BusServer *s = userdata;
        Error e = {};
        Job *j;
        int r;

        r = bus_read_options(m, "embed", bus_no_options, NULL, error);
        if (r < 0)
                return r;
        r = embed_job_create(s->f.embed, &j, &e);
        if (r < 0)
                return bus_error_from(error, r, &e);
        return bus_reply_job(m, j);
}

static void on_classified(void *userdata, int r, const char *message, const float *probs)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_message *call = userdata;

        if (r < 0) {
                (void)fluff_bus_error_set_errnof(&error, r, "%s", message ?: strerror(-r));
                r = sd_bus_reply_method_error(call, &error);
                if (r < 0)
                        log_debug_errno(r, "Failed to answer ClassifyImage: %m");
                return;
        }
        r = sd_bus_message_new_method_return(call, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(sd)");
        for (unsigned i = 0; r >= 0 && i < BACKBONE_N_CLASSES; i++)
                r = sd_bus_message_append(reply, "(sd)", backbone_class_names[i], (double)probs[i]);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        if (r < 0)
                log_debug_errno(r, "Failed to answer ClassifyImage: %m");
}

static void call_unref(void *userdata)
{
        sd_bus_message_unref(userdata);
}

int method_classify_image(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        BusServer *s = userdata;
        const char *path;
        Error e = {};
        int r;

        r = bus_read_absolute_path(m, "image", &path, error);
        if (r < 0)
                return r;
        r = embed_classify(s->f.embed, path, on_classified, call_unref, sd_bus_message_ref(m), &e);
        if (r < 0) {
                sd_bus_message_unref(m);
                return bus_error_from(error, r, &e);
        }
        return 1;
}

int method_classify_image_fd(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        BusServer *s = userdata;
        Error e = {};
        int fd, r;

        r = sd_bus_message_read(m, "h", &fd);
        if (r < 0)
                return r;
        r = embed_classify_fd(s->f.embed, fd, on_classified, call_unref, sd_bus_message_ref(m), &e);
        if (r < 0) {
                sd_bus_message_unref(m);
                return bus_error_from(error, r, &e);
        }
        return 1;
}

int property_get_backbone(sd_bus *bus, const char *path, const char *interface, const char *property,
                          sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        BusServer *s = userdata;
        BackboneService *bb = s->f.backbone;
        const char *name, *type;

        if (streq(property, "BackboneId"))
                return sd_bus_message_append(reply, "s", backbone_service_id(bb));
        if (streq(property, "BackboneInfo"))
                return sd_bus_message_append(reply, "s", backbone_service_info(bb));
        if (streq(property, "EmbeddedCount"))
                return sd_bus_message_append(reply, "t", bb->embedded);
        backbone_service_device(bb, &name, &type);
        return sd_bus_message_append(reply, "s", streq(property, "VulkanDevice") ? name : type);
}
