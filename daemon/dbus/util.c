/* SPDX-License-Identifier: MIT */
/* What every handler shares: the caller check, errors, replying with a job. */
#include <inttypes.h>

#include "dbus/bus.h"
#include "fluff/text.h"
#include "jobs/runner.h"

static int check_caller(sd_bus_message *m, sd_bus_error *error)
{
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        uid_t uid;
        int r;

        r = sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID, &creds);
        if (r >= 0)
                r = sd_bus_creds_get_euid(creds, &uid);
        if (r < 0) {
                log_debug_errno(r, "Failed to learn the uid of \"%s\": %m",
                                strna(sd_bus_message_get_sender(m)));
                return sd_bus_error_set(error, FLUFF_ERROR_ACCESS_DENIED,
                                        "Could not determine who is calling; refusing.");
        }
        if (uid != geteuid())
                return sd_bus_error_setf(error, FLUFF_ERROR_ACCESS_DENIED,
                                         "Only uid %u may use this Fluff daemon, not uid %u.",
                                         (unsigned)geteuid(), (unsigned)uid);
        return 0;
}

int bus_caller_filter(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *iface;
        int r;

        if (!sd_bus_message_is_method_call(m, NULL, NULL))
                return 0;
        /* Every method of fluffd's own interfaces; the standard ones
         * (Introspect, Properties, Peer, ObjectManager) stay open as before. */
        iface = sd_bus_message_get_interface(m);
        if (iface && !streq(iface, FLUFF_BUS_MANAGER_IFACE) && !streq(iface, FLUFF_BUS_JOB_IFACE))
                return 0;
        r = check_caller(m, &error);
        if (r >= 0)
                return 0;
        r = sd_bus_reply_method_error(m, &error);
        if (r < 0)
                log_debug_errno(r, "Failed to refuse a caller, ignoring: %m");
        return 1; /* handled: the call goes no further */
}

int bus_error_from(sd_bus_error *error, int r, const Error *e)
{
        return fluff_bus_error_set_errnof(error, r, "%s", error_message(e, r));
}

int bus_reply_job(sd_bus_message *m, Job *j)
{
        char buf[BUS_JOB_PATH_MAX];
        int r;

        r = sd_bus_reply_method_return(m, "o", bus_job_path(j, buf));
        if (r < 0)
                return r;
        (void)job_start(j);
        return 1;
}

int bus_read_absolute_path(sd_bus_message *m, const char *what, const char **ret, sd_bus_error *error)
{
        const char *path;
        int r;

        r = sd_bus_message_read(m, "s", &path);
        if (r < 0)
                return r;
        if (path[0] != '/')
                return sd_bus_error_setf(error, FLUFF_ERROR_INVALID_ARGUMENT,
                                         "The %s path must be absolute, not \"%.*s\".", what,
                                         (int)utf8_prefix_len(path, 256), path);
        *ret = path;
        return 0;
}

int bus_check_count(uint32_t *count, unsigned def, unsigned max, sd_bus_error *error)
{
        if (*count == 0)
                *count = def;
        if (*count > max)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Count %" PRIu32 " is out of range: give 1 to %u posts.", *count,
                                         max);
        return 0;
}

int bus_method_on_id(sd_bus_message *m, BusServer *s, int (*f)(BusServer *s, uint64_t id, Error *e),
                     sd_bus_error *error)
{
        Error e = {};
        uint64_t id;
        int r;

        r = sd_bus_message_read(m, "t", &id);
        if (r < 0)
                return r;
        r = f(s, id, &e);
        if (r < 0)
                return bus_error_from(error, r, &e);
        return sd_bus_reply_method_return(m, NULL);
}
