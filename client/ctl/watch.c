/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>
#include <time.h>

#include "bus-util.h"
#include "ctl.h"
#include "fluff/bus.h"
#include "fluff/text.h"
#include "output.h"

/* As the daemon checks it (daemon/watch/watch.h): a typo is a usage error. */
#define MAX_PER_RUN_MAX 320u

double arg_threshold = NAN;
unsigned arg_max;

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

int parse_threshold_arg(const char *s)
{
        char *end = NULL;
        double v;

        errno = 0;
        v = strtod(s, &end);
        if (isempty(s) || errno != 0 || !end || *end || !(v >= 0.0 && v <= 1.0)) {
                log_error("Invalid --threshold \"%s\": give a probability from 0 to 1, e.g. 0.8.", s);
                return -EINVAL;
        }
        arg_threshold = v;
        return 0;
}

int parse_max_arg(const char *s)
{
        unsigned v;

        if (safe_atou(s, &v) < 0 || v < 1 || v > MAX_PER_RUN_MAX) {
                log_error("Invalid --max \"%s\": give a number of posts per run from 1 to %u.", s,
                          MAX_PER_RUN_MAX);
                return -EINVAL;
        }
        arg_max = v;
        return 0;
}

static int parse_watch_id(const char *arg, uint64_t *ret)
{
        uint64_t id;

        if (isempty(arg) || strspn(arg, "0123456789") != strlen(arg) || safe_atou64(arg, &id) < 0 ||
            id == 0) {
                log_error("\"%.*s\" is not a watch id (\"fluffctl watch list\" shows them).",
                          (int)utf8_prefix_len(arg, 64), arg);
                return VERB_USAGE_ERROR;
        }
        *ret = id;
        return 0;
}

static json_object *watch_json(uint64_t id, const char *tags, double threshold, uint32_t max,
                               uint64_t last_seen, uint64_t last_run)
{
        json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        json_object_object_add(o, "id", json_object_new_uint64(id));
        json_object_object_add(o, "tags", json_object_new_string(tags));
        json_object_object_add(o, "threshold", json_object_new_double(threshold));
        json_object_object_add(o, "max_per_run", json_object_new_uint64(max));
        json_object_object_add(o, "last_seen_id", json_object_new_uint64(last_seen));
        json_object_object_add(o, "last_run_usec", json_object_new_uint64(last_run));
        return o;
}

/* The watch objects (want 0: all), as an array. */
static int watches_json(sd_bus *bus, uint64_t want, json_object **ret)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(json_object_putp) json_object *a = json_object_new_array();
        const char *tags;
        double threshold;
        uint64_t id, last_seen, last_run;
        uint32_t max;
        int r;

        if (!a)
                return log_oom();
        r = sd_bus_call_method(bus, FLUFF_BUS_NAME, FLUFF_BUS_PATH, FLUFF_BUS_MANAGER_IFACE, "ListWatches",
                               &error, &reply, NULL);
        if (r < 0)
                return bus_log_call_error("list the watches", &error, r);
        r = sd_bus_message_enter_container(reply, 'a', "(tsdutt)");
        if (r < 0)
                return log_error_errno(r, "Failed to read the watches: %m");
        while ((r = sd_bus_message_read(reply, "(tsdutt)", &id, &tags, &threshold, &max, &last_seen,
                                        &last_run)) > 0)
                if (want == 0 || id == want)
                        json_object_array_add(a, watch_json(id, tags, threshold, max, last_seen, last_run));
        if (r < 0)
                return log_error_errno(r, "Failed to read the watches: %m");
        *ret = TAKE_PTR(a);
        return 0;
}

static int watch_print_json(sd_bus *bus, uint64_t id)
{
        _cleanup_(json_object_putp) json_object *a = NULL;
        int r = watches_json(bus, id, &a);
        if (r < 0)
                return r;
        if (json_object_array_length(a) != 1)
                return log_error_errno(ENOENT, "Watch %" PRIu64 " is gone.", id);
        json_print(json_object_array_get_idx(a, 0));
        return 0;
}

