/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <json-c/json.h>
#include <time.h>

#include "bus-util.h"
#include "ctl.h"
#include "output.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

json_object *job_info_json(const JobInfo *j)
{
        json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        json_object_object_add(o, "id", json_object_new_uint64(j->id));
        json_object_object_add(o, "path", json_object_new_string(strempty(j->path)));
        json_object_object_add(o, "kind", json_object_new_string(strempty(j->kind)));
        json_object_object_add(o, "state", json_object_new_string(strempty(j->state)));
        json_object_object_add(o, "phase", json_object_new_string(strempty(j->phase)));
        json_object_object_add(o, "done", json_object_new_uint64(j->done));
        json_object_object_add(o, "total", json_object_new_uint64(j->total));
        json_object_object_add(o, "message", json_object_new_string(strempty(j->message)));
        json_object_object_add(o, "error_name", json_object_new_string(strempty(j->error_name)));
        json_object_object_add(o, "error", json_object_new_string(strempty(j->error)));
        json_object_object_add(o, "created_usec", json_object_new_uint64(j->created_usec));
        json_object_object_add(o, "finished_usec", json_object_new_uint64(j->finished_usec));
        return o;
}

void job_info_print_json(const JobInfo *j)
{
        _cleanup_(json_object_putp) json_object *o = job_info_json(j);
        if (o)
                json_print(o);
}

static json_object *outbox_to_json(const ManagerInfo *m)
{
        json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        json_object_object_add(o, "pending", json_object_new_uint64(m->outbox_pending));
        json_object_object_add(o, "sent", json_object_new_uint64(m->outbox_sent));
        json_object_object_add(o, "failed", json_object_new_uint64(m->outbox_failed));
        json_object_object_add(o, "last_error", json_object_new_string(strempty(m->outbox_last_error)));
        return o;
}

static void print_outbox(const ManagerInfo *m)
{
        printf("       Votes: %" PRIu64 " pending, %" PRIu64 " sent, %" PRIu64 " failed\n",
               m->outbox_pending, m->outbox_sent, m->outbox_failed);
        if (!isempty(m->outbox_last_error))
                printf("  Last error: %s\n", m->outbox_last_error);
}

/* Reads every job the daemon lists; jobs that vanish meanwhile are left out. */
static int read_jobs(sd_bus *bus, char **paths, bool only_active, JobInfo **ret, size_t *ret_n)
{
        size_t n = strv_length(paths), k = 0;
        JobInfo *jobs = calloc(n + 1, sizeof(JobInfo));
        if (!jobs)
                return log_oom();
        for (size_t i = 0; i < n; i++) {
                if (job_info_get(bus, paths[i], &jobs[k]) < 0)
                        continue;
                if (only_active && job_info_finished(&jobs[k])) {
                        job_info_done(&jobs[k]);
                        continue;
                }
                k++;
        }
        *ret = jobs;
        *ret_n = k;
        return 0;
}

static void jobs_free(JobInfo *jobs, size_t n)
{
        for (size_t i = 0; i < n; i++)
                job_info_done(&jobs[i]);
        free(jobs);
}

static void format_duration(uint64_t usec, char *buf, size_t size)
{
        uint64_t s = usec / USEC_PER_SEC;
        if (s >= 3600)
                snprintf(buf, size, "%" PRIu64 "h %02" PRIu64 "m", s / 3600, s / 60 % 60);
        else if (s >= 60)
                snprintf(buf, size, "%" PRIu64 "m %02" PRIu64 "s", s / 60, s % 60);
        else
                snprintf(buf, size, "%" PRIu64 ".%01" PRIu64 "s", s, usec / (USEC_PER_SEC / 10) % 10);
}

/* ID, kind, state, progress, when it started, how long it ran (or runs), and
 * the message or error. */
static void print_jobs_table(const JobInfo *jobs, size_t n)
{
        static const char *const headers[] = {"ID",      "KIND", "STATE",  "PROGRESS",
                                              "STARTED", "TIME", "MESSAGE"};
        static const unsigned flags[] = {COLUMN_RIGHT, 0, 0, COLUMN_RIGHT, 0, COLUMN_RIGHT, 0};
        uint64_t now = now_usec(CLOCK_REALTIME);
        Table *t = NULL;

        if (table_new(headers, flags, ELEMENTSOF(headers), &t) < 0) {
                log_oom();
                return;
        }
        for (size_t i = 0; i < n; i++) {
                const JobInfo *j = &jobs[i];
                char id[24], progress[64] = "", started[32] = "", took[32] = "";
                snprintf(id, sizeof(id), "%" PRIu64, j->id);
                if (j->total > 0)
                        snprintf(progress, sizeof(progress), "%" PRIu64 "%% %" PRIu64 "/%" PRIu64,
                                 j->done * 100 / j->total, j->done, j->total);
                else if (j->done > 0)
                        snprintf(progress, sizeof(progress), "%" PRIu64, j->done);
                if (j->created_usec > 0) {
                        time_t c = (time_t)(j->created_usec / USEC_PER_SEC);
                        struct tm tm;
                        if (localtime_r(&c, &tm))
                                strftime(started, sizeof(started), "%H:%M:%S", &tm);
                        uint64_t end = j->finished_usec ?: now;
                        format_duration(end > j->created_usec ? end - j->created_usec : 0, took,
                                        sizeof(took));
                }
                const char *msg = !isempty(j->error)     ? j->error
                                  : !isempty(j->message) ? j->message
                                                         : j->phase;
                const char *cells[] = {id, j->kind, j->state, progress, started, took, msg};
                if (table_add_row(t, cells) < 0)
                        break;
        }
        table_print(t, output_columns());
        table_free(t);
}

