/* SPDX-License-Identifier: MIT */
/* A recording org.freedesktop.Notifications server for tests: it shows
 * nothing, writes every call it gets as one JSON line to a file, and lets the
 * test act as the user through its own interface:
 *
 *   notify-standin --log FILE [--no-actions] [--no-markup]
 *
 *   busctl --user call org.freedesktop.Notifications /org/freedesktop/Notifications \
 *          io.github.fluffml.Test.Notifications Invoke us ID KEY
 *
 * Invoke emits ActivationToken(ID, "fluff-test-token-ID"), ActionInvoked(ID, KEY) and then, as servers do
 * for a notification that is not resident, NotificationClosed(ID, 2). It fails for an id that is not on
 * screen, so a test cannot click a notification that was never shown or already closed. Dismiss(u ID) closes
 * one as the user would (NotificationClosed(ID, 2)); Emit(u ID, s KEY) sends ActionInvoked for any id, open
 * or not, as a racing or broken server might. "READY" on stdout once the name is ours. */
#include <getopt.h>
#include <json-c/json.h>
#include <signal.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "fluff/util.h"

#define PATH "/org/freedesktop/Notifications"
#define IFACE "org.freedesktop.Notifications"
#define TEST_IFACE "io.github.fluffml.Test.Notifications"
#define MAX_OPEN 1024

typedef struct Server {
        FILE *log;
        bool actions, markup;
        uint32_t next_id;
        uint32_t open[MAX_OPEN];
        size_t n_open;
} Server;

static bool is_open(Server *s, uint32_t id)
{
        for (size_t i = 0; i < s->n_open; i++)
                if (s->open[i] == id)
                        return true;
        return false;
}

static void forget(Server *s, uint32_t id)
{
        for (size_t i = 0; i < s->n_open; i++)
                if (s->open[i] == id) {
                        s->open[i] = s->open[--s->n_open];
                        return;
                }
}

static int record(Server *s, json_object *o)
{
        const char *line = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);

        if (fprintf(s->log, "%s\n", line) < 0 || fflush(s->log) != 0)
                return -EIO;
        return 0;
}

static int read_hint(sd_bus_message *m, json_object *hints)
{
        const char *key, *contents;
        json_object *v = NULL;
        int r;

        r = sd_bus_message_read(m, "s", &key);
        if (r < 0)
                return r;
        r = sd_bus_message_peek_type(m, NULL, &contents);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(m, 'v', contents);
        if (r < 0)
                return r;
        if (streq(contents, "s")) {
                const char *str;
                r = sd_bus_message_read_basic(m, 's', &str);
                v = r >= 0 ? json_object_new_string(str) : NULL;
        } else if (streq(contents, "b")) {
                int b;
                r = sd_bus_message_read_basic(m, 'b', &b);
                v = r >= 0 ? json_object_new_boolean(b) : NULL;
        } else if (streq(contents, "y")) {
                uint8_t y;
                r = sd_bus_message_read_basic(m, 'y', &y);
                v = r >= 0 ? json_object_new_int(y) : NULL;
        } else if (streq(contents, "i") || streq(contents, "u")) {
                int32_t i;
                r = sd_bus_message_read_basic(m, contents[0], &i);
                v = r >= 0 ? json_object_new_int64(contents[0] == 'u' ? (int64_t)(uint32_t)i : i) : NULL;
        } else {
                /* Anything else (image-data, …) is recorded by its type. */
                r = sd_bus_message_skip(m, contents);
                v = r >= 0 ? json_object_new_string(contents) : NULL;
        }
        if (r < 0)
                return r;
        json_object_object_add(hints, key, v);
        return sd_bus_message_exit_container(m);
}