static int watch_add(int argc, char *argv[], sd_bus *bus)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL, *reply = NULL;
        _cleanup_free_ char *tags = NULL;
        uint64_t id;
        int r;

        if (argc < 3) {
                log_error("Give the tags to watch: \"fluffctl watch add TAGS...\".");
                return VERB_USAGE_ERROR;
        }
        tags = strv_join(argv + 2, " ");
        if (!tags)
                return log_oom();
        r = sd_bus_message_new_method_call(bus, &call, FLUFF_BUS_NAME, FLUFF_BUS_PATH,
                                           FLUFF_BUS_MANAGER_IFACE, "AddWatch");
        if (r >= 0)
                r = sd_bus_message_append(call, "s", tags);
        if (r >= 0)
                r = sd_bus_message_open_container(call, 'a', "{sv}");
        if (r >= 0 && !isnan(arg_threshold))
                r = sd_bus_message_append(call, "{sv}", "threshold", "d", arg_threshold);
        if (r >= 0 && arg_max > 0)
                r = sd_bus_message_append(call, "{sv}", "max_per_run", "u", (uint32_t)arg_max);
        if (r >= 0)
                r = sd_bus_message_close_container(call);
        if (r < 0)
                return log_error_errno(r, "Failed to build the AddWatch call: %m");
        r = sd_bus_call(bus, call, 0, &error, &reply);
        if (r < 0)
                return bus_log_call_error("add the watch", &error, r);
        r = sd_bus_message_read(reply, "t", &id);
        if (r < 0)
                return log_error_errno(r, "Failed to read the reply to AddWatch: %m");
        if (arg_json)
                return watch_print_json(bus, id);
        if (!arg_quiet)
                printf("Watching \"%s\" as watch %" PRIu64
                       "; \"fluffctl watch run\" looks for new posts now, "
                       "the fluff-watch timer does it regularly.\n",
                       tags, id);
        return 0;
}

static int watch_remove(int argc, char *argv[], sd_bus *bus)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        uint64_t id;
        int r;

        if (argc != 3) {
                log_error("Give one watch id: \"fluffctl watch remove ID\".");
                return VERB_USAGE_ERROR;
        }
        r = parse_watch_id(argv[2], &id);
        if (r < 0)
                return r;
        r = sd_bus_call_method(bus, FLUFF_BUS_NAME, FLUFF_BUS_PATH, FLUFF_BUS_MANAGER_IFACE, "RemoveWatch",
                               &error, NULL, "t", id);
        if (r < 0)
                return bus_log_call_error("remove the watch", &error, r);
        if (arg_json) {
                _cleanup_(json_object_putp) json_object *o = json_object_new_object();
                if (!o)
                        return log_oom();
                json_object_object_add(o, "id", json_object_new_uint64(id));
                json_object_object_add(o, "removed", json_object_new_boolean(true));
                json_print(o);
        } else if (!arg_quiet)
                printf("Removed watch %" PRIu64 ".\n", id);
        return 0;
}

static void format_time(uint64_t usec, char *buf, size_t size)
{
        time_t t = (time_t)(usec / 1000000);
        struct tm tm;

        if (usec == 0 || !localtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M", &tm) == 0)
                snprintf(buf, size, "never");
}

static int watch_list(int argc, char *argv[], sd_bus *bus)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(json_object_putp) json_object *a = NULL;
        const char *tags;
        double threshold;
        uint64_t id, last_seen, last_run;
        uint32_t max;
        size_t n = 0;
        int r;

        if (argc != 2) {
                log_error("\"fluffctl watch list\" takes no arguments.");
                return VERB_USAGE_ERROR;
        }
        r = sd_bus_call_method(bus, FLUFF_BUS_NAME, FLUFF_BUS_PATH, FLUFF_BUS_MANAGER_IFACE, "ListWatches",
                               &error, &reply, NULL);
        if (r < 0)
                return bus_log_call_error("list the watches", &error, r);
        r = sd_bus_message_enter_container(reply, 'a', "(tsdutt)");
        if (r < 0)
                return log_error_errno(r, "Failed to read the watches: %m");
        if (arg_json) {
                a = json_object_new_array();
                if (!a)
                        return log_oom();
        } else
                printf("%-5s %9s %5s %10s  %-16s  %s\n", "ID", "THRESHOLD", "MAX", "LAST SEEN", "LAST RUN",
                       "TAGS");
        while ((r = sd_bus_message_read(reply, "(tsdutt)", &id, &tags, &threshold, &max, &last_seen,
                                        &last_run)) > 0) {
                n++;
                if (a)
                        json_object_array_add(a, watch_json(id, tags, threshold, max, last_seen, last_run));
                else {
                        char when[32];
                        format_time(last_run, when, sizeof(when));
                        printf("%-5" PRIu64 " %9.3f %5" PRIu32 " %10" PRIu64 "  %-16s  %s\n", id, threshold,
                               max, last_seen, when, tags);
                }
        }
        if (r < 0)
                return log_error_errno(r, "Failed to read the watches: %m");
        if (a)
                json_print(a);
        else if (n == 0)
                printf("\nNo watches yet: \"fluffctl watch add TAGS...\" adds one.\n");
        return 0;
}

typedef struct Heard {
        sd_bus_message **signals; /* owned references, in arrival order */
        size_t n;
} Heard;

static int on_new_predictions(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        Heard *h = userdata;
        sd_bus_message **s = reallocarray(h->signals, h->n + 1, sizeof(sd_bus_message *));

        if (!s)
                return log_oom();
        h->signals = s;
        h->signals[h->n++] = sd_bus_message_ref(m);
        return 0;
}

