/* SPDX-License-Identifier: MIT */
/* Manager.AddWatch, RemoveWatch, ListWatches, RunWatches. */
#include <inttypes.h>
#include <math.h>

#include "dbus/bus.h"
#include "dbus/options.h"
#include "watch/watch.h"

typedef struct AddWatchOptions {
        double threshold;     /* NAN: the default */
        unsigned max_per_run; /* 0: the default */
} AddWatchOptions;

static int parse_threshold(sd_bus_message *m, const char *key, void *options, sd_bus_error *error)
{
        AddWatchOptions *o = options;
        double v;
        int r;

        r = sd_bus_message_read(m, "v", "d", &v);
        if (r < 0 || !(v >= 0.0 && v <= 1.0))
                return sd_bus_error_setf(
                        error, SD_BUS_ERROR_INVALID_ARGS,
                        "AddWatch option \"%s\" must be a probability (a double from 0 to 1).", key);
        o->threshold = v;
        return 0;
}

static int parse_max_per_run(sd_bus_message *m, const char *key, void *options, sd_bus_error *error)
{
        AddWatchOptions *o = options;
        uint64_t v;
        int r;

        r = bus_read_uint_variant(m, key, &v, error);
        if (r < 0)
                return r;
        if (v < 1 || v > WATCH_MAX_PER_RUN_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "AddWatch option \"%s\" = %" PRIu64
                                         " is out of range: give 1 to %u posts.",
                                         key, v, WATCH_MAX_PER_RUN_MAX);
        o->max_per_run = (unsigned)v;
        return 0;
}

static const BusOption add_watch_options[] = {
        {"threshold", parse_threshold},
        {"max_per_run", parse_max_per_run},
        {},
};

int method_add_watch(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        BusServer *s = userdata;
        AddWatchOptions o = {.threshold = NAN};
        _cleanup_free_ char *tags = NULL;
        const char *raw;
        Error e = {};
        uint64_t id;
        int r;

        r = sd_bus_message_read(m, "s", &raw);
        if (r < 0)
                return r;
        r = bus_read_options(m, "AddWatch", add_watch_options, &o, error);
        if (r < 0)
                return r;
        r = bus_normalise_tags(raw, &tags, error);
        if (r < 0)
                return r;
        r = watch_add(s->f.ctx, s->f.taste, tags, o.threshold, o.max_per_run, &id, &e);
        if (r < 0)
                return bus_error_from(error, r, &e);
        return sd_bus_reply_method_return(m, "t", id);
}

static int remove_watch(BusServer *s, uint64_t id, Error *e)
{
        return watch_remove(s->f.ctx, id, e);
}

int method_remove_watch(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        return bus_method_on_id(m, userdata, remove_watch, error);
}

int method_list_watches(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        BusServer *s = userdata;
        Watch *w = NULL;
        Error e = {};
        size_t n = 0;
        int r;

        r = watch_list(s->f.ctx, &w, &n, &e);
        if (r < 0)
                return bus_error_from(error, r, &e);
        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(tsdutt)");
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = sd_bus_message_append(reply, "(tsdutt)", w[i].id, w[i].tags, w[i].threshold,
                                          (uint32_t)w[i].max_per_run, w[i].last_seen_id, w[i].last_run_usec);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        watch_array_free(w, n);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int parse_watch(sd_bus_message *m, const char *key, void *options, sd_bus_error *error)
{
        WatchJobOptions *o = options;
        uint64_t v;
        int r;

        r = bus_read_uint_variant(m, key, &v, error);
        if (r < 0)
                return r;
        if (v == 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "RunWatches option \"%s\" must be a watch id (1 or more).", key);
        o->watch = v;
        return 0;
}

static const BusOption run_watches_options[] = {
        {"watch", parse_watch},
        {"include_animated", bus_option_bool, offsetof(WatchJobOptions, include_animated)},
        {},
};

int method_run_watches(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        BusServer *s = userdata;
        WatchJobOptions o = {};
        Error e = {};
        Job *j;
        int r;

        r = bus_read_options(m, "RunWatches", run_watches_options, &o, error);
        if (r < 0)
                return r;
        r = watch_job_create(&s->predictor, s->f.runner, &o, &j, &e);
        if (r < 0)
                return bus_error_from(error, r, &e);
        return bus_reply_job(m, j);
}
