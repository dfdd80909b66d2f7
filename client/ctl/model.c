/* SPDX-License-Identifier: MIT */
/* "model list|show|use|remove": the model history; "refresh": what
 * fluff-watch.service runs (sync, watches, an automatic retraining when
 * due); and their part of "status". */
#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>
#include <time.h>

#include "bus-util.h"
#include "ctl.h"
#include "fluff/bus.h"
#include "output.h"

static void format_time(uint64_t usec, char *buf, size_t size)
{
        struct tm tm;
        time_t t = (time_t)(usec / USEC_PER_SEC);
        if (usec == 0 || !localtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M", &tm) == 0)
                (void)snprintf(buf, size, "-");
}

typedef struct ModelRow {
        uint64_t id, created, installed;
        const char *state, *trigger, *towers, *backbone, *reason, *info; /* borrowed from the reply */
        uint64_t n_labels, n_pos, n_neg;
        double auc;
} ModelRow;

static int read_models(sd_bus *bus, sd_bus_message **ret_reply, ModelRow **ret, size_t *ret_n)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ ModelRow *rows = NULL;
        size_t n = 0;
        int r;

        r = sd_bus_call_method(bus, FLUFF_BUS_NAME, FLUFF_BUS_PATH, FLUFF_BUS_MANAGER_IFACE, "ListModels",
                               &error, &reply, "");
        if (r < 0)
                return bus_log_call_error("list the models", &error, r);
        r = sd_bus_message_enter_container(reply, 'a', "(tttsssstttdss)");
        while (r >= 0) {
                ModelRow x;
                r = sd_bus_message_read(reply, "(tttsssstttdss)", &x.id, &x.created, &x.installed, &x.state,
                                        &x.trigger, &x.towers, &x.backbone, &x.n_labels, &x.n_pos, &x.n_neg,
                                        &x.auc, &x.reason, &x.info);
                if (r <= 0)
                        break;
                ModelRow *b = reallocarray(rows, n + 1, sizeof *rows);
                if (!b)
                        return log_oom();
                rows = b;
                rows[n++] = x;
        }
        if (r < 0)
                return log_error_errno(r, "Failed to read the model list: %m");
        *ret_reply = TAKE_PTR(reply);
        *ret = TAKE_PTR(rows);
        *ret_n = n;
        return 0;
}

static json_object *model_json(const ModelRow *x)
{
        json_object *o = json_object_new_object();
        json_object_object_add(o, "id", json_object_new_int64((int64_t)x->id));
        json_object_object_add(o, "state", json_object_new_string(x->state));
        json_object_object_add(o, "created_usec", json_object_new_int64((int64_t)x->created));
        json_object_object_add(o, "installed_usec",
                               x->installed ? json_object_new_int64((int64_t)x->installed) : NULL);
        json_object_object_add(o, "trigger", json_object_new_string(x->trigger));
        json_object_object_add(o, "towers", json_object_new_string(x->towers));
        json_object_object_add(o, "backbone",
                               isempty(x->backbone) ? NULL : json_object_new_string(x->backbone));
        json_object_object_add(o, "labels", json_object_new_int64((int64_t)x->n_labels));
        json_object_object_add(o, "liked", json_object_new_int64((int64_t)x->n_pos));
        json_object_object_add(o, "disliked", json_object_new_int64((int64_t)x->n_neg));
        json_object_object_add(o, "roc_auc", isfinite(x->auc) ? json_object_new_double(x->auc) : NULL);
        json_object_object_add(o, "reason", isempty(x->reason) ? NULL : json_object_new_string(x->reason));
        json_object_object_add(o, "info", json_tokener_parse(x->info));
        return o;
}

int newest_model_info(sd_bus *bus, char **ret)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ ModelRow *rows = NULL;
        size_t n;
        int r = read_models(bus, &reply, &rows, &n);
        if (r < 0)
                return r;
        if (n == 0)
                return log_error_errno(-ENOENT, "The model history is empty.");
        *ret = strdup(rows[0].info);
        return *ret ? 0 : log_oom();
}