static void heard_done(Heard *h)
{
        for (size_t i = 0; i < h->n; i++)
                sd_bus_message_unref(h->signals[i]);
        free(h->signals);
}

static int print_heard(const Heard *h)
{
        _cleanup_(json_object_putp) json_object *a = arg_json ? json_object_new_array() : NULL;
        size_t posts = 0;
        int r;

        if (arg_json && !a)
                return log_oom();
        for (size_t i = 0; i < h->n; i++) {
                _cleanup_free_ Prediction *rows = NULL;
                sd_bus_message *m = h->signals[i];
                const char *tags;
                uint64_t watch;
                size_t n = 0;

                r = sd_bus_message_rewind(m, true);
                if (r >= 0)
                        r = sd_bus_message_read(m, "ts", &watch, &tags);
                if (r >= 0)
                        r = prediction_rows_read(m, &rows, &n);
                if (r < 0)
                        return log_error_errno(r, "Failed to read a NewPredictions2 signal: %m");
                posts += n;
                if (a) {
                        json_object *o = json_object_new_object();
                        if (!o)
                                return log_oom();
                        json_object_object_add(o, "id", json_object_new_uint64(watch));
                        json_object_object_add(o, "tags", json_object_new_string(tags));
                        json_object_object_add(o, "posts", prediction_rows_json(rows, n));
                        json_object_array_add(a, o);
                } else if (!arg_quiet) {
                        printf("\nWatch %" PRIu64 " \"%s\": %zu new post%s\n", watch, tags, n,
                               n == 1 ? "" : "s");
                        (void)prediction_rows_print(rows, n, NULL);
                }
        }
        if (a)
                puts(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PRETTY |
                                                               JSON_C_TO_STRING_NOSLASHESCAPE));
        else if (!arg_quiet && posts == 0)
                printf("No new posts above the thresholds.\n");
        return 0;
}

static int watch_run(int argc, char *argv[], sd_bus *bus)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        Heard heard = {};
        uint64_t id = 0;
        int r, k;

        if (argc > 3) {
                log_error("\"fluffctl watch run\" takes at most one watch id.");
                return VERB_USAGE_ERROR;
        }
        if (argc == 3) {
                r = parse_watch_id(argv[2], &id);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_new_method_call(bus, &call, FLUFF_BUS_NAME, FLUFF_BUS_PATH,
                                           FLUFF_BUS_MANAGER_IFACE, "RunWatches");
        if (r >= 0)
                r = sd_bus_message_open_container(call, 'a', "{sv}");
        if (r >= 0 && id > 0)
                r = sd_bus_message_append(call, "{sv}", "watch", "t", id);
        if (r >= 0)
                r = sd_bus_message_close_container(call);
        if (r < 0)
                return log_error_errno(r, "Failed to build the RunWatches call: %m");
        /* The posts come as NewPredictions2 (the rows with their explanations)
         * while the job runs: listen first. */
        if (!arg_no_wait) {
                r = sd_bus_match_signal(bus, &slot, FLUFF_BUS_NAME, FLUFF_BUS_PATH, FLUFF_BUS_MANAGER_IFACE,
                                        "NewPredictions2", on_new_predictions, &heard);
                if (r < 0)
                        return log_error_errno(r, "Failed to listen for new predictions: %m");
        }
        /* With --json, standard output carries the posts alone. */
        bool quiet = arg_quiet;
        if (arg_json && !arg_no_wait)
                arg_quiet = true;
        r = job_call_message_and_wait(bus, call, "run the watches");
        arg_quiet = quiet;
        slot = sd_bus_slot_unref(slot);
        if (!arg_no_wait) {
                k = print_heard(&heard);
                if (r >= 0)
                        r = k;
        }
        heard_done(&heard);
        /* Nothing a timer can do anything about until the user acts: the
         * error above said what; EX_TEMPFAIL lets fluff-watch.service count
         * it as success (SuccessExitStatus=75) instead of failing each hour. */
        if (r == -ENOKEY || r == -ENOMEDIUM || r == -EBUSY)
                return VERB_TEMPFAIL;
        return r;
}

int verb_watch(int argc, char *argv[], sd_bus *bus)
{
        if (streq(argv[1], "add"))
                return watch_add(argc, argv, bus);
        if (streq(argv[1], "remove"))
                return watch_remove(argc, argv, bus);
        if (streq(argv[1], "list"))
                return watch_list(argc, argv, bus);
        if (streq(argv[1], "run"))
                return watch_run(argc, argv, bus);
        log_error("Unknown watch command \"%.*s\": use add, list, remove or run.",
                  (int)utf8_prefix_len(argv[1], 64), argv[1]);
        return VERB_USAGE_ERROR;
}