static int method_notify(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        Server *s = userdata;
        _cleanup_strv_free_ char **actions = NULL;
        const char *app, *icon, *summary, *body;
        uint32_t replaces, id;
        int32_t timeout;
        json_object *o, *a, *hints;
        int r;

        r = sd_bus_message_read(m, "susss", &app, &replaces, &icon, &summary, &body);
        if (r < 0)
                return r;
        r = sd_bus_message_read_strv(m, &actions);
        if (r < 0)
                return r;
        hints = json_object_new_object();
        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                r = read_hint(m, hints);
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        if (r >= 0)
                r = sd_bus_message_read(m, "i", &timeout);
        if (r < 0) {
                json_object_put(hints);
                return r;
        }
        /* As the spec says: replacing one still open keeps its id. */
        if (replaces != 0 && is_open(s, replaces))
                id = replaces;
        else {
                if (s->n_open == MAX_OPEN)
                        return sd_bus_error_set(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                                "Too many notifications.");
                id = s->next_id++;
                s->open[s->n_open++] = id;
        }

        o = json_object_new_object();
        a = json_object_new_array();
        for (char **p = actions; p && *p; p++)
                json_object_array_add(a, json_object_new_string(*p));
        json_object_object_add(o, "call", json_object_new_string("Notify"));
        json_object_object_add(o, "id", json_object_new_int64(id));
        json_object_object_add(o, "app_name", json_object_new_string(app));
        json_object_object_add(o, "replaces_id", json_object_new_int64(replaces));
        json_object_object_add(o, "app_icon", json_object_new_string(icon));
        json_object_object_add(o, "summary", json_object_new_string(summary));
        json_object_object_add(o, "body", json_object_new_string(body));
        json_object_object_add(o, "actions", a);
        json_object_object_add(o, "hints", hints);
        json_object_object_add(o, "expire_timeout", json_object_new_int(timeout));
        r = record(s, o);
        json_object_put(o);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(m, "u", id);
}

static int closed(sd_bus_message *m, Server *s, uint32_t id, uint32_t reason)
{
        forget(s, id);
        return sd_bus_emit_signal(sd_bus_message_get_bus(m), PATH, IFACE, "NotificationClosed", "uu", id,
                                  reason);
}

static int method_close_notification(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        Server *s = userdata;
        json_object *o;
        uint32_t id;
        int r;

        r = sd_bus_message_read(m, "u", &id);
        if (r < 0)
                return r;
        o = json_object_new_object();
        json_object_object_add(o, "call", json_object_new_string("CloseNotification"));
        json_object_object_add(o, "id", json_object_new_int64(id));
        json_object_object_add(o, "was_open", json_object_new_boolean(is_open(s, id)));
        r = record(s, o);
        json_object_put(o);
        if (r < 0)
                return r;
        if (is_open(s, id)) {
                r = closed(m, s, id, 3);
                if (r < 0)
                        return r;
        }
        return sd_bus_reply_method_return(m, NULL);
}

static int method_get_capabilities(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        Server *s = userdata;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *caps[4] = {"body"};
        size_t n = 1;
        int r;

        if (s->actions)
                caps[n++] = "actions";
        if (s->markup)
                caps[n++] = "body-markup";
        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_append_strv(reply, (char **)caps);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_get_server_information(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        return sd_bus_reply_method_return(m, "ssss", "fluff-notify-standin", "Fluff tests", FLUFF_VERSION,
                                          "1.2");
}

static int method_invoke(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        Server *s = userdata;
        const char *key;
        uint32_t id;
        int r;

        r = sd_bus_message_read(m, "us", &id, &key);
        if (r < 0)
                return r;
        if (!is_open(s, id))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Notification %u is not open.",
                                         id);
        /* As spec 1.3 servers do, a token for the window the action may raise. */
        char token[64];
        snprintf(token, sizeof(token), "fluff-test-token-%u", id);
        r = sd_bus_emit_signal(sd_bus_message_get_bus(m), PATH, IFACE, "ActivationToken", "us", id, token);
        if (r < 0)
                return r;
        r = sd_bus_emit_signal(sd_bus_message_get_bus(m), PATH, IFACE, "ActionInvoked", "us", id, key);
        if (r < 0)
                return r;
        r = closed(m, s, id, 2);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(m, NULL);
}

