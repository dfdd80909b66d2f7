/* SPDX-License-Identifier: MIT */
/* Manager.Sync. */
#include "dbus/bus.h"
#include "dbus/options.h"
#include "services/refresh.h"
#include "sync/sync.h"
#include "fluff/text.h"

static int parse_mode(sd_bus_message *m, const char *key, void *options, sd_bus_error *error)
{
        SyncJobOptions *o = options;
        const char *s;

        if (sd_bus_message_read(m, "v", "s", &s) < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Sync option \"%s\" must be a string: \"full\", \"incremental\" or "
                                         "\"auto\".",
                                         key);
        o->mode = sync_mode_from_string(s);
        if (o->mode < 0)
                return sd_bus_error_setf(
                        error, SD_BUS_ERROR_INVALID_ARGS,
                        "Sync mode \"%.*s\" is not known: give \"full\", \"incremental\" or "
                        "\"auto\".",
                        (int)utf8_prefix_len(s, 64), s);
        return 0;
}

static const BusOption sync_options[] = {
        {"mode", parse_mode},
        {"automatic", bus_option_bool, offsetof(SyncJobOptions, automatic)},
        {},
};

int method_sync(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        BusServer *s = userdata;
        SyncJobOptions o = {.mode = SYNC_MODE_FULL};
        Error e = {};
        Job *j;
        int r;

        r = bus_read_options(m, "sync", sync_options, &o, error);
        if (r < 0)
                return r;
        r = sync_job_create(s->f.ctx, s->f.runner, &o, &j, &e);
        if (r < 0)
                return bus_error_from(error, r, &e);
        return bus_reply_job(m, j);
}