static int model_list(sd_bus *bus)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ ModelRow *rows = NULL;
        size_t n;
        int r = read_models(bus, &reply, &rows, &n);
        if (r < 0)
                return r;
        if (arg_json) {
                json_object *a = json_object_new_array();
                for (size_t i = 0; i < n; i++)
                        json_object_array_add(a, model_json(&rows[i]));
                json_print(a);
                json_object_put(a);
                return 0;
        }
        if (n == 0) {
                if (!arg_quiet)
                        printf("No models yet; \"fluffctl train\" makes the first.\n");
                return 0;
        }
        printf("%4s  %-9s  %-16s  %-10s  %-6s  %6s  %7s  %s\n", "ID", "STATE", "TRAINED", "TRIGGER",
               "TOWERS", "LABELS", "ROC AUC", "NOTE");
        for (size_t i = 0; i < n; i++) {
                char when[32], auc[16];
                format_time(rows[i].created, when, sizeof when);
                if (isfinite(rows[i].auc))
                        (void)snprintf(auc, sizeof auc, "%.3f", rows[i].auc);
                else
                        (void)snprintf(auc, sizeof auc, "-");
                printf("%4" PRIu64 "  %-9s  %-16s  %-10s  %-6s  %6" PRIu64 "  %7s  %s\n", rows[i].id,
                       rows[i].state, when, rows[i].trigger, rows[i].towers, rows[i].n_labels, auc,
                       rows[i].reason);
        }
        return 0;
}

static int parse_id(const char *s, uint64_t *ret)
{
        if (safe_atou64(s, ret) < 0 || *ret == 0) {
                log_error("\"%s\" is not a model id; \"fluffctl model list\" shows them.", s);
                return VERB_USAGE_ERROR;
        }
        return 0;
}

static int model_show(sd_bus *bus, const char *arg)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ ModelRow *rows = NULL;
        uint64_t id;
        size_t n;
        int r = parse_id(arg, &id);
        if (r < 0)
                return r;
        r = read_models(bus, &reply, &rows, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                if (rows[i].id != id)
                        continue;
                json_object *o = model_json(&rows[i]);
                if (arg_json) {
                        json_print(o);
                        json_object_put(o);
                        return 0;
                }
                char when[32], installed[32];
                format_time(rows[i].created, when, sizeof when);
                format_time(rows[i].installed, installed, sizeof installed);
                printf("Model %" PRIu64 " (%s)\n", id, rows[i].state);
                printf("  trained:    %s (%s)\n", when, rows[i].trigger);
                if (rows[i].installed)
                        printf("  installed:  %s\n", installed);
                printf("  data:       %" PRIu64 " labels (%" PRIu64 " liked, %" PRIu64 " disliked)\n",
                       rows[i].n_labels, rows[i].n_pos, rows[i].n_neg);
                printf("  towers:     %s\n", rows[i].towers);
                printf("  backbone:   %s\n", isempty(rows[i].backbone) ? "none" : rows[i].backbone);
                if (isfinite(rows[i].auc))
                        printf("  ROC AUC:    %.3f\n", rows[i].auc);
                if (!isempty(rows[i].reason))
                        printf("  kept aside: %s\n", rows[i].reason);
                json_object *info = json_object_object_get(o, "info");
                if (info)
                        printf("  details:    %s\n",
                               json_object_to_json_string_ext(info, JSON_C_TO_STRING_PLAIN |
                                                                            JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(o);
                return 0;
        }
        log_error("There is no model %" PRIu64 " in the history; \"fluffctl model list\" shows them.", id);
        return -ENOENT;
}

static int model_call(sd_bus *bus, const char *method, const char *arg, const char *what, const char *done)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        uint64_t id;
        int r = parse_id(arg, &id);
        if (r < 0)
                return r;
        r = sd_bus_call_method(bus, FLUFF_BUS_NAME, FLUFF_BUS_PATH, FLUFF_BUS_MANAGER_IFACE, method, &error,
                               NULL, "t", id);
        if (r < 0)
                return bus_log_call_error(what, &error, r);
        if (!arg_quiet)
                printf("%s model %" PRIu64 ".\n", done, id);
        return 0;
}