int verb_status(int argc, char *argv[], sd_bus *bus)
{
        ManagerInfo m = {};
        JobInfo *jobs = NULL;
        size_t n_jobs = 0;
        int r;

        r = manager_info_get(bus, &m);
        if (r < 0)
                return r;
        r = read_jobs(bus, m.jobs, true, &jobs, &n_jobs);
        if (r < 0)
                goto finish;

        if (arg_json) {
                _cleanup_(json_object_putp) json_object *o = json_object_new_object(), *counts = NULL,
                                                        *list = NULL;
                counts = json_object_new_object();
                list = json_object_new_array();
                if (!o || !counts || !list) {
                        r = log_oom();
                        goto finish;
                }
                json_object_object_add(o, "version", json_object_new_string(strempty(m.version)));
                json_object_object_add(o, "site", json_object_new_string(strempty(m.site)));
                json_object_object_add(o, "logged_in", json_object_new_boolean(m.logged_in));
                json_object_object_add(o, "username",
                                       m.logged_in ? json_object_new_string(strempty(m.username)) : NULL);
                json_object_object_add(counts, "posts", json_object_new_uint64(m.posts));
                json_object_object_add(counts, "liked", json_object_new_uint64(m.liked));
                json_object_object_add(counts, "disliked", json_object_new_uint64(m.disliked));
                json_object_object_add(counts, "images", json_object_new_uint64(m.images));
                json_object_object_add(counts, "skipped", json_object_new_uint64(m.skipped));
                json_object_object_add(counts, "failed", json_object_new_uint64(m.failed));
                json_object_object_add(counts, "conflicts", json_object_new_uint64(m.conflicts));
                json_object_object_add(o, "counts", TAKE_PTR(counts));
                json_object_object_add(o, "outbox", outbox_to_json(&m));
                for (size_t i = 0; i < n_jobs; i++)
                        json_object_array_add(list, job_info_json(&jobs[i]));
                json_object_object_add(o, "jobs", TAKE_PTR(list));
                backbone_status_json(&m, o);
                model_status_json(&m, o);
                refresh_status_json(bus, o);
                json_print(o);
        } else {
                if (m.logged_in)
                        printf("   Logged in: yes, as \"%s\"\n", strempty(m.username));
                else
                        printf("   Logged in: no (run \"fluffctl login USERNAME\")\n");
                printf("        Site: %s\n", strempty(m.site));
                printf("       Liked: %" PRIu64 "\n", m.liked);
                printf("    Disliked: %" PRIu64 "\n", m.disliked);
                printf("      Images: %" PRIu64 "\n", m.images);
                printf("     Skipped: %" PRIu64 "\n", m.skipped);
                printf("      Failed: %" PRIu64 "\n", m.failed);
                printf("   Conflicts: %" PRIu64 " (liked and disliked, left out)\n", m.conflicts);
                backbone_status_print(&m);
                model_status_print(&m);
                refresh_status_print(bus);
                print_outbox(&m);
                printf("        Jobs: %s\n", n_jobs == 0 ? "none running" : "");
                if (n_jobs > 0)
                        print_jobs_table(jobs, n_jobs);
                printf("     Version: fluffd %s\n", strempty(m.version));
        }
        r = 0;
finish:
        jobs_free(jobs, n_jobs);
        manager_info_done(&m);
        return r;
}

int verb_jobs(int argc, char *argv[], sd_bus *bus)
{
        ManagerInfo m = {};
        JobInfo *jobs = NULL;
        size_t n_jobs = 0;
        int r;

        r = manager_info_get(bus, &m);
        if (r < 0)
                return r;
        r = read_jobs(bus, m.jobs, false, &jobs, &n_jobs);
        if (r < 0)
                goto finish;
        if (arg_json) {
                _cleanup_(json_object_putp) json_object *list = json_object_new_array();
                if (!list) {
                        r = log_oom();
                        goto finish;
                }
                for (size_t i = 0; i < n_jobs; i++)
                        json_object_array_add(list, job_info_json(&jobs[i]));
                json_print(list);
        } else if (n_jobs == 0) {
                if (!arg_quiet)
                        printf("No jobs.\n");
        } else {
                print_jobs_table(jobs, n_jobs);
        }
        r = 0;
finish:
        jobs_free(jobs, n_jobs);
        manager_info_done(&m);
        return r;
}
