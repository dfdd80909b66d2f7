/* SPDX-License-Identifier: MIT */
#pragma once

/* A job is long work started by a bus call: it answers at once with the job's
 * object path and reports state and progress there until it finishes. Jobs
 * live on the loop; the kind-specific part sits behind JobOps. */

#include <systemd/sd-event.h>

#include "fluff/util.h"

typedef struct Daemon Daemon;
typedef struct Job Job;

typedef enum JobState {
        JOB_QUEUED,
        JOB_RUNNING,
        JOB_DONE,
        JOB_FAILED,
        JOB_CANCELLED,
        _JOB_STATE_MAX,
        _JOB_STATE_INVALID = -EINVAL,
} JobState;

typedef struct JobOps {
        const char *kind; /* "sync", ... */
        /* Begins the work on the loop; must not block. Returns < 0 to fail the
         * job at once. The job ends with job_finish(). */
        int (*start)(Job *j);
        /* Asks running work to stop soon; it still ends with job_finish(). */
        void (*cancel)(Job *j);
        void (*free_data)(void *data);
} JobOps;

/* Properties that change while a job runs, as a bit mask for the throttle. */
enum {
        JOB_PROP_STATE = 1 << 0,
        JOB_PROP_DONE = 1 << 1,
        JOB_PROP_TOTAL = 1 << 2,
        JOB_PROP_PHASE = 1 << 3,
        JOB_PROP_MESSAGE = 1 << 4,
        JOB_PROP_ERROR = 1 << 5,
};

struct Job {
        Daemon *daemon; /* borrowed */
        Job *next;      /* in Daemon.jobs */
        uint64_t id;
        char *path; /* owned */
        const JobOps *ops;
        void *data; /* owned through ops->free_data */

        JobState state;
        uint64_t done, total;
        char *phase;         /* owned, "" when none */
        char *message;       /* owned, "" when none */
        char *error_name;    /* owned, "" unless failed */
        char *error_message; /* owned, "" unless failed */
        bool cancel_requested;
        uint64_t created_usec, finished_usec; /* CLOCK_REALTIME */

        unsigned dirty;                 /* JOB_PROP_* not yet announced */
        uint64_t last_emit_usec;        /* CLOCK_MONOTONIC */
        sd_event_source *emit_source;   /* owned; pending throttled announcement */
        sd_event_source *expire_source; /* owned; drops a finished job later */
};

const char *job_state_to_string(JobState s);

/* Creates a queued job, links it into the daemon and announces it. */
int job_new(Daemon *d, const JobOps *ops, void *data, Job **ret);
/* Unlinks and frees; NULL-safe. */
Job *job_free(Job *j);

int job_start(Job *j);
void job_cancel(Job *j);
bool job_is_finished(const Job *j);

/* Progress, announced at most ~10 times a second. total 0 = unknown. */
void job_set_progress(Job *j, uint64_t done, uint64_t total);
int job_set_phase(Job *j, const char *phase, const char *message);
int job_set_messagef(Job *j, const char *fmt, ...) _printf_(2, 3);

/* Ends the job: r == 0 done, -ECANCELED cancelled, other < 0 failed with the
 * error named by the errno table and the message given. */
void job_finish(Job *j, int r, const char *fmt, ...) _printf_(3, 4);

Job *job_find_by_path(Daemon *d, const char *path);
Job *job_find_by_id(Daemon *d, uint64_t id);
