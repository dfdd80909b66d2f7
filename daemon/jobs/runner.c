/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <time.h>

#include "core/events.h"
#include "fluff/bus.h"
#include "jobs/runner.h"
#include "fluff/text.h"
#include "store/store.h"

#define STATE_LAST_JOB_ID "last_job_id"

/* A client redraws at most twice a second; ten updates a second keep it
 * smooth without flooding the bus when thousands of items finish. */
#define JOB_EMIT_INTERVAL_USEC (100 * USEC_PER_MSEC)
/* Long enough for `fluffctl jobs` to show what just ended. */
#define JOB_KEEP_USEC (10 * 60 * USEC_PER_SEC)
#define JOB_KEEP_MAX 16

static const char *const job_state_table[_JOB_STATE_MAX] = {
        [JOB_QUEUED] = "queued", [JOB_RUNNING] = "running",     [JOB_DONE] = "done",
        [JOB_FAILED] = "failed", [JOB_CANCELLED] = "cancelled",
};

const char *job_state_to_string(JobState s)
{
        if (s < 0 || s >= _JOB_STATE_MAX)
                return NULL;
        return job_state_table[s];
}

static void job_flush(Job *j)
{
        j->emit_source = sd_event_source_disable_unref(j->emit_source);
        if (j->dirty == 0)
                return;
        events_emit(j->runner->events, EVENT_JOB_CHANGED, &(EventJob){.job = j, .mask = j->dirty});
        j->dirty = 0;
        j->last_emit_usec = now_usec(CLOCK_MONOTONIC);
}

static int on_emit_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        job_flush(userdata);
        return 0;
}

static void job_mark_dirty(Job *j, unsigned mask)
{
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        int r;

        j->dirty |= mask;
        if (j->emit_source)
                return;
        if (now >= j->last_emit_usec + JOB_EMIT_INTERVAL_USEC) {
                job_flush(j);
                return;
        }
        r = sd_event_add_time(j->runner->event, &j->emit_source, CLOCK_MONOTONIC,
                              j->last_emit_usec + JOB_EMIT_INTERVAL_USEC, 10 * USEC_PER_MSEC, on_emit_timer,
                              j);
        if (r < 0) {
                log_debug_errno(r, "Failed to arm the progress timer, announcing now: %m");
                job_flush(j);
        }
}

int job_new(JobRunner *runner, const JobOps *ops, void *data, Job **ret)
{
        Job *j = calloc(1, sizeof(Job));
        if (!j)
                return -ENOMEM;
        j->ops = ops;
        j->id = ++runner->next_job_id;
        if (runner->store) {
                /* a lost write only risks an id used again after a restart */
                int k = store_state_set_u64(runner->store, STATE_LAST_JOB_ID, j->id, NULL);
                if (k < 0)
                        log_debug_errno(k, "Failed to remember job id %" PRIu64 ", ignoring: %m", j->id);
        }
        j->state = JOB_QUEUED;
        j->created_usec = now_usec(CLOCK_REALTIME);
        j->phase = strdup("");
        j->message = strdup("");
        j->error_name = strdup("");
        j->error_message = strdup("");
        if (!j->phase || !j->message || !j->error_name || !j->error_message) {
                job_free(j);
                return -ENOMEM;
        }
        /* data belongs to the job only once it exists */
        j->data = data;
        j->runner = runner;
        j->next = runner->jobs;
        runner->jobs = j;
        events_emit(runner->events, EVENT_JOB_ADDED, &(EventJob){.job = j});
        events_emit(runner->events, EVENT_JOBS_CHANGED, NULL);
        *ret = j;
        return 0;
}

Job *job_free(Job *j)
{
        if (!j)
                return NULL;
        if (j->runner) {
                for (Job **p = &j->runner->jobs; *p; p = &(*p)->next)
                        if (*p == j) {
                                events_emit(j->runner->events, EVENT_JOB_REMOVED, &(EventJob){.job = j});
                                *p = j->next;
                                events_emit(j->runner->events, EVENT_JOBS_CHANGED, NULL);
                                break;
                        }
        }
        sd_event_source_disable_unref(j->emit_source);
        sd_event_source_disable_unref(j->expire_source);
        if (j->ops && j->ops->free_data && j->data)
                j->ops->free_data(j->data);
        free(j->phase);
        free(j->message);
        free(j->error_name);
        free(j->error_message);
        free(j);
        return NULL;
}

bool job_is_finished(const Job *j)
{
        return j->state == JOB_DONE || j->state == JOB_FAILED || j->state == JOB_CANCELLED;
}

int job_start(Job *j)
{
        int r;

        if (j->state != JOB_QUEUED)
                return -EALREADY;
        j->state = JOB_RUNNING;
        job_mark_dirty(j, JOB_PROP_STATE);
        job_flush(j);
        r = j->ops->start(j);
        if (r < 0 && !job_is_finished(j))
                job_finish(j, r, "Failed to start the %s job.", j->ops->kind);
        return 0;
}

void job_cancel(Job *j)
{
        if (job_is_finished(j) || j->cancel_requested)
                return;
        j->cancel_requested = true;
        if (j->state == JOB_QUEUED || !j->ops->cancel) {
                job_finish(j, -ECANCELED, "Cancelled.");
                return;
        }
        j->ops->cancel(j);
}

/* A backstop: job text goes out as bus properties, which sd-bus refuses
 * unless valid UTF-8, and to terminals. Whatever a feature quotes (a site's
 * message, a caller's path) is published as clean text. */