static const sd_bus_vtable notifications_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("Notify",
                                SD_BUS_ARGS("s", app_name, "u", replaces_id, "s", app_icon, "s", summary,
                                            "s", body, "as", actions, "a{sv}", hints, "i", expire_timeout),
                                SD_BUS_RESULT("u", id), method_notify, 0),
        SD_BUS_METHOD_WITH_ARGS("CloseNotification", SD_BUS_ARGS("u", id), SD_BUS_NO_RESULT,
                                method_close_notification, 0),
        SD_BUS_METHOD_WITH_ARGS("GetCapabilities", SD_BUS_NO_ARGS, SD_BUS_RESULT("as", capabilities),
                                method_get_capabilities, 0),
        SD_BUS_METHOD_WITH_ARGS("GetServerInformation", SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("s", name, "s", vendor, "s", version, "s", spec_version),
                                method_get_server_information, 0),
        SD_BUS_SIGNAL_WITH_ARGS("NotificationClosed", SD_BUS_ARGS("u", id, "u", reason), 0),
        SD_BUS_SIGNAL_WITH_ARGS("ActionInvoked", SD_BUS_ARGS("u", id, "s", action_key), 0),
        SD_BUS_SIGNAL_WITH_ARGS("ActivationToken", SD_BUS_ARGS("u", id, "s", activation_token), 0),
        SD_BUS_VTABLE_END,
};

static int method_dismiss(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        Server *s = userdata;
        uint32_t id;
        int r;

        r = sd_bus_message_read(m, "u", &id);
        if (r < 0)
                return r;
        if (!is_open(s, id))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Notification %u is not open.",
                                         id);
        r = closed(m, s, id, 2);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(m, NULL);
}

static int method_emit(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        const char *key;
        uint32_t id;
        int r;

        r = sd_bus_message_read(m, "us", &id, &key);
        if (r < 0)
                return r;
        r = sd_bus_emit_signal(sd_bus_message_get_bus(m), PATH, IFACE, "ActionInvoked", "us", id, key);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(m, NULL);
}

static const sd_bus_vtable test_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("Invoke", SD_BUS_ARGS("u", id, "s", action_key), SD_BUS_NO_RESULT,
                                method_invoke, 0),
        SD_BUS_METHOD_WITH_ARGS("Dismiss", SD_BUS_ARGS("u", id), SD_BUS_NO_RESULT, method_dismiss, 0),
        SD_BUS_METHOD_WITH_ARGS("Emit", SD_BUS_ARGS("u", id, "s", action_key), SD_BUS_NO_RESULT, method_emit,
                                0),
        SD_BUS_VTABLE_END,
};

int main(int argc, char *argv[])
{
        static const struct option options[] = {
                {"log", required_argument, NULL, 'l'},
                {"no-actions", no_argument, NULL, 'A'},
                {"no-markup", no_argument, NULL, 'M'},
                {},
        };
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        Server s = {.actions = true, .markup = true, .next_id = 1};
        const char *log_path = NULL;
        sigset_t mask;
        int c, r;

        log_set_prefix("notify-standin");
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'l':
                        log_path = optarg;
                        break;
                case 'A':
                        s.actions = false;
                        break;
                case 'M':
                        s.markup = false;
                        break;
                default:
                        return 2;
                }
        if (!log_path || optind < argc) {
                log_error("Usage: %s --log FILE [--no-actions] [--no-markup]", argv[0]);
                return 2;
        }
        s.log = fopen(log_path, "ae");
        if (!s.log)
                return log_error_errno(errno, "Failed to open \"%s\": %m", log_path), 1;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        (void)sigprocmask(SIG_BLOCK, &mask, NULL);
        r = sd_event_default(&event);
        if (r >= 0)
                r = sd_event_add_signal(event, NULL, SIGTERM, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(event, NULL, SIGINT, NULL, NULL);
        if (r >= 0)
                r = sd_bus_open_user(&bus);
        if (r >= 0)
                r = sd_bus_add_object_vtable(bus, NULL, PATH, IFACE, notifications_vtable, &s);
        if (r >= 0)
                r = sd_bus_add_object_vtable(bus, NULL, PATH, TEST_IFACE, test_vtable, &s);
        if (r >= 0)
                r = sd_bus_request_name(bus, IFACE, 0);
        if (r >= 0)
                r = sd_bus_attach_event(bus, event, 0);
        if (r >= 0)
                r = sd_bus_set_exit_on_disconnect(bus, true);
        if (r < 0) {
                log_error_errno(r, "Failed to set up: %m");
                fclose(s.log);
                return 1;
        }
        printf("READY\n");
        fflush(stdout);
        r = sd_event_loop(event);
        fclose(s.log);
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m"), 1;
        return 0;
}
