/* SPDX-License-Identifier: MIT */
#include <inttypes.h>

#include "bus/manager.h"
#include "bus/options.h"
#include "daemon.h"
#include "e621.h"
#include "fluff/bus.h"
#include "jobs/job.h"
#include "predict/predict.h"
#include "train/taste.h"

#define PREDICT_TAGS_MAX_BYTES 4096

/* Splits the query into terms and joins them back through the e621 client's
 * check: empty, over-long, control characters or more than 40 terms fail. */
int bus_predict_normalise_tags(const char *tags, char **ret, sd_bus_error *error)
{
        _cleanup_strv_free_ char **terms = NULL;
        _cleanup_free_ char *copy = NULL;
        size_t n = 0;
        char *save = NULL;

        if (strlen(tags) > PREDICT_TAGS_MAX_BYTES || !utf8_is_valid(tags, strlen(tags)))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "The tags must be valid UTF-8 of at most %u bytes.",
                                         PREDICT_TAGS_MAX_BYTES);
        copy = strdup(tags);
        terms = calloc(E621_QUERY_TERMS_MAX + 2, sizeof(char *));
        if (!copy || !terms)
                return -ENOMEM;
        for (char *t = strtok_r(copy, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save)) {
                if (n >= E621_QUERY_TERMS_MAX)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Too many tags: the site takes at most %u terms.",
                                                 E621_QUERY_TERMS_MAX);
                terms[n] = strdup(t);
                if (!terms[n++])
                        return -ENOMEM;
        }
        if (n == 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Give at least one tag to search for, e.g. \"canine\".");
        if (e621_query_join(terms, ret) < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "The tags \"%.200s\" are not a valid search.", tags);
        return 0;
}

static int parse_include_animated(sd_bus_message *m, const char *key, void *options, sd_bus_error *error)
{
        PredictJobOptions *o = options;

        return bus_read_bool_variant(m, key, &o->include_animated, error);
}

static const BusOption predict_options[] = {
        { "include_animated", parse_include_animated },
        {},
};

static int method_predict(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        Daemon *d = userdata;
        PredictJobOptions o = {};
        _cleanup_free_ char *tags = NULL;
        const char *raw;
        uint32_t count;
        Job *j;
        int r;

        r = bus_check_caller(m, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(m, "su", &raw, &count);
        if (r < 0)
                return r;
        r = bus_read_options(m, "predict", predict_options, &o, error);
        if (r < 0)
                return r;

        if (count == 0)
                count = PREDICT_COUNT_DEFAULT;
        if (count > PREDICT_COUNT_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Count %" PRIu32 " is out of range: give %u to %u posts.", count,
                                         PREDICT_COUNT_MIN, PREDICT_COUNT_MAX);
        r = bus_predict_normalise_tags(raw, &tags, error);
        if (r < 0)
                return r;
        if (!daemon_logged_in(d))
                return sd_bus_error_set(error, FLUFF_ERROR_NOT_LOGGED_IN,
                                        "Not logged in: run \"fluffctl login USERNAME\" first.");
        if (!d->taste->model)
                return sd_bus_error_set(error, FLUFF_ERROR_NO_MODEL,
                                        "There is no taste model yet: run \"fluffctl sync\" and "
                                        "\"fluffctl train\" first.");
        j = daemon_find_active_job(d, "predict");
        if (j)
                return sd_bus_error_setf(error, FLUFF_ERROR_BUSY,
                                         "A prediction is already running as job %" PRIu64
                                         "; wait for it or cancel it with \"fluffctl cancel %" PRIu64 "\".",
                                         j->id, j->id);
        o.tags = tags;
        o.count = count;
        r = predict_job_new(d, &o, &j);
        if (r < 0)
                return fluff_bus_error_set_errnof(error, r, "Failed to create the predict job: %s",
                                                  strerror(-r));
        r = sd_bus_reply_method_return(m, "o", j->path);
        if (r < 0)
                return r;
        (void)job_start(j);
        return 1;
}

int bus_predict_append_rows(Daemon *d, sd_bus_message *m, const PredictionRow *rows, size_t n)
{
        int r;

        r = sd_bus_message_open_container(m, 'a', "(tdssss)");
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *url = NULL;
                r = e621_post_page_url(d->e621, rows[i].post_id, &url);
                if (r < 0)
                        return r;
                r = sd_bus_message_append(m, "(tdssss)", rows[i].post_id, rows[i].score,
                                          rows[i].label > 0 ? "like" : "dislike", strempty(rows[i].top_tags),
                                          strempty(rows[i].image_path), url);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}

static int method_get_predictions(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Daemon *d = userdata;
        _cleanup_free_ char *tags = NULL;
        PredictionRow *rows = NULL;
        uint64_t run;
        uint32_t arg;
        size_t n = 0;
        int r;

        r = bus_check_caller(m, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(m, "u", &arg);
        if (r < 0)
                return r;
        run = arg;
        if (run == 0) {
                r = store_prediction_latest_run(d->store, &run);
                if (r == -ENOENT)
                        return sd_bus_error_set(error, FLUFF_ERROR_NOT_FOUND,
                                                "No predictions yet: run \"fluffctl predict TAGS\".");
                if (r < 0)
                        return fluff_bus_error_set_errnof(error, r, "Failed to read the predictions: %s",
                                                          store_error(d->store));
        }
        r = store_prediction_list(d->store, run, &tags, &rows, &n);
        if (r == -ENOENT)
                return sd_bus_error_setf(error, FLUFF_ERROR_NOT_FOUND,
                                         "No prediction run %" PRIu64 " (only the latest manual run and recent watch "
                                         "runs are kept).", run);
        if (r < 0)
                return fluff_bus_error_set_errnof(error, r, "Failed to read the predictions: %s",
                                                  store_error(d->store));
        r = sd_bus_message_new_method_return(m, &reply);
        if (r >= 0)
                r = sd_bus_message_append(reply, "ts", run, strempty(tags));
        if (r >= 0)
                r = bus_predict_append_rows(d, reply, rows, n);
        prediction_row_array_free(rows, n);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

void bus_predict_emit_new(Daemon *d, uint64_t watch_id, const char *tags, const PredictionRow *rows, size_t n)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        if (!d->bus)
                return;
        r = sd_bus_message_new_signal(d->bus, &m, FLUFF_BUS_PATH, FLUFF_BUS_MANAGER_IFACE, "NewPredictions");
        if (r >= 0)
                r = sd_bus_message_append(m, "ts", watch_id, strempty(tags));
        if (r >= 0)
                r = bus_predict_append_rows(d, m, rows, n);
        if (r >= 0)
                r = sd_bus_send(d->bus, m, NULL);
        if (r < 0)
                log_debug_errno(r, "Failed to announce the new predictions, ignoring: %m");
}

static const sd_bus_vtable predict_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("Predict", SD_BUS_ARGS("s", tags, "u", count, "a{sv}", options),
                                SD_BUS_RESULT("o", job), method_predict, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetPredictions", SD_BUS_ARGS("u", run),
                                SD_BUS_RESULT("t", run, "s", tags, "a(tdssss)", predictions),
                                method_get_predictions, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("NewPredictions", SD_BUS_ARGS("t", watch_id, "s", tags, "a(tdssss)", predictions), 0),
        SD_BUS_VTABLE_END,
};

int bus_predict_register(Daemon *d)
{
        return sd_bus_add_object_vtable(d->bus, &d->predict_slot, FLUFF_BUS_PATH, FLUFF_BUS_MANAGER_IFACE,
                                        predict_vtable, d);
}
