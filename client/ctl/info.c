/* SPDX-License-Identifier: MIT */
#include <inttypes.h>

#include "bus-util.h"
#include "ctl.h"
#include "fluff/bus.h"

static const BusPropertyMap manager_info_map[] = {
        { "Version", "s", offsetof(ManagerInfo, version) },
        { "Site", "s", offsetof(ManagerInfo, site) },
        { "Username", "s", offsetof(ManagerInfo, username) },
        { "LoggedIn", "b", offsetof(ManagerInfo, logged_in) },
        { "Busy", "b", offsetof(ManagerInfo, busy) },
        { "PostCount", "t", offsetof(ManagerInfo, posts) },
        { "LikedCount", "t", offsetof(ManagerInfo, liked) },
        { "DislikedCount", "t", offsetof(ManagerInfo, disliked) },
        { "ImageCount", "t", offsetof(ManagerInfo, images) },
        { "SkippedCount", "t", offsetof(ManagerInfo, skipped) },
        { "FailedCount", "t", offsetof(ManagerInfo, failed) },
        { "ConflictCount", "t", offsetof(ManagerInfo, conflicts) },
        { "Jobs", "ao", offsetof(ManagerInfo, jobs) },
        { "BackboneId", "s", offsetof(ManagerInfo, backbone_id) },
        { "BackboneInfo", "s", offsetof(ManagerInfo, backbone_info) },
        { "VulkanDevice", "s", offsetof(ManagerInfo, vk_device) },
        { "VulkanDeviceType", "s", offsetof(ManagerInfo, vk_device_type) },
        { "EmbeddedCount", "t", offsetof(ManagerInfo, embedded) },
        { "ModelInfo", "s", offsetof(ManagerInfo, model_info) },
        { "HasModel", "b", offsetof(ManagerInfo, has_model) },
        { "OutboxPending", "t", offsetof(ManagerInfo, outbox_pending) },
        { "OutboxSent", "t", offsetof(ManagerInfo, outbox_sent) },
        { "OutboxFailed", "t", offsetof(ManagerInfo, outbox_failed) },
        { "OutboxLastError", "s", offsetof(ManagerInfo, outbox_last_error) },
        {},
};

const BusPropertyMap job_info_map[] = {
        { "Id", "t", offsetof(JobInfo, id) },
        { "Kind", "s", offsetof(JobInfo, kind) },
        { "State", "s", offsetof(JobInfo, state) },
        { "Phase", "s", offsetof(JobInfo, phase) },
        { "Message", "s", offsetof(JobInfo, message) },
        { "ErrorName", "s", offsetof(JobInfo, error_name) },
        { "Error", "s", offsetof(JobInfo, error) },
        { "Done", "t", offsetof(JobInfo, done) },
        { "Total", "t", offsetof(JobInfo, total) },
        { "CreatedUSec", "t", offsetof(JobInfo, created_usec) },
        { "FinishedUSec", "t", offsetof(JobInfo, finished_usec) },
        {},
};

int manager_info_get(sd_bus *bus, ManagerInfo *ret)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        ManagerInfo i = {};
        int r;

        r = bus_get_properties(bus, FLUFF_BUS_PATH, FLUFF_BUS_MANAGER_IFACE, manager_info_map, &i, &error);
        if (r < 0) {
                manager_info_done(&i);
                return bus_log_call_error("read the daemon's status", &error, r);
        }
        *ret = i;
        return 0;
}

void manager_info_done(ManagerInfo *i)
{
        free(i->version);
        free(i->site);
        free(i->username);
        free(i->outbox_last_error);
        strv_free(i->jobs);
        free(i->backbone_id);
        free(i->backbone_info);
        free(i->vk_device);
        free(i->vk_device_type);
        free(i->model_info);
        *i = (ManagerInfo){};
}

int job_info_get(sd_bus *bus, const char *path, JobInfo *ret)
{
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        JobInfo i = {};
        int r;

        i.path = strdup(path);
        if (!i.path)
                return log_oom();
        r = bus_get_properties(bus, path, FLUFF_BUS_JOB_IFACE, job_info_map, &i, &error);
        if (r < 0) {
                job_info_done(&i);
                if (sd_bus_error_has_name(&error, SD_BUS_ERROR_UNKNOWN_OBJECT) ||
                    sd_bus_error_has_name(&error, SD_BUS_ERROR_UNKNOWN_INTERFACE))
                        return log_error_errno(ENOENT, "No such job: %s (finished jobs are kept for 10 minutes).",
                                               path);
                return bus_log_call_error("read the job", &error, r);
        }
        *ret = i;
        return 0;
}

void job_info_done(JobInfo *i)
{
        free(i->path);
        free(i->kind);
        free(i->state);
        free(i->phase);
        free(i->message);
        free(i->error_name);
        free(i->error);
        *i = (JobInfo){};
}

bool job_info_finished(const JobInfo *i)
{
        return i->state && (streq(i->state, "done") || streq(i->state, "failed") || streq(i->state, "cancelled"));
}

int job_path_from_arg(const char *arg, char **ret)
{
        const char *id = arg;
        uint64_t n;
        char *p;

        if (strneq(arg, FLUFF_BUS_JOB_PREFIX "/", strlen(FLUFF_BUS_JOB_PREFIX "/")))
                id = arg + strlen(FLUFF_BUS_JOB_PREFIX "/");
        else if (strneq(arg, "job/", 4))
                id = arg + 4;
        if (safe_atou64(id, &n) < 0 || n == 0)
                return log_error_errno(EINVAL, "Not a job: \"%s\" (expected a number as shown by \"fluffctl jobs\").",
                                       arg);
        if (asprintf(&p, "%s/%" PRIu64, FLUFF_BUS_JOB_PREFIX, n) < 0)
                return log_oom();
        *ret = p;
        return 0;
}
