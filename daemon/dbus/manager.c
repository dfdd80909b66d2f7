/* SPDX-License-Identifier: MIT */
/* The io.github.fluffml.Fluff1.Manager interface on /io/github/fluffml/Fluff1:
 * its one vtable (the one place holding every signature), the core's
 * properties, and PropertiesChanged for the events that change them. */
#include <inttypes.h>

#include "core/context.h"
#include "dbus/bus.h"
#include "jobs/runner.h"
#include "services/outbox.h"

static int property_get_logged_in(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        BusServer *s = userdata;
        return sd_bus_message_append(reply, "b", session_logged_in(&s->f.ctx->session));
}

static int property_get_username(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        BusServer *s = userdata;
        return sd_bus_message_append(reply, "s", strempty(s->f.ctx->session.username));
}

static int property_get_site(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        BusServer *s = userdata;
        return sd_bus_message_append(reply, "s", s->f.ctx->site);
}

static int property_get_count(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        BusServer *s = userdata;
        const StoreCounts *c = &s->f.ctx->counts.now;
        static const struct {
                const char *name;
                size_t offset;
        } table[] = {
                {"PostCount", offsetof(StoreCounts, posts)},
                {"LikedCount", offsetof(StoreCounts, liked)},
                {"DislikedCount", offsetof(StoreCounts, disliked)},
                {"ConflictCount", offsetof(StoreCounts, conflicts)},
                {"ImageCount", offsetof(StoreCounts, images_ok)},
                {"FailedCount", offsetof(StoreCounts, images_failed)},
                {"MissingImageCount", offsetof(StoreCounts, images_missing)},
                {"SkippedCount", offsetof(StoreCounts, skipped)},
        };
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (streq(property, table[i].name))
                        return sd_bus_message_append(
                                reply, "t", *(const uint64_t *)((const uint8_t *)c + table[i].offset));
        return -EINVAL;
}

static int property_get_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        return sd_bus_message_append(reply, "s", FLUFF_VERSION);
}

