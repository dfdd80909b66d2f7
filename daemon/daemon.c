/* SPDX-License-Identifier: MIT */
#include <signal.h>
#include <systemd/sd-daemon.h>

#include "bus/job.h"
#include "bus/manager.h"
#include "daemon.h"
#include "fluff/bus.h"
#include "jobs/job.h"
#include "work/work.h"

#define DEFAULT_SITE "https://e621.net"

int daemon_new(Daemon **ret)
{
        _cleanup_(daemon_freep) Daemon *d = NULL;
        const char *site;
        int r;

        d = calloc(1, sizeof(Daemon));
        if (!d)
                return log_oom();

        site = getenv("FLUFF_SITE");
        d->site = strdup(isempty(site) ? DEFAULT_SITE : site);
        if (!d->site)
                return log_oom();

        r = sd_event_default(&d->event);
        if (r < 0)
                return log_error_errno(r, "Failed to create the event loop: %m");

        /* Blocked before any thread exists, so only the loop sees them. */
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(errno, "Failed to block SIGTERM and SIGINT: %m");
        r = sd_event_add_signal(d->event, NULL, SIGTERM, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(d->event, NULL, SIGINT, NULL, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to watch for SIGTERM and SIGINT: %m");

        r = sd_event_set_watchdog(d->event, true);
        if (r < 0)
                return log_error_errno(r, "Failed to enable the watchdog: %m");

        r = work_pool_new(d->event, 0, &d->work);
        if (r < 0)
                return log_error_errno(r, "Failed to start the worker threads: %m");

        *ret = TAKE_PTR(d);
        return 0;
}

Daemon *daemon_free(Daemon *d)
{
        if (!d)
                return NULL;
        /* Jobs first: they may hold work items, requests and bus messages. */
        while (d->jobs)
                job_free(d->jobs);
        d->work = work_pool_free(d->work);
        sd_bus_slot_unref(d->job_enum_slot);
        sd_bus_slot_unref(d->job_slot);
        sd_bus_slot_unref(d->manager_slot);
        if (d->bus)
                sd_bus_flush_close_unref(d->bus);
        sd_event_unref(d->event);
        free(d->site);
        free(d->username);
        erase_and_free(d->api_key);
        free(d);
        return NULL;
}

int daemon_start(Daemon *d)
{
        int r;

        r = fluff_bus_error_register();
        if (r < 0)
                return log_error_errno(r, "Failed to register the Fluff bus errors: %m");

        r = sd_bus_open_user(&d->bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the session bus: %m");
        r = sd_bus_attach_event(d->bus, d->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to attach the bus to the event loop: %m");
        /* Without the bus nobody can reach us: leave the loop. */
        (void)sd_bus_set_exit_on_disconnect(d->bus, true);

        r = bus_manager_register(d);
        if (r < 0)
                return log_error_errno(r, "Failed to register the manager object: %m");
        r = bus_job_register(d);
        if (r < 0)
                return log_error_errno(r, "Failed to register the job objects: %m");
        r = sd_bus_add_object_manager(d->bus, NULL, FLUFF_BUS_PATH);
        if (r < 0)
                return log_error_errno(r, "Failed to register the object manager: %m");

        r = sd_bus_request_name(d->bus, FLUFF_BUS_NAME, 0);
        if (r == -EEXIST)
                return log_error_errno(r, "Another fluffd already owns %s on this bus; not starting a second one.",
                                       FLUFF_BUS_NAME);
        if (r < 0)
                return log_error_errno(r, "Failed to take the bus name %s: %m", FLUFF_BUS_NAME);

        (void)sd_notify(false, "READY=1\nSTATUS=Serving.");
        log_info("Serving %s for site \"%s\".", FLUFF_BUS_NAME, d->site);
        return 0;
}

int daemon_run(Daemon *d)
{
        int r;

        r = sd_event_loop(d->event);
        (void)sd_notify(false, "STOPPING=1");
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        log_info("Stopping.");
        return 0;
}

bool daemon_logged_in(const Daemon *d)
{
        return d->username && d->api_key;
}

int daemon_logout(Daemon *d, bool forget)
{
        bool was = daemon_logged_in(d);

        free(d->username);
        d->username = NULL;
        erase_and_free(d->api_key);
        d->api_key = NULL;
        if (was)
                manager_emit_session_changed(d);
        (void)forget;
        return 0;
}

Job *daemon_find_active_job(Daemon *d, const char *kind)
{
        for (Job *j = d->jobs; j; j = j->next)
                if (!job_is_finished(j) && streq(j->ops->kind, kind))
                        return j;
        return NULL;
}
