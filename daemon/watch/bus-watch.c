/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <math.h>

#include "bus/manager.h"
#include "bus/options.h"
#include "config.h"
#include "daemon.h"
#include "fluff/bus.h"
#include "jobs/job.h"
#include "model.h"
#include "predict/predict.h"
#include "train/taste.h"
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

static int method_add_watch(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        Daemon *d = userdata;
        AddWatchOptions o = {.threshold = NAN};
        _cleanup_free_ char *tags = NULL;
        const char *raw;
        uint64_t id;
        int r;

        r = bus_check_caller(m, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(m, "s", &raw);
        if (r < 0)
                return r;
        r = bus_read_options(m, "AddWatch", add_watch_options, &o, error);
        if (r < 0)
                return r;
        r = bus_predict_normalise_tags(raw, &tags, error);
        if (r < 0)
                return r;
        /* What the model calls a like, unless the user says otherwise. */
        if (isnan(o.threshold))
                o.threshold = d->taste->model ? d->taste->model->threshold : 0.5;
        if (o.max_per_run == 0)
                o.max_per_run = d->config->watch_max_per_run;
        r = store_watch_add(d->store, tags, o.threshold, o.max_per_run, &id);
        if (r < 0)
                return fluff_bus_error_set_errnof(error, r, "Failed to store the watch: %s",
                                                  store_error(d->store));
        log_info("Watching \"%s\" (watch %" PRIu64 ", threshold %.3f, at most %u posts a run).", tags, id,
                 o.threshold, o.max_per_run);
        daemon_refresh_counts(d);
        return sd_bus_reply_method_return(m, "t", id);
}

static int method_remove_watch(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        Daemon *d = userdata;
        uint64_t id;
        int r;

        r = bus_check_caller(m, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(m, "t", &id);
        if (r < 0)
                return r;
        r = store_watch_remove(d->store, id);
        if (r == -ENOENT)
                return sd_bus_error_setf(
                        error, FLUFF_ERROR_NOT_FOUND,
                        "There is no watch %" PRIu64 "; \"fluffctl watch list\" shows them.", id);
        if (r < 0)
                return fluff_bus_error_set_errnof(error, r, "Failed to remove watch %" PRIu64 ": %s", id,
                                                  store_error(d->store));
        daemon_refresh_counts(d);
        return sd_bus_reply_method_return(m, NULL);
}

static int method_list_watches(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Daemon *d = userdata;
        Watch *w = NULL;
        size_t n = 0;
        int r;

        r = bus_check_caller(m, error);
        if (r < 0)
                return r;
        r = store_watch_list(d->store, &w, &n);
        if (r < 0)
                return fluff_bus_error_set_errnof(error, r, "Failed to read the watches: %s",
                                                  store_error(d->store));
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

static int parse_include_animated(sd_bus_message *m, const char *key, void *options, sd_bus_error *error)
{
        WatchJobOptions *o = options;

        return bus_read_bool_variant(m, key, &o->include_animated, error);
}

static const BusOption run_watches_options[] = {
        {"watch", parse_watch},
        {"include_animated", parse_include_animated},
        {},
};

static int method_run_watches(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        Daemon *d = userdata;
        WatchJobOptions o = {};
        Watch one;
        Job *j;
        int r;

        r = bus_check_caller(m, error);
        if (r < 0)
                return r;
        r = bus_read_options(m, "RunWatches", run_watches_options, &o, error);
        if (r < 0)
                return r;
        if (o.watch > 0) {
                r = store_watch_get(d->store, o.watch, &one);
                if (r == -ENOENT)
                        return sd_bus_error_setf(error, FLUFF_ERROR_NOT_FOUND,
                                                 "There is no watch %" PRIu64
                                                 "; \"fluffctl watch list\" shows them.",
                                                 o.watch);
                if (r < 0)
                        return fluff_bus_error_set_errnof(error, r, "Failed to read watch %" PRIu64 ": %s",
                                                          o.watch, store_error(d->store));
                free(one.tags);
        }
        if (!daemon_logged_in(d))
                return sd_bus_error_set(error, FLUFF_ERROR_NOT_LOGGED_IN,
                                        "Not logged in: run \"fluffctl login USERNAME\" first.");
        if (!d->taste->model)
                return sd_bus_error_set(error, FLUFF_ERROR_NO_MODEL,
                                        "There is no taste model yet: run \"fluffctl sync\" and "
                                        "\"fluffctl train\" first.");
        j = daemon_find_active_job(d, "watch");
        if (j)
                return sd_bus_error_setf(error, FLUFF_ERROR_BUSY,
                                         "The watches are already running as job %" PRIu64
                                         "; wait for it or cancel it with \"fluffctl cancel %" PRIu64 "\".",
                                         j->id, j->id);
        r = watch_job_new(d, &o, &j);
        if (r < 0)
                return fluff_bus_error_set_errnof(error, r, "Failed to create the watch job: %s",
                                                  strerror(-r));
        r = sd_bus_reply_method_return(m, "o", j->path);
        if (r < 0)
                return r;
        (void)job_start(j);
        return 1;
}

static const sd_bus_vtable watch_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("AddWatch", SD_BUS_ARGS("s", tags, "a{sv}", options), SD_BUS_RESULT("t", id),
                                method_add_watch, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RemoveWatch", SD_BUS_ARGS("t", id), SD_BUS_NO_RESULT, method_remove_watch,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListWatches", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(tsdutt)", watches),
                                method_list_watches, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RunWatches", SD_BUS_ARGS("a{sv}", options), SD_BUS_RESULT("o", job),
                                method_run_watches, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

int bus_watch_register(Daemon *d)
{
        return sd_bus_add_object_vtable(d->bus, &d->watch_slot, FLUFF_BUS_PATH, FLUFF_BUS_MANAGER_IFACE,
                                        watch_vtable, d);
}
