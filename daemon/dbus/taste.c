/* SPDX-License-Identifier: MIT */
/* Manager.Train and the ModelInfo and HasModel properties. */
#include <inttypes.h>

#include "dbus/bus.h"
#include "dbus/options.h"
#include "services/taste.h"
#include "train/train.h"
#include "fluff/text.h"

static int parse_time_budget(sd_bus_message *m, const char *key, void *options, sd_bus_error *error)
{
        TrainJobOptions *o = options;
        int r;

        r = bus_read_uint_variant(m, key, &o->time_budget_s, error);
        if (r < 0)
                return r;
        if (o->time_budget_s < TRAIN_BUDGET_MIN_S || o->time_budget_s > TRAIN_BUDGET_MAX_S)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Time budget %" PRIu64
                                         " s is out of range: give %u s to %u s (24 h).",
                                         o->time_budget_s, TRAIN_BUDGET_MIN_S, TRAIN_BUDGET_MAX_S);
        return 0;
}

static int parse_seed(sd_bus_message *m, const char *key, void *options, sd_bus_error *error)
{
        TrainJobOptions *o = options;

        return bus_read_uint_variant(m, key, &o->seed, error);
}

/* An epoch count of 1…TRAIN_PATIENCE_MAX; what names it in the error. */
static int read_epochs(sd_bus_message *m, const char *key, const char *what, const char *unit, unsigned *ret,
                       sd_bus_error *error)
{
        uint64_t v;
        int r;

        r = bus_read_uint_variant(m, key, &v, error);
        if (r < 0)
                return r;
        if (v < 1 || v > TRAIN_PATIENCE_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "%s %" PRIu64 " is out of range: give 1 to %u%s.", what, v,
                                         TRAIN_PATIENCE_MAX, unit);
        *ret = (unsigned)v;
        return 0;
}

static int parse_patience(sd_bus_message *m, const char *key, void *options, sd_bus_error *error)
{
        TrainJobOptions *o = options;

        return read_epochs(m, key, "Patience", " epochs", &o->patience, error);
}

static int parse_max_epochs(sd_bus_message *m, const char *key, void *options, sd_bus_error *error)
{
        TrainJobOptions *o = options;

        return read_epochs(m, key, "Max epochs", "", &o->max_epochs, error);
}

static int parse_towers(sd_bus_message *m, const char *key, void *options, sd_bus_error *error)
{
        TrainJobOptions *o = options;
        const char *s;
        int r;

        r = sd_bus_message_read(m, "v", "s", &s);
        if (r < 0)
                return sd_bus_error_setf(
                        error, SD_BUS_ERROR_INVALID_ARGS,
                        "Train option \"%s\" must be a string: \"both\", \"tags\" or \"image\".", key);
        o->towers = train_towers_from_string(s);
        if (o->towers < 0)
                return sd_bus_error_setf(
                        error, SD_BUS_ERROR_INVALID_ARGS,
                        "Towers \"%.*s\" are not known: give \"both\", \"tags\" or \"image\".",
                        (int)utf8_prefix_len(s, 64), s);
        return 0;
}

static const BusOption train_options[] = {
        {"install", bus_option_bool, offsetof(TrainJobOptions, install)},
        {"time_budget_s", parse_time_budget},
        {"seed", parse_seed},
        {"patience", parse_patience},
        {"max_epochs", parse_max_epochs},
        {"towers", parse_towers},
        {},
};

int method_train(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        BusServer *s = userdata;
        TrainJobOptions o = {.time_budget_s = TRAIN_BUDGET_DEFAULT_S, .seed = 1};
        Error e = {};
        Job *j;
        int r;

        r = bus_read_options(m, "train", train_options, &o, error);
        if (r < 0)
                return r;
        r = train_job_create(s->f.ctx, s->f.backbone, s->f.taste, s->f.runner, &o, &j, &e);
        if (r < 0)
                return bus_error_from(error, r, &e);
        return bus_reply_job(m, j);
}

int property_get_model_info(sd_bus *bus, const char *path, const char *interface, const char *property,
                            sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        BusServer *s = userdata;
        return sd_bus_message_append(reply, "s", strempty(s->f.taste->info));
}

int property_get_has_model(sd_bus *bus, const char *path, const char *interface, const char *property,
                           sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        BusServer *s = userdata;
        return sd_bus_message_append(reply, "b", s->f.taste->model != NULL);
}
