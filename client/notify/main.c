/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <getopt.h>
#include <signal.h>

#include "bus-util.h"
#include "notify.h"

static void help(void)
{
        printf("%s [OPTIONS...]\n\n"
               "Show Fluff's new predictions as desktop notifications with Like and\n"
               "Dislike buttons. Runs until the session ends.\n\n"
               "A watch run (\"fluffctl watch run\", or fluff-watch.timer) that finds new\n"
               "posts shows one notification per post: Like and Dislike vote, a click\n"
               "opens the post. More than %d posts at once show as one notification;\n"
               "a click or \"Show each\" unfolds it into one per post.\n\n"
               "  -h --help        Show this help\n"
               "     --version     Show the version\n\n"
               "FLUFF_LOG_LEVEL=debug shows what it does.\n",
               program_invocation_short_name, NOTIFY_GROUP_OVER);
}

static int parse_argv(int argc, char *argv[])
{
        enum { ARG_VERSION = 0x100 };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, ARG_VERSION},
                {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("fluff-notify %s\n", FLUFF_VERSION);
                        return 0;
                case '?':
                        return -EINVAL;
                default:
                        abort();
                }
        if (optind < argc)
                return log_error_errno(EINVAL, "Unexpected argument \"%s\".", argv[optind]);
        return 1;
}

int notify_add_match(Context *c, const char *match, sd_bus_message_handler_t callback)
{
        int r;

        r = sd_bus_add_match_async(c->bus, NULL, match, callback, NULL, c);
        if (r < 0)
                return log_error_errno(r, "Failed to subscribe to \"%s\": %m", match);
        return 0;
}

static int on_name_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        OwnerTracker *t = userdata;
        const char *name, *old_owner, *new_owner;

        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0 || !streq(name, t->name))
                return 0;
        t->on_change(t->context, new_owner);
        return 0;
}

static int on_get_name_owner(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
        OwnerTracker *t = userdata;
        const char *owner;

        /* No owner (NameHasNoOwner) is the usual answer while it is not running. */
        if (sd_bus_message_is_method_error(reply, NULL) || sd_bus_message_read(reply, "s", &owner) < 0)
                return 0;
        t->on_change(t->context, owner);
        return 0;
}

int notify_track_owner(Context *c, const char *name, void (*on_change)(Context *c, const char *owner))
{
        _cleanup_free_ char *match = NULL;
        OwnerTracker *t;
        int r;

        assert(c->n_trackers < ELEMENTSOF(c->trackers));
        t = &c->trackers[c->n_trackers++];
        *t = (OwnerTracker){.context = c, .name = name, .on_change = on_change};
        if (asprintf(&match,
                     "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
                     "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='%s'",
                     name) < 0)
                return log_oom();
        r = sd_bus_add_match_async(c->bus, NULL, match, on_name_owner_changed, NULL, t);
        if (r < 0)
                return log_error_errno(r, "Failed to follow the owner of %s: %m", name);
        /* Asked after the match is in place, so no change falls between the two. */
        r = sd_bus_call_method_async(c->bus, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                     "org.freedesktop.DBus", "GetNameOwner", on_get_name_owner, t, "s",
                                     name);
        if (r < 0)
                return log_error_errno(r, "Failed to ask who owns %s: %m", name);
        return 0;
}

static void context_done(Context *c)
{
        shown_clear(c);
        for (size_t i = 0; i < c->n_queue; i++)
                batch_free(c->queue[i]);
        c->n_queue = 0;
        free(c->fluffd_owner);
        free(c->server_owner);
        c->caps_slot = sd_bus_slot_unref(c->caps_slot);
        c->bus = sd_bus_flush_close_unref(c->bus);
        c->event = sd_event_unref(c->event);
}

static int run(void)
{
        _cleanup_(context_done) Context c = {};
        sigset_t mask;
        int r;

        /* SIGTERM/SIGINT end the loop; SIGCHLD tells of xdg-open's end. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(errno, "Failed to block signals: %m");

        r = sd_event_default(&c.event);
        if (r < 0)
                return log_error_errno(r, "Failed to create the event loop: %m");
        r = sd_event_add_signal(c.event, NULL, SIGTERM, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(c.event, NULL, SIGINT, NULL, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to watch SIGTERM and SIGINT: %m");

        r = bus_connect_user(&c.bus);
        if (r < 0)
                return r;
        r = sd_bus_attach_event(c.bus, c.event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to attach the bus to the event loop: %m");
        /* The session is over when its bus goes away. */
        r = sd_bus_set_exit_on_disconnect(c.bus, true);
        if (r < 0)
                return log_error_errno(r, "Failed to exit with the bus: %m");

        r = fluffd_init(&c);
        if (r < 0)
                return r;
        r = server_init(&c);
        if (r < 0)
                return r;

        r = sd_event_loop(c.event);
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        return 0;
}

int main(int argc, char *argv[])
{
        log_set_prefix("fluff-notify");
        log_parse_environment();
        int r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? 2 : 0;
        return run() < 0 ? 1 : 0;
}
