/* SPDX-License-Identifier: MIT */
#include <inttypes.h>

#include "bus/job.h"
#include "bus/manager.h"
#include "daemon.h"
#include "fluff/bus.h"
#include "jobs/job.h"

static int job_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
                           void **ret_found, sd_bus_error *error)
{
        Job *j = job_find_by_path(userdata, path);
        if (!j)
                return 0;
        *ret_found = j;
        return 1;
}

static int job_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***ret_nodes,
                               sd_bus_error *error)
{
        Daemon *d = userdata;
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0, i = 0;

        for (Job *j = d->jobs; j; j = j->next)
                n++;
        l = calloc(n + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (Job *j = d->jobs; j; j = j->next) {
                l[i] = strdup(j->path);
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
        int r;

        r = bus_check_caller(m, error);
        if (r < 0)
                return r;
        if (job_is_finished(j))
                return fluff_bus_error_set_errnof(error, EINVAL,
                                                  "Job %" PRIu64 " has already %s.", j->id,
                                                  j->state == JOB_DONE ? "finished" : job_state_to_string(j->state));
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
        SD_BUS_PROPERTY("ErrorName", "s", NULL, offsetof(Job, error_name), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Error", "s", NULL, offsetof(Job, error_message), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("CreatedUSec", "t", NULL, offsetof(Job, created_usec), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("FinishedUSec", "t", NULL, offsetof(Job, finished_usec),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD("Cancel", "", "", method_cancel, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_NAMES("Finished", "sss", SD_BUS_PARAM(state) SD_BUS_PARAM(error_name)
                                                            SD_BUS_PARAM(error_message), 0),
        SD_BUS_VTABLE_END,
};

int bus_job_register(Daemon *d)
{
        int r;

        r = sd_bus_add_fallback_vtable(d->bus, &d->job_slot, FLUFF_BUS_JOB_PREFIX, FLUFF_BUS_JOB_IFACE,
                                       job_vtable, job_object_find, d);
        if (r < 0)
                return r;
        return sd_bus_add_node_enumerator(d->bus, &d->job_enum_slot, FLUFF_BUS_JOB_PREFIX, job_node_enumerator,
                                          d);
}

void bus_job_emit_changed(Job *j, unsigned mask)
{
        /* State, Done, Total, Phase, Message, ErrorName, Error, FinishedUSec
         * can all change at once (a job failing mid-phase), plus the NULL. */
        const char *names[8 + 1];
        size_t n = 0;
        int r;

        if (!j->daemon->bus)
                return;
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
        r = sd_bus_emit_properties_changed_strv(j->daemon->bus, j->path, FLUFF_BUS_JOB_IFACE, (char **)names);
        if (r < 0)
                log_debug_errno(r, "Failed to announce the progress of job %" PRIu64 ", ignoring: %m", j->id);
}

void bus_job_emit_finished(Job *j)
{
        int r;

        if (!j->daemon->bus)
                return;
        r = sd_bus_emit_signal(j->daemon->bus, j->path, FLUFF_BUS_JOB_IFACE, "Finished", "sss",
                               job_state_to_string(j->state), j->error_name, j->error_message);
        if (r < 0)
                log_debug_errno(r, "Failed to send Finished for job %" PRIu64 ", ignoring: %m", j->id);
}

void bus_job_emit_added(Job *j)
{
        if (j->daemon->bus)
                (void)sd_bus_emit_object_added(j->daemon->bus, j->path);
}

void bus_job_emit_removed(Job *j)
{
        if (j->daemon->bus)
                (void)sd_bus_emit_object_removed(j->daemon->bus, j->path);
}
