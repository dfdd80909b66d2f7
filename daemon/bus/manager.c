/* SPDX-License-Identifier: MIT */
#include <inttypes.h>

#include "bus/job.h"
#include "bus/login.h"
#include "bus/manager.h"
#include "bus/options.h"
#include "bus/vote.h"
#include "daemon.h"
#include "fluff/bus.h"
#include "jobs/job.h"
#include "jobs/sync.h"

int bus_check_caller(sd_bus_message *m, sd_bus_error *error)
{
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        uid_t uid;
        int r;

        r = sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID, &creds);
        if (r >= 0)
                r = sd_bus_creds_get_euid(creds, &uid);
        if (r < 0) {
                log_debug_errno(r, "Failed to learn the uid of \"%s\": %m", strna(sd_bus_message_get_sender(m)));
                return sd_bus_error_set(error, FLUFF_ERROR_ACCESS_DENIED,
                                        "Could not determine who is calling; refusing.");
        }
        if (uid != geteuid())
                return sd_bus_error_setf(error, FLUFF_ERROR_ACCESS_DENIED,
                                         "Only uid %u may use this Fluff daemon, not uid %u.", (unsigned)geteuid(),
                                         (unsigned)uid);
        return 0;
}

static int method_login(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        Daemon *d = userdata;
        const char *username, *api_key;
        int remember, r;

        r = bus_check_caller(m, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(m, "ssb", &username, &api_key, &remember);
        if (r < 0)
                return r;
        /* The reply follows once the site has answered. */
        return login_request_start(d, m, username, api_key, remember, error);
}

static int method_sync(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        Daemon *d = userdata;
        Job *j;
        int r;

        r = bus_check_caller(m, error);
        if (r < 0)
                return r;
        r = bus_read_options(m, "sync", bus_no_options, NULL, error);
        if (r < 0)
                return r;

        if (!daemon_logged_in(d))
                return sd_bus_error_set(error, FLUFF_ERROR_NOT_LOGGED_IN,
                                        "Not logged in: run \"fluffctl login USERNAME\" first.");
        if (d->login)
                return sd_bus_error_set(error, FLUFF_ERROR_BUSY, "A login is being checked; sync once it is done.");
        j = daemon_find_active_job(d, "sync");
        if (j)
                return sd_bus_error_setf(error, FLUFF_ERROR_BUSY,
                                         "A sync is already running as job %" PRIu64 "; follow it with \"fluffctl "
                                         "jobs\" or cancel it with \"fluffctl cancel %" PRIu64 "\".",
                                         j->id, j->id);
        r = sync_job_new(d, &j);
        if (r < 0)
                return fluff_bus_error_set_errnof(error, r, "Failed to create the sync job: %s", strerror(-r));
        r = sd_bus_reply_method_return(m, "o", j->path);
        if (r < 0)
                return r;
        (void)job_start(j);
        return 1;
}

static int method_logout(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        Daemon *d = userdata;
        int forget, r;

        r = bus_check_caller(m, error);
        if (r < 0)
                return r;
        r = sd_bus_message_read(m, "b", &forget);
        if (r < 0)
                return r;
        r = daemon_logout(d, forget);
        if (r < 0)
                return fluff_bus_error_set_errnof(error, r, "Failed to forget the saved credentials: %s",
                                                  strerror(-r));
        return sd_bus_reply_method_return(m, NULL);
}

static int property_get_logged_in(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        return sd_bus_message_append(reply, "b", daemon_logged_in(userdata));
}

static int property_get_username(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        Daemon *d = userdata;
        return sd_bus_message_append(reply, "s", strempty(d->username));
}

static int property_get_count(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        Daemon *d = userdata;
        const StoreCounts *c = &d->counts;
        static const struct {
                const char *name;
                size_t offset;
        } table[] = {
                { "PostCount", offsetof(StoreCounts, posts) },
                { "LikedCount", offsetof(StoreCounts, liked) },
                { "DislikedCount", offsetof(StoreCounts, disliked) },
                { "ConflictCount", offsetof(StoreCounts, conflicts) },
                { "ImageCount", offsetof(StoreCounts, images_ok) },
                { "FailedCount", offsetof(StoreCounts, images_failed) },
                { "MissingImageCount", offsetof(StoreCounts, images_missing) },
                { "SkippedCount", offsetof(StoreCounts, skipped) },
        };
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (streq(property, table[i].name))
                        return sd_bus_message_append(reply, "t", *(const uint64_t *)((const uint8_t *)c +
                                                                                      table[i].offset));
        return -EINVAL;
}

static int property_get_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        return sd_bus_message_append(reply, "s", FLUFF_VERSION);
}

static int property_get_jobs(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        Daemon *d = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "o");
        if (r < 0)
                return r;
        for (Job *j = d->jobs; j; j = j->next) {
                r = sd_bus_message_append(reply, "o", j->path);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int property_get_busy(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        return sd_bus_message_append(reply, "b", daemon_find_active_job(userdata, "sync") != NULL);
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Site", "s", NULL, offsetof(Daemon, site), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("LoggedIn", "b", property_get_logged_in, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Username", "s", property_get_username, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Jobs", "ao", property_get_jobs, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Busy", "b", property_get_busy, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("PostCount", "t", property_get_count, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LikedCount", "t", property_get_count, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("DislikedCount", "t", property_get_count, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ConflictCount", "t", property_get_count, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ImageCount", "t", property_get_count, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("FailedCount", "t", property_get_count, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("MissingImageCount", "t", property_get_count, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("SkippedCount", "t", property_get_count, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("Login", SD_BUS_ARGS("s", username, "s", api_key, "b", remember), SD_BUS_NO_RESULT,
                                method_login, SD_BUS_VTABLE_UNPRIVILEGED | SD_BUS_VTABLE_SENSITIVE),
        SD_BUS_METHOD_WITH_ARGS("Sync", SD_BUS_ARGS("a{sv}", options), SD_BUS_RESULT("o", job), method_sync,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Logout", SD_BUS_ARGS("b", forget), SD_BUS_NO_RESULT, method_logout,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        VOTE_MANAGER_VTABLE,
        SD_BUS_VTABLE_END,
};

int bus_manager_register(Daemon *d)
{
        return sd_bus_add_object_vtable(d->bus, &d->manager_slot, FLUFF_BUS_PATH, FLUFF_BUS_MANAGER_IFACE,
                                        manager_vtable, d);
}

static void emit(Daemon *d, const char *name, ...)
{
        if (!d->bus)
                return;
        va_list ap;
        char *names[16];
        size_t n = 0;

        names[n++] = (char *)name;
        va_start(ap, name);
        for (const char *s; n < ELEMENTSOF(names) - 1 && (s = va_arg(ap, const char *));)
                names[n++] = (char *)s;
        va_end(ap);
        names[n] = NULL;
        int r = sd_bus_emit_properties_changed_strv(d->bus, FLUFF_BUS_PATH, FLUFF_BUS_MANAGER_IFACE, names);
        if (r < 0)
                log_debug_errno(r, "Failed to announce a change of %s, ignoring: %m", name);
}

void manager_emit_session_changed(Daemon *d)
{
        emit(d, "LoggedIn", "Username", NULL);
}

void manager_emit_counts_changed(Daemon *d)
{
        emit(d, "PostCount", "LikedCount", "DislikedCount", "ConflictCount", "ImageCount", "FailedCount",
             "MissingImageCount", "SkippedCount", NULL);
}

void manager_emit_jobs_changed(Daemon *d)
{
        emit(d, "Jobs", "Busy", NULL);
}
