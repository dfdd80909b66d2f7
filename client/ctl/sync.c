/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <signal.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "bus-util.h"
#include "ctl.h"
#include "fluff/bus.h"
#include "progress.h"

typedef struct Wait {
        sd_bus *bus;
        sd_event *event;
        JobInfo job;
        Progress *progress;
        unsigned interrupts;
        bool daemon_gone;
        char title[128]; /* of the line on screen; the final Message is a summary, not a title */
} Wait;

static void wait_show(Wait *w)
{
        /* a finished job's counts are reset and its message is a summary: the
         * line keeps what it showed last, and the stop adds ", done." */
        if (job_info_finished(&w->job))
                return;
        const char *t = isempty(w->job.message) ? w->job.phase : w->job.message;
        snprintf(w->title, sizeof(w->title), "%s", isempty(t) ? "Waiting" : t);
        progress_update(w->progress, w->title, w->job.done, w->job.total);
}

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        Wait *w = userdata;
        const char *iface;
        int r;

        if (!streq(strempty(sd_bus_message_get_path(m)), w->job.path))
                return 0;
        r = sd_bus_message_read(m, "s", &iface);
        if (r < 0 || !streq(iface, FLUFF_BUS_JOB_IFACE))
                return 0;
        r = bus_message_map_properties(m, job_info_map, &w->job);
        if (r < 0)
                return 0;
        wait_show(w);
        if (job_info_finished(&w->job))
                return sd_event_exit(w->event, 0);
        return 0;
}

static int on_finished(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        Wait *w = userdata;
        const char *state, *name, *message;

        if (!streq(strempty(sd_bus_message_get_path(m)), w->job.path))
                return 0;
        if (sd_bus_message_read(m, "sss", &state, &name, &message) < 0)
                return 0;
        free(w->job.state);
        w->job.state = strdup(state);
        free(w->job.error_name);
        w->job.error_name = strdup(name);
        free(w->job.error);
        w->job.error = strdup(message);
        return sd_event_exit(w->event, 0);
}

static int on_name_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        Wait *w = userdata;
        const char *name, *old, *new;

        if (sd_bus_message_read(m, "sss", &name, &old, &new) < 0)
                return 0;
        if (streq(name, FLUFF_BUS_NAME) && isempty(new)) {
                w->daemon_gone = true;
                return sd_event_exit(w->event, 0);
        }
        return 0;
}

static int on_sigint(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        Wait *w = userdata;

        arg_interrupted = 1;
        if (++w->interrupts > 1) {
                progress_stop(w->progress, "interrupted");
                log_error("Leaving without waiting; the job is being cancelled.");
                return sd_event_exit(w->event, -EINTR);
        }
        progress_stop(w->progress, "cancelling");
        if (!arg_quiet)
                fprintf(stderr, "Cancelling job %" PRIu64 " (press Ctrl-C again to leave now)...\n",
                        w->job.id);
        (void)sd_bus_call_method_async(w->bus, NULL, FLUFF_BUS_NAME, w->job.path, FLUFF_BUS_JOB_IFACE,
                                       "Cancel", NULL, NULL, NULL);
        return 0;
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata)
{
        Wait *w = userdata;
        progress_tick(w->progress);
        return sd_event_source_set_time_relative(s, 500 * USEC_PER_MSEC);
}

