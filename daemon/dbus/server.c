/* SPDX-License-Identifier: MIT */
#include <systemd/sd-daemon.h>

#include "core/context.h"
#include "dbus/bus.h"

int bus_server_new(const BusFeatures *f, BusServer **ret)
{
        _cleanup_(bus_server_freep) BusServer *s = NULL;
        int r;

        s = calloc(1, sizeof(BusServer));
        if (!s)
                return -ENOMEM;
        s->f = *f;
        s->predictor = predictor_make(f->ctx, f->backbone, f->taste);
        s->voter = voter_make(f->ctx, f->outbox);
        r = bus_manager_subscribe(s);
        if (r >= 0)
                r = bus_job_subscribe(s);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

BusServer *bus_server_free(BusServer *s)
{
        if (!s)
                return NULL;
        sd_bus_slot_unref(s->filter_slot);
        sd_bus_slot_unref(s->job_enum_slot);
        sd_bus_slot_unref(s->job_slot);
        sd_bus_slot_unref(s->manager_slot);
        if (s->bus)
                sd_bus_flush_close_unref(s->bus);
        free(s);
        return NULL;
}

int bus_server_start(BusServer *s)
{
        int r;

        r = fluff_bus_error_register();
        if (r < 0)
                return log_error_errno(r, "Failed to register the Fluff bus errors: %m");

        r = sd_bus_open_user(&s->bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the session bus: %m");
        r = sd_bus_attach_event(s->bus, s->f.ctx->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to attach the bus to the event loop: %m");
        /* Without the bus nobody can reach us: leave the loop. */
        (void)sd_bus_set_exit_on_disconnect(s->bus, true);

        r = sd_bus_add_filter(s->bus, &s->filter_slot, bus_caller_filter, s);
        if (r < 0)
                return log_error_errno(r, "Failed to install the caller check: %m");
        r = bus_manager_register(s);
        if (r < 0)
                return log_error_errno(r, "Failed to register the manager object: %m");
        r = bus_job_register(s);
        if (r < 0)
                return log_error_errno(r, "Failed to register the job objects: %m");
        r = sd_bus_add_object_manager(s->bus, NULL, FLUFF_BUS_PATH);
        if (r < 0)
                return log_error_errno(r, "Failed to register the object manager: %m");

        r = sd_bus_request_name(s->bus, FLUFF_BUS_NAME, 0);
        if (r == -EEXIST)
                return log_error_errno(
                        r, "Another fluffd already owns %s on this bus; not starting a second one.",
                        FLUFF_BUS_NAME);
        if (r < 0)
                return log_error_errno(r, "Failed to take the bus name %s: %m", FLUFF_BUS_NAME);

        (void)sd_notify(false, "READY=1\nSTATUS=Serving.");
        log_info("Serving %s for site \"%s\".", FLUFF_BUS_NAME, s->f.ctx->site);
        return 0;
}