static int set_string(char **field, const char *value)
{
        _cleanup_free_ char *s = text_sanitize(value, strlen(value), TEXT_KEEP_NEWLINES);
        if (!s)
                return -ENOMEM;
        if (streq(*field, s))
                return 0;
        free(*field);
        *field = TAKE_PTR(s);
        return 1;
}

void job_set_progress(Job *j, uint64_t done, uint64_t total)
{
        unsigned mask = 0;

        if (j->done != done)
                mask |= JOB_PROP_DONE;
        if (j->total != total)
                mask |= JOB_PROP_TOTAL;
        j->done = done;
        j->total = total;
        if (mask)
                job_mark_dirty(j, mask);
}

int job_set_phase(Job *j, const char *phase, const char *message)
{
        unsigned mask = 0;
        int r;

        r = set_string(&j->phase, phase ?: "");
        if (r < 0)
                return r;
        if (r > 0)
                mask |= JOB_PROP_PHASE;
        r = set_string(&j->message, message ?: "");
        if (r < 0)
                return r;
        if (r > 0)
                mask |= JOB_PROP_MESSAGE;
        if (mask)
                job_mark_dirty(j, mask);
        return 0;
}

int job_set_messagef(Job *j, const char *fmt, ...)
{
        _cleanup_free_ char *m = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&m, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        r = set_string(&j->message, m);
        if (r > 0)
                job_mark_dirty(j, JOB_PROP_MESSAGE);
        return r < 0 ? r : 0;
}

static int on_expire(sd_event_source *s, uint64_t usec, void *userdata)
{
        job_free(userdata);
        return 0;
}

/* Keeps a bounded number of finished jobs so a client can still read how
 * one ended; older ones go first. */
static void jobs_trim(JobRunner *runner, Job *keep)
{
        unsigned n = 0;
        for (Job *j = runner->jobs, *next; j; j = next) {
                next = j->next;
                if (job_is_finished(j) && ++n > JOB_KEEP_MAX && j != keep)
                        job_free(j);
        }
}

void job_finish(Job *j, int r, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        job_finishv(j, r, fmt, ap);
        va_end(ap);
}

void job_finishv(Job *j, int r, const char *fmt, va_list ap)
{
        _cleanup_free_ char *m = NULL;
        unsigned mask = JOB_PROP_STATE;

        if (job_is_finished(j))
                return;

        if (fmt && vasprintf(&m, fmt, ap) < 0)
                m = NULL;

        if (r >= 0)
                j->state = JOB_DONE;
        else if (r == -ECANCELED)
                j->state = JOB_CANCELLED;
        else
                j->state = JOB_FAILED;

        if (r < 0) {
                const char *name = fluff_bus_error_name(r);
                if (!name)
                        name = FLUFF_ERROR_PREFIX "Failed";
                if (set_string(&j->error_name, name) > 0)
                        mask |= JOB_PROP_ERROR;
                if (set_string(&j->error_message, m ?: strerror(-r)) > 0)
                        mask |= JOB_PROP_ERROR;
        } else if (m && set_string(&j->message, m) > 0)
                mask |= JOB_PROP_MESSAGE;

        j->finished_usec = now_usec(CLOCK_REALTIME);
        if (j->state == JOB_FAILED)
                log_warning("Job %" PRIu64 " (%s) failed: %s", j->id, j->ops->kind, j->error_message);
        else
                log_info("Job %" PRIu64 " (%s) %s%s%s", j->id, j->ops->kind, job_state_to_string(j->state),
                         isempty(m) ? "." : ": ", strempty(m));

        j->dirty |= mask;
        job_flush(j);
        events_emit(j->runner->events, EVENT_JOB_FINISHED, &(EventJob){.job = j});

        if (sd_event_add_time_relative(j->runner->event, &j->expire_source, CLOCK_MONOTONIC, JOB_KEEP_USEC,
                                       USEC_PER_SEC, on_expire, j) < 0)
                log_debug("Failed to arm the job expiry timer, keeping job %" PRIu64 ".", j->id);
        jobs_trim(j->runner, j);
}

Job *job_find_by_id(JobRunner *runner, uint64_t id)
{
        for (Job *j = runner->jobs; j; j = j->next)
                if (j->id == id)
                        return j;
        return NULL;
}

int job_runner_new(sd_event *event, Events *events, const Session *session, const TasteService *taste,
                   const BackboneService *backbone, JobRunner **ret)
{
        JobRunner *r = calloc(1, sizeof(JobRunner));
        if (!r)
                return -ENOMEM;
        *r = (JobRunner){
                .event = event,
                .events = events,
                .session = session,
                .taste = taste,
                .backbone = backbone,
        };
        *ret = r;
        return 0;
}

int job_runner_persist_ids(JobRunner *r, Store *store)
{
        uint64_t last = 0;
        int k = store_state_get_u64(store, STATE_LAST_JOB_ID, &last, NULL);
        if (k < 0 && k != -ENOENT)
                return k;
        r->store = store;
        r->next_job_id = MAX(r->next_job_id, last);
        return 0;
}

JobRunner *job_runner_free(JobRunner *r)
{
        if (!r)
                return NULL;
        /* They may hold work items, requests and bus messages. */
        while (r->jobs)
                job_free(r->jobs);
        free(r);
        return NULL;
}

Job *job_runner_find_active(JobRunner *r, const char *kind)
{
        for (Job *j = r->jobs; j; j = j->next)
                if (!job_is_finished(j) && streq(j->ops->kind, kind))
                        return j;
        return NULL;
}
