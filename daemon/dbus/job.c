/* SPDX-License-Identifier: MIT */
/* The io.github.fluffml.Fluff1.Job objects on /io/github/fluffml/Fluff1/job/N:
 * the runner's jobs (jobs/runner.h) as the bus sees them, and the runner's
 * events as their signals. */
#include <inttypes.h>

#include "core/context.h"
#include "dbus/bus.h"
#include "jobs/runner.h"

const char *bus_job_path(const Job *j, char buf[static BUS_JOB_PATH_MAX])
{
        (void)snprintf(buf, BUS_JOB_PATH_MAX, "%s/%" PRIu64, FLUFF_BUS_JOB_PREFIX, j->id);
        return buf;
}

static int job_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
                           void **ret_found, sd_bus_error *error)
{
        BusServer *s = userdata;
        char buf[BUS_JOB_PATH_MAX];

        for (Job *j = s->f.runner->jobs; j; j = j->next)
                if (streq(bus_job_path(j, buf), path)) {
                        *ret_found = j;
                        return 1;
                }
        return 0;
}

static int job_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***ret_nodes,
                               sd_bus_error *error)
{
        BusServer *s = userdata;
        _cleanup_strv_free_ char **l = NULL;
        char buf[BUS_JOB_PATH_MAX];
        size_t n = 0, i = 0;

        for (Job *j = s->f.runner->jobs; j; j = j->next)
                n++;
        l = calloc(n + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (Job *j = s->f.runner->jobs; j; j = j->next) {
                l[i] = strdup(bus_job_path(j, buf));
                if (!l[i])
                        return -ENOMEM;
                i++;
        }
        *ret_nodes = TAKE_PTR(l);
        return 1;
}

static int method_cancel(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        Job *j = userdata;

        if (job_is_finished(j))
                return fluff_bus_error_set_errnof(error, EINVAL, "Job %" PRIu64 " has already %s.", j->id,
                                                  j->state == JOB_DONE ? "finished"
                                                                       : job_state_to_string(j->state));
        job_cancel(j);
        return sd_bus_reply_method_return(m, NULL);
}

static int property_get_state(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        Job *j = userdata;
        return sd_bus_message_append(reply, "s", job_state_to_string(j->state));
}

static int property_get_kind(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        Job *j = userdata;
        return sd_bus_message_append(reply, "s", j->ops->kind);
}

static const sd_bus_vtable job_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Id", "t", NULL, offsetof(Job, id), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Kind", "s", property_get_kind, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", property_get_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Done", "t", NULL, offsetof(Job, done), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Total", "t", NULL, offsetof(Job, total), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Phase", "s", NULL, offsetof(Job, phase), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Message", "s", NULL, offsetof(Job, message), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ErrorName", "s", NULL, offsetof(Job, error_name),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Error", "s", NULL, offsetof(Job, error_message),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("CreatedUSec", "t", NULL, offsetof(Job, created_usec), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("FinishedUSec", "t", NULL, offsetof(Job, finished_usec),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD("Cancel", "", "", method_cancel, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_NAMES("Finished", "sss",
                                 SD_BUS_PARAM(state) SD_BUS_PARAM(error_name) SD_BUS_PARAM(error_message),
                                 0),
        SD_BUS_VTABLE_END,
};

int bus_job_register(BusServer *s)
{
        int r;

        r = sd_bus_add_fallback_vtable(s->bus, &s->job_slot, FLUFF_BUS_JOB_PREFIX, FLUFF_BUS_JOB_IFACE,
                                       job_vtable, job_object_find, s);
        if (r < 0)
                return r;
        return sd_bus_add_node_enumerator(s->bus, &s->job_enum_slot, FLUFF_BUS_JOB_PREFIX,
                                          job_node_enumerator, s);
}

static void emit_changed(BusServer *s, Job *j, unsigned mask)
{
        /* State, Done, Total, Phase, Message, ErrorName, Error, FinishedUSec
         * can all change at once (a job failing mid-phase), plus the NULL. */
        const char *names[8 + 1];
        char buf[BUS_JOB_PATH_MAX];
        size_t n = 0;
        int r;

        if (mask & JOB_PROP_STATE)
                names[n++] = "State";
        if (mask & JOB_PROP_DONE)
                names[n++] = "Done";
        if (mask & JOB_PROP_TOTAL)
                names[n++] = "Total";
        if (mask & JOB_PROP_PHASE)
                names[n++] = "Phase";
        if (mask & JOB_PROP_MESSAGE)
                names[n++] = "Message";
        if (mask & JOB_PROP_ERROR) {
                names[n++] = "ErrorName";
                names[n++] = "Error";
        }
        if (mask & JOB_PROP_STATE)
                names[n++] = "FinishedUSec";
        names[n] = NULL;
        if (n == 0)
                return;
        r = sd_bus_emit_properties_changed_strv(s->bus, bus_job_path(j, buf), FLUFF_BUS_JOB_IFACE,
                                                (char **)names);
        if (r < 0)
                log_debug_errno(r, "Failed to announce the progress of job %" PRIu64 ", ignoring: %m",
                                j->id);
}

static void emit_finished(BusServer *s, Job *j)
{
        char buf[BUS_JOB_PATH_MAX];
        int r;

        r = sd_bus_emit_signal(s->bus, bus_job_path(j, buf), FLUFF_BUS_JOB_IFACE, "Finished", "sss",
                               job_state_to_string(j->state), j->error_name, j->error_message);
        if (r < 0)
                log_debug_errno(r, "Failed to send Finished for job %" PRIu64 ", ignoring: %m", j->id);
}

static void on_job_event(EventKind kind, const void *payload, void *userdata)
{
        const EventJob *e = payload;
        BusServer *s = userdata;
        char buf[BUS_JOB_PATH_MAX];

        if (!s->bus)
                return;
        switch (kind) {
        case EVENT_JOB_ADDED:
                (void)sd_bus_emit_object_added(s->bus, bus_job_path(e->job, buf));
                break;
        case EVENT_JOB_REMOVED:
                (void)sd_bus_emit_object_removed(s->bus, bus_job_path(e->job, buf));
                break;
        case EVENT_JOB_CHANGED:
                emit_changed(s, e->job, e->mask);
                break;
        case EVENT_JOB_FINISHED:
                emit_finished(s, e->job);
                break;
        default:
                break;
        }
}

int bus_job_subscribe(BusServer *s)
{
        static const EventKind kinds[] = {EVENT_JOB_ADDED, EVENT_JOB_REMOVED, EVENT_JOB_CHANGED,
                                          EVENT_JOB_FINISHED};
        int r;

        for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                r = events_subscribe(s->f.ctx->events, kinds[i], on_job_event, s);
                if (r < 0)
                        return r;
        }
        return 0;
}
