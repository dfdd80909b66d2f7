/* SPDX-License-Identifier: MIT */
#include <inttypes.h>

#include "bus/manager.h"
#include "bus/options.h"
#include "daemon.h"
#include "embed/service.h"
#include "fluff/bus.h"
#include "jobs/job.h"
#include "train/taste.h"

static int parse_time_budget(sd_bus_message *m, const char *key, void *options, sd_bus_error *error)
{
        TrainJobOptions *o = options;
        int r;

        r = bus_read_uint_variant(m, key, &o->time_budget_s, error);
        if (r < 0)
                return r;
        if (o->time_budget_s < TRAIN_BUDGET_MIN_S || o->time_budget_s > TRAIN_BUDGET_MAX_S)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Time budget %" PRIu64 " s is out of range: give %u s to %u s (24 h).",
                                         o->time_budget_s, TRAIN_BUDGET_MIN_S, TRAIN_BUDGET_MAX_S);
        return 0;
}

static int parse_seed(sd_bus_message *m, const char *key, void *options, sd_bus_error *error)
{
        TrainJobOptions *o = options;

        return bus_read_uint_variant(m, key, &o->seed, error);
}

static int parse_patience(sd_bus_message *m, const char *key, void *options, sd_bus_error *error)
{
        TrainJobOptions *o = options;
        uint64_t v;
        int r;

        r = bus_read_uint_variant(m, key, &v, error);
        if (r < 0)
                return r;
        if (v < 1 || v > TRAIN_PATIENCE_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Patience %" PRIu64 " is out of range: give 1 to %u epochs.", v,
                                         TRAIN_PATIENCE_MAX);
        o->patience = (unsigned)v;
        return 0;
}

static int parse_towers(sd_bus_message *m, const char *key, void *options, sd_bus_error *error)
{
        TrainJobOptions *o = options;
        const char *s;
        int r;

        r = sd_bus_message_read(m, "v", "s", &s);
        if (r < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Train option \"%s\" must be a string: \"both\", \"tags\" or \"image\".", key);
        o->towers = train_towers_from_string(s);
        if (o->towers < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Towers \"%.64s\" are not known: give \"both\", \"tags\" or \"image\".", s);
        return 0;
}

static const BusOption train_options[] = {
        { "time_budget_s", parse_time_budget },
        { "seed", parse_seed },
        { "patience", parse_patience },
        { "towers", parse_towers },
        {},
};

static int method_train(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        Daemon *d = userdata;
        TrainJobOptions o = {.time_budget_s = TRAIN_BUDGET_DEFAULT_S, .seed = 1};
        Job *j;
        int r;

        r = bus_check_caller(m, error);
        if (r < 0)
                return r;
        r = bus_read_options(m, "train", train_options, &o, error);
        if (r < 0)
                return r;

        j = daemon_find_active_job(d, "sync");
        if (j)
                return sd_bus_error_setf(error, FLUFF_ERROR_BUSY,
                                         "A sync is running as job %" PRIu64 "; train once it is done.",
                                         j->id);
        j = daemon_find_active_job(d, "train");
        if (j)
                return sd_bus_error_setf(error, FLUFF_ERROR_BUSY,
                                         "Training is already running as job %" PRIu64 "; follow it with "
                                         "\"fluffctl jobs\" or cancel it with \"fluffctl cancel %" PRIu64
                                         "\".",
                                         j->id, j->id);
        r = train_job_new(d, &o, &j);
        if (r < 0)
                return fluff_bus_error_set_errnof(error, r, "Failed to create the train job: %s",
                                                  strerror(-r));
        r = sd_bus_reply_method_return(m, "o", j->path);
        if (r < 0)
                return r;
        (void)job_start(j);
        return 1;
}

static int property_get_model_info(sd_bus *bus, const char *path, const char *interface,
                                   const char *property, sd_bus_message *reply, void *userdata,
                                   sd_bus_error *error)
{
        Daemon *d = userdata;
        return sd_bus_message_append(reply, "s", strempty(d->taste->info));
}

static int property_get_has_model(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        Daemon *d = userdata;
        return sd_bus_message_append(reply, "b", d->taste->model != NULL);
}

static const sd_bus_vtable taste_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("ModelInfo", "s", property_get_model_info, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("HasModel", "b", property_get_has_model, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("Train", SD_BUS_ARGS("a{sv}", options), SD_BUS_RESULT("o", job),
                                method_train, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

int bus_taste_register(Daemon *d)
{
        return sd_bus_add_object_vtable(d->bus, &d->taste_slot, FLUFF_BUS_PATH, FLUFF_BUS_MANAGER_IFACE,
                                        taste_vtable, d);
}

void bus_taste_emit_changed(Daemon *d)
{
        if (!d->bus)
                return;
        int r = sd_bus_emit_properties_changed(d->bus, FLUFF_BUS_PATH, FLUFF_BUS_MANAGER_IFACE, "ModelInfo",
                                               "HasModel", NULL);
        if (r < 0)
                log_debug_errno(r, "Failed to announce the new model, ignoring: %m");
}