int verb_model(int argc, char *argv[], sd_bus *bus)
{
        if (streq(argv[1], "list") && argc == 2)
                return model_list(bus);
        if (argc != 3)
                goto usage;
        if (streq(argv[1], "show"))
                return model_show(bus, argv[2]);
        if (streq(argv[1], "use"))
                return model_call(bus, "UseModel", argv[2], "install the model", "Installed");
        if (streq(argv[1], "remove"))
                return model_call(bus, "RemoveModel", argv[2], "remove the model", "Removed");
usage:
        log_error("Use \"model list\", \"model show ID\", \"model use ID\" or \"model remove ID\".");
        return VERB_USAGE_ERROR;
}

/* ---- refresh ---- */

static int refresh_info(sd_bus *bus, json_object **ret)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *s;
        int r;

        r = sd_bus_call_method(bus, FLUFF_BUS_NAME, FLUFF_BUS_PATH, FLUFF_BUS_MANAGER_IFACE, "RefreshInfo",
                               &error, &reply, "");
        if (r < 0)
                return bus_log_call_error("read what ran by itself", &error, r);
        r = sd_bus_message_read(reply, "s", &s);
        if (r < 0)
                return log_error_errno(r, "Failed to read RefreshInfo: %m");
        *ret = json_tokener_parse(s);
        if (!*ret)
                return log_error_errno(-EBADMSG, "RefreshInfo is not JSON.");
        return 0;
}

static bool info_bool(json_object *o, const char *key)
{
        json_object *v = json_object_object_get(o, key);
        return v && json_object_get_boolean(v);
}

int verb_refresh(int argc, char *argv[], sd_bus *bus)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL, *reply = NULL;
        json_object *info = NULL;
        int r, k;

        r = refresh_info(bus, &info);
        if (r < 0)
                return r;
        bool auto_sync = info_bool(info, "auto_sync"), auto_retrain = info_bool(info, "auto_retrain");
        json_object_put(info);

        if (auto_sync) {
                r = sd_bus_message_new_method_call(bus, &call, FLUFF_BUS_NAME, FLUFF_BUS_PATH,
                                                   FLUFF_BUS_MANAGER_IFACE, "Sync");
                if (r >= 0)
                        r = sd_bus_message_append(call, "a{sv}", 2, "mode", "s", "auto", "automatic", "b",
                                                  1);
                if (r < 0)
                        return log_error_errno(r, "Failed to build the Sync call: %m");
                bool no_wait = arg_no_wait;
                arg_no_wait = false; /* the watches need what the sync brings */
                r = job_call_message_and_wait(bus, call, "sync");
                arg_no_wait = no_wait;
                if (r == -ENOKEY || r == -EBUSY)
                        return VERB_TEMPFAIL;
                /* a failed sync (the site down) still leaves the watches worth running */
        }

        /* following a job leaves a connection closed: each step gets its own */
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *watch_bus = NULL, *train_bus = NULL;
        char *watch_argv[] = {(char *)"watch", (char *)"run", NULL};
        r = bus_connect_user(&watch_bus);
        if (r < 0)
                return r;
        r = verb_watch(2, watch_argv, watch_bus);

        if (!auto_retrain)
                return r;
        k = bus_connect_user(&train_bus);
        if (k < 0)
                return k;
        k = sd_bus_call_method(train_bus, FLUFF_BUS_NAME, FLUFF_BUS_PATH, FLUFF_BUS_MANAGER_IFACE,
                               "AutoRetrain", &error, &reply, "a{sv}", 0);
        if (k < 0)
                return bus_log_call_error("ask for an automatic retraining", &error, k);
        const char *path, *reason;
        k = sd_bus_message_read(reply, "os", &path, &reason);
        if (k < 0)
                return log_error_errno(k, "Failed to read the reply to AutoRetrain: %m");
        if (!arg_quiet || !streq(path, "/"))
                /* the training goes on in fluffd; the timer's run ends here */
                printf(streq(path, "/") ? "No retraining: %s.\n" : "Retraining in the background: %s.\n",
                       reason);
        return r;
}

