/* SPDX-License-Identifier: MIT */
/* Manager.Sync. */
#include "dbus/bus.h"
#include "dbus/options.h"
#include "sync/sync.h"

int method_sync(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        BusServer *s = userdata;
        Error e = {};
        Job *j;
        int r;

        r = bus_read_options(m, "sync", bus_no_options, NULL, error);
        if (r < 0)
                return r;
        r = sync_job_create(s->f.ctx, s->f.runner, &j, &e);
        if (r < 0)
                return bus_error_from(error, r, &e);
        return bus_reply_job(m, j);
}
