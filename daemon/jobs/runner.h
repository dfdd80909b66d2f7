/* SPDX-License-Identifier: MIT */
#pragma once

/* The job runner. A job is long work started by a bus call: the call answers
 * at once with the job's object path, and the job reports state and progress
 * until it finishes. Jobs live on the loop; the kind-specific part sits behind
 * JobOps (in each feature's folder), what a kind needs and which kinds
 * exclude it in the table of kinds (jobs/kinds.c). The runner knows nothing
 * of D-Bus: it announces jobs and their changes as events (core/events.h),
 * which the bus adapter (dbus/job.c) turns into signals. */

#include <systemd/sd-event.h>

#include "fluff/error.h"
#include "fluff/util.h"

typedef struct BackboneService BackboneService;
typedef struct Events Events;
typedef struct Job Job;
typedef struct JobOps JobOps;
typedef struct Session Session;
typedef struct Store Store;
typedef struct TasteService TasteService;

typedef struct JobRunner {
        sd_event *event; /* borrowed */
        Events *events;  /* borrowed */
        Job *jobs;       /* owned list, newest first */
        uint64_t next_job_id;
        Store *store; /* borrowed, NULL: ids start at 1 with each runner */
        /* What the kinds' needs are checked against (borrowed). */
        const Session *session;
        const TasteService *taste;
        const BackboneService *backbone;
} JobRunner;

int job_runner_new(sd_event *event, Events *events, const Session *session, const TasteService *taste,
                   const BackboneService *backbone, JobRunner **ret);
/* Job ids go on from the last one the store remembers, so an id never names
 * two jobs, across restarts too ("fluffctl cancel 3" after a restart must not
 * reach a new job 3). Each new id is written to the store as it is given. */
int job_runner_persist_ids(JobRunner *r, Store *store);
/* Frees every job (announcing each removal), then the runner. NULL-safe. */
JobRunner *job_runner_free(JobRunner *r);

/* Whether a job of this kind may start now, by the table of kinds: what it
 * needs (a login, a model, a backbone), no job of a kind that excludes it
 * and none of its own kind running. < 0 with the reason in e otherwise
 * (-ENOKEY, -ENOMEDIUM, -EBUSY; the errno names the bus error). */
int job_runner_check(JobRunner *r, const char *kind, Error *e);
/* job_runner_check(), then job_new(): how every feature starts its job. On
 * failure data stays the caller's. */
int job_runner_add(JobRunner *r, const JobOps *ops, void *data, Job **ret, Error *e);
/* The job of the given kind that has not finished yet, or NULL. */
Job *job_runner_find_active(JobRunner *r, const char *kind);

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
        JobRunner *runner; /* borrowed */
        Job *next;         /* in JobRunner.jobs */
        uint64_t id;
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

/* Creates a queued job, links it into the runner and announces it. */
int job_new(JobRunner *r, const JobOps *ops, void *data, Job **ret);
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
void job_finishv(Job *j, int r, const char *fmt, va_list ap) _printf_(3, 0);

Job *job_find_by_id(JobRunner *r, uint64_t id);