/* ---- status ---- */

static void print_when(const char *label, json_object *o, const char *key)
{
        json_object *v = json_object_object_get(o, key);
        char when[32];
        format_time(v ? (uint64_t)json_object_get_int64(v) : 0, when, sizeof when);
        printf("%s%s", label, when);
}

static const char *json_str(json_object *o, const char *key)
{
        json_object *v = json_object_object_get(o, key);
        return v ? json_object_get_string(v) : NULL;
}

void refresh_status_print(sd_bus *bus)
{
        json_object *info = NULL;
        if (refresh_info(bus, &info) < 0)
                return;
        json_object *sync = json_object_object_get(info, "sync"),
                    *train = json_object_object_get(info, "train"),
                    *retrain = json_object_object_get(info, "retrain"),
                    *feedback = json_object_object_get(info, "feedback");

        print_when("   Last sync: ", sync, "last_usec");
        if (json_str(sync, "mode"))
                printf(" (%s, %s, %s)", json_str(sync, "mode"), strna(json_str(sync, "trigger")),
                       strna(json_str(sync, "result")));
        if (!info_bool(info, "auto_sync"))
                printf("; the timer does not sync (auto_sync = false)");
        else {
                print_when("; next full sync at the first timer run after ", sync, "next_full_usec");
        }
        printf("\n");
        print_when("Last trained: ", train, "last_usec");
        if (json_str(train, "trigger"))
                printf(" (%s, %s)", json_str(train, "trigger"), strna(json_str(train, "result")));
        printf("\n");
        int64_t changed = json_object_get_int64(json_object_object_get(retrain, "changed")),
                need = json_object_get_int64(json_object_object_get(retrain, "need_changes")),
                frac = json_object_get_int64(json_object_object_get(retrain, "need_fraction"));
        if (!info_bool(info, "auto_retrain"))
                printf("  Retraining: by hand only (auto_retrain = false); %" PRIi64 " labels changed\n",
                       changed);
        else
                printf("  Retraining: %s; %" PRIi64
                       " labels changed since the installed model, it retrains at %" PRIi64 "%s\n",
                       info_bool(retrain, "due") ? "due at the next timer run" : "not due", changed,
                       frac > 0 ? MIN(need, frac) : need,
                       info_bool(retrain, "interrupted") ? " (the last automatic one was stopped)" : "");
        const char *msg = json_str(train, "message");
        /* why the last model was kept aside or installed: what was weighed (the end of the message) */
        if (msg && strstr(msg, "Kept aside"))
                printf("              %s\n", strstr(msg, "Kept aside"));
        else if (msg && strstr(msg, "Weighed "))
                printf("              %s\n", strstr(msg, "Weighed "));
        json_object *p = json_object_object_get(feedback, "precision");
        int64_t liked = json_object_get_int64(json_object_object_get(feedback, "liked")),
                disliked = json_object_get_int64(json_object_object_get(feedback, "disliked")),
                announced = json_object_get_int64(json_object_object_get(feedback, "announced"));
        if (p)
                printf("   Announced: %.0f%% liked over the last 30 days (%" PRIi64 " liked, %" PRIi64
                       " disliked, %" PRIi64 " not voted on of %" PRIi64 ")\n",
                       100.0 * json_object_get_double(p), liked, disliked, announced - liked - disliked,
                       announced);
        else
                printf("   Announced: %" PRIi64 " in the last 30 days, none voted on yet\n", announced);
        json_object_put(info);
}

void refresh_status_json(sd_bus *bus, struct json_object *o)
{
        json_object *info = NULL;
        if (refresh_info(bus, &info) >= 0)
                json_object_object_add(o, "refresh", info);
}