/* Follows the job until it finishes. Returns 0 when it succeeded. */
static int wait_for_job(Wait *w)
{
        _cleanup_(sd_event_source_unrefp) sd_event_source *sigint = NULL, *tick = NULL;
        int r;

        r = sd_event_default(&w->event);
        if (r < 0)
                return log_error_errno(r, "Failed to create an event loop: %m");
        r = sd_bus_attach_event(w->bus, w->event, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to attach the bus: %m");

        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        r = sd_event_add_signal(w->event, &sigint, SIGINT, on_sigint, w);
        if (r < 0)
                return log_error_errno(r, "Failed to catch Ctrl-C: %m");
        r = sd_event_add_time_relative(w->event, &tick, CLOCK_MONOTONIC, 500 * USEC_PER_MSEC, 0, on_tick, w);
        if (r >= 0)
                r = sd_event_source_set_enabled(tick, SD_EVENT_ON);
        if (r < 0)
                return log_error_errno(r, "Failed to start the progress timer: %m");

        /* The job may have ended between the call and the matches. */
        r = bus_get_properties(w->bus, w->job.path, FLUFF_BUS_JOB_IFACE, job_info_map, &w->job, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to read the job: %m");
        if (!job_info_finished(&w->job)) {
                wait_show(w);
                r = sd_event_loop(w->event);
                if (r < 0)
                        return r;
        }
        (void)sd_event_exit(w->event, 0);

        if (w->daemon_gone) {
                progress_stop(w->progress, "failed");
                return log_error_errno(ECONNRESET, "fluffd stopped before the job finished.");
        }
        if (streq(strempty(w->job.state), "done")) {
                progress_stop(w->progress, "done");
                return 0;
        }
        if (streq(strempty(w->job.state), "cancelled")) {
                progress_stop(w->progress, "cancelled");
                return log_error_errno(ECANCELED, "The %s job was cancelled.", strempty(w->job.kind));
        }
        progress_stop(w->progress, "failed");
        return log_error_errno(EIO, "The %s job failed: %s", strempty(w->job.kind),
                               isempty(w->job.error) ? "no reason given" : w->job.error);
}

int job_call_and_wait(sd_bus *bus, const char *method, const char *what, const char *path_arg)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &call, FLUFF_BUS_NAME, FLUFF_BUS_PATH,
                                           FLUFF_BUS_MANAGER_IFACE, method);
        if (r >= 0)
                r = path_arg ? sd_bus_message_append(call, "s", path_arg)
                             : sd_bus_message_append(call, "a{sv}", 0);
        if (r < 0)
                return log_error_errno(r, "Failed to build the %s call: %m", method);
        return job_call_message_and_wait(bus, call, what);
}

int job_call_message_and_wait(sd_bus *bus, sd_bus_message *call, const char *what)
{
        const char *method = sd_bus_message_get_member(call);
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *s1 = NULL, *s2 = NULL, *s3 = NULL;
        Wait w = {.bus = bus};
        const char *path;
        int r;

        if (!arg_no_wait) {
                /* Listen before asking, so no progress or end is missed. */
                r = sd_bus_match_signal(bus, &s1, FLUFF_BUS_NAME, NULL, "org.freedesktop.DBus.Properties",
                                        "PropertiesChanged", on_properties_changed, &w);
                if (r >= 0)
                        r = sd_bus_match_signal(bus, &s2, FLUFF_BUS_NAME, NULL, FLUFF_BUS_JOB_IFACE,
                                                "Finished", on_finished, &w);
                if (r >= 0)
                        r = sd_bus_match_signal(bus, &s3, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                                "org.freedesktop.DBus", "NameOwnerChanged",
                                                on_name_owner_changed, &w);
                if (r < 0)
                        return log_error_errno(r, "Failed to listen for the job's progress: %m");
        }

        r = sd_bus_call(bus, call, 0, &error, &reply);
        if (r < 0)
                return bus_log_call_error(what, &error, r);
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return log_error_errno(r, "Failed to read the reply to %s: %m", method);

        w.job.path = strdup(path);
        if (!w.job.path)
                return log_oom();
        if (arg_no_wait) {
                /* The job's number, as "jobs" and "cancel" use it; never the bus path. */
                r = bus_get_properties(bus, path, FLUFF_BUS_JOB_IFACE, job_info_map, &w.job, NULL);
                if (r < 0)
                        log_debug_errno(r, "Failed to read the new job, ignoring: %m");
                if (arg_json)
                        job_info_print_json(&w.job);
                else if (!arg_quiet)
                        printf("Started %s job %" PRIu64
                               "; \"fluffctl jobs\" follows it, \"fluffctl cancel %" PRIu64 "\" stops it.\n",
                               strempty(w.job.kind), w.job.id, w.job.id);
                job_info_done(&w.job);
                return 0;
        }

        w.progress = progress_new(arg_quiet);
        r = wait_for_job(&w);
        if (arg_json && !arg_quiet) {
                /* a fresh read: the job's last properties, id and times included */
                (void)bus_get_properties(bus, w.job.path, FLUFF_BUS_JOB_IFACE, job_info_map, &w.job, NULL);
                job_info_print_json(&w.job);
        } else if (r >= 0 && !arg_quiet && !isempty(w.job.message))
                printf("%s\n", w.job.message);
        progress_free(w.progress);
        job_info_done(&w.job);
        s1 = sd_bus_slot_unref(s1);
        s2 = sd_bus_slot_unref(s2);
        s3 = sd_bus_slot_unref(s3);
        (void)sd_bus_detach_event(bus);
        sd_event_unref(w.event);
        return r;
}

int verb_sync(int argc, char *argv[], sd_bus *bus)
{
        return job_call_and_wait(bus, "Sync", "start a sync", NULL);
}