static int property_get_jobs(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        BusServer *s = userdata;
        char buf[BUS_JOB_PATH_MAX];
        int r;

        r = sd_bus_message_open_container(reply, 'a', "o");
        if (r < 0)
                return r;
        for (Job *j = s->f.runner->jobs; j; j = j->next) {
                r = sd_bus_message_append(reply, "o", bus_job_path(j, buf));
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int property_get_busy(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        BusServer *s = userdata;
        return sd_bus_message_append(reply, "b", job_runner_find_active(s->f.runner, "sync") != NULL);
}

/* The order is the API's introspection order: keep it. */
static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        /* the core: session, jobs, counts */
        SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Site", "s", property_get_site, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("LoggedIn", "b", property_get_logged_in, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Username", "s", property_get_username, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Jobs", "ao", property_get_jobs, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Busy", "b", property_get_busy, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("PostCount", "t", property_get_count, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LikedCount", "t", property_get_count, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("DislikedCount", "t", property_get_count, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ConflictCount", "t", property_get_count, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ImageCount", "t", property_get_count, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("FailedCount", "t", property_get_count, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("MissingImageCount", "t", property_get_count, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("SkippedCount", "t", property_get_count, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        /* login/, sync/ */
        SD_BUS_METHOD_WITH_ARGS("Login", SD_BUS_ARGS("s", username, "s", api_key, "b", remember),
                                SD_BUS_NO_RESULT, method_login,
                                SD_BUS_VTABLE_UNPRIVILEGED | SD_BUS_VTABLE_SENSITIVE),
        SD_BUS_METHOD_WITH_ARGS("Sync", SD_BUS_ARGS("a{sv}", options), SD_BUS_RESULT("o", job), method_sync,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Logout", SD_BUS_ARGS("b", forget), SD_BUS_NO_RESULT, method_logout,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        /* vote/ and the outbox */
        SD_BUS_PROPERTY("OutboxPending", "t", property_get_outbox, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("OutboxSent", "t", property_get_outbox, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("OutboxFailed", "t", property_get_outbox, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("OutboxLastError", "s", property_get_outbox, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("Vote", SD_BUS_ARGS("t", post_id, "i", score), SD_BUS_NO_RESULT, method_vote,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        /* embed/ and the backbone */
        SD_BUS_PROPERTY("BackboneId", "s", property_get_backbone, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("BackboneInfo", "s", property_get_backbone, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("EmbeddedCount", "t", property_get_backbone, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("VulkanDevice", "s", property_get_backbone, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("VulkanDeviceType", "s", property_get_backbone, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_METHOD_WITH_ARGS("ImportBackbone", SD_BUS_ARGS("s", path), SD_BUS_RESULT("o", job),
                                method_import_backbone, SD_BUS_VTABLE_UNPRIVILEGED),
        /* the same for a package the caller opened: no path, no FIFO to wait on */
        SD_BUS_METHOD_WITH_ARGS("ImportBackboneFd", SD_BUS_ARGS("h", file), SD_BUS_RESULT("o", job),
                                method_import_backbone_fd, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ClassifyImage", SD_BUS_ARGS("s", path), SD_BUS_RESULT("a(sd)", classes),
                                method_classify_image, SD_BUS_VTABLE_UNPRIVILEGED),
        /* the same for a file the caller opened: no path the daemon must resolve */
        SD_BUS_METHOD_WITH_ARGS("ClassifyImageFd", SD_BUS_ARGS("h", file), SD_BUS_RESULT("a(sd)", classes),
                                method_classify_image_fd, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Embed", SD_BUS_ARGS("a{sv}", options), SD_BUS_RESULT("o", job),
                                method_embed, SD_BUS_VTABLE_UNPRIVILEGED),
        /* train/ and the taste model */
        SD_BUS_PROPERTY("ModelInfo", "s", property_get_model_info, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("HasModel", "b", property_get_has_model, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("Train", SD_BUS_ARGS("a{sv}", options), SD_BUS_RESULT("o", job),
                                method_train, SD_BUS_VTABLE_UNPRIVILEGED),
        /* predict/ */
        SD_BUS_METHOD_WITH_ARGS("Predict", SD_BUS_ARGS("s", tags, "u", count, "a{sv}", options),
                                SD_BUS_RESULT("o", job), method_predict, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetPredictions", SD_BUS_ARGS("u", run),
                                SD_BUS_RESULT("t", run, "s", tags, "a(tdssss)", predictions),
                                method_get_predictions, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("NewPredictions",
                                SD_BUS_ARGS("t", watch_id, "s", tags, "a(tdssss)", predictions), 0),
        /* version 2 of both: each row with its explanation (bus.h); the above stay for older clients */
        SD_BUS_METHOD_WITH_ARGS("GetPredictions2", SD_BUS_ARGS("u", run),
                                SD_BUS_RESULT("t", run, "s", tags, "a(tdssssa{sv})", predictions),
                                method_get_predictions2, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("NewPredictions2",
                                SD_BUS_ARGS("t", watch_id, "s", tags, "a(tdssssa{sv})", predictions), 0),
        /* watch/ */
        SD_BUS_METHOD_WITH_ARGS("AddWatch", SD_BUS_ARGS("s", tags, "a{sv}", options), SD_BUS_RESULT("t", id),
                                method_add_watch, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RemoveWatch", SD_BUS_ARGS("t", id), SD_BUS_NO_RESULT, method_remove_watch,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListWatches", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(tsdutt)", watches),
                                method_list_watches, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RunWatches", SD_BUS_ARGS("a{sv}", options), SD_BUS_RESULT("o", job),
                                method_run_watches, SD_BUS_VTABLE_UNPRIVILEGED),
        /* review/ */
        SD_BUS_METHOD_WITH_ARGS("Review", SD_BUS_ARGS("u", count), SD_BUS_RESULT("a(tdssss)", predictions),
                                method_review, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Review2", SD_BUS_ARGS("u", count),
                                SD_BUS_RESULT("a(tdssssa{sv})", predictions), method_review2,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        /* the model history and what runs by itself (dbus/models.c) */
        SD_BUS_METHOD_WITH_ARGS("ListModels", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(tttsssstttdss)", models),
                                method_list_models, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("UseModel", SD_BUS_ARGS("t", id), SD_BUS_NO_RESULT, method_use_model,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RemoveModel", SD_BUS_ARGS("t", id), SD_BUS_NO_RESULT, method_remove_model,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("AutoRetrain", SD_BUS_ARGS("a{sv}", options),
                                SD_BUS_RESULT("o", job, "s", reason), method_auto_retrain,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RefreshInfo", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", info), method_refresh_info,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

int bus_manager_register(BusServer *s)
{
        return sd_bus_add_object_vtable(s->bus, &s->manager_slot, FLUFF_BUS_PATH, FLUFF_BUS_MANAGER_IFACE,
                                        manager_vtable, s);
}

/* ---- announcements ---- */

static void emit(BusServer *s, char **names)
{
        int r;

        if (!s->bus)
                return;
        r = sd_bus_emit_properties_changed_strv(s->bus, FLUFF_BUS_PATH, FLUFF_BUS_MANAGER_IFACE, names);
        if (r < 0)
                log_debug_errno(r, "Failed to announce a change of %s, ignoring: %m", names[0]);
}

static void on_changed(EventKind kind, const void *payload, void *userdata)
{
        static const char *const session[] = {"LoggedIn", "Username", NULL};
        static const char *const counts[] = {"PostCount",         "LikedCount",   "DislikedCount",
                                             "ConflictCount",     "ImageCount",   "FailedCount",
                                             "MissingImageCount", "SkippedCount", NULL};
        static const char *const jobs[] = {"Jobs", "Busy", NULL};
        static const char *const outbox[] = {"OutboxPending", "OutboxSent", "OutboxFailed",
                                             "OutboxLastError", NULL};
        static const char *const backbone[] = {"BackboneId", "BackboneInfo", "EmbeddedCount", NULL};
        static const char *const model[] = {"ModelInfo", "HasModel", NULL};
        const char *const *names;

        switch (kind) {
        case EVENT_SESSION_CHANGED:
                names = session;
                break;
        case EVENT_COUNTS_CHANGED:
                names = counts;
                break;
        case EVENT_JOBS_CHANGED:
                names = jobs;
                break;
        case EVENT_OUTBOX_CHANGED:
                names = outbox;
                break;
        case EVENT_BACKBONE_CHANGED:
                names = backbone;
                break;
        case EVENT_MODEL_CHANGED:
                names = model;
                break;
        default:
                return;
        }
        emit(userdata, (char **)names);
}

static void on_predictions(EventKind kind, const void *payload, void *userdata)
{
        const EventPredictions *p = payload;
        BusServer *s = userdata;
        int r;

        if (!s->bus)
                return;
        /* NewPredictions2 first: a client that knows both takes it and then
         * ignores NewPredictions from the same sender */
        for (int v = 2; v >= 1; v--) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
                r = sd_bus_message_new_signal(s->bus, &m, FLUFF_BUS_PATH, FLUFF_BUS_MANAGER_IFACE,
                                              v == 2 ? "NewPredictions2" : "NewPredictions");
                if (r >= 0)
                        r = sd_bus_message_append(m, "ts", p->watch_id, strempty(p->tags));
                if (r >= 0)
                        r = bus_append_prediction_rows(s, m, p->rows, p->n, v == 2);
                if (r >= 0)
                        r = sd_bus_send(s->bus, m, NULL);
                if (r < 0)
                        log_debug_errno(r, "Failed to announce the new predictions, ignoring: %m");
        }
}

int bus_manager_subscribe(BusServer *s)
{
        static const EventKind kinds[] = {
                EVENT_SESSION_CHANGED, EVENT_COUNTS_CHANGED,   EVENT_JOBS_CHANGED,
                EVENT_OUTBOX_CHANGED,  EVENT_BACKBONE_CHANGED, EVENT_MODEL_CHANGED,
        };
        int r;

        for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                r = events_subscribe(s->f.ctx->events, kinds[i], on_changed, s);
                if (r < 0)
                        return r;
        }
        return events_subscribe(s->f.ctx->events, EVENT_PREDICTIONS_ANNOUNCED, on_predictions, s);
}
