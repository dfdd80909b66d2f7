/* SPDX-License-Identifier: MIT */
/* The job runner on a real sd-event loop and event bus, without D-Bus: the
 * table of kinds (needs, conflicts, one of each kind), cancellation of a
 * queued and of a running job, and the events the bus adapter turns into
 * signals. The taste model and the backbone are the real services with no
 * file: the "missing" side of their needs (the present side runs in the
 * integration tests, test-predict and test-embed). */
#include <ftw.h>
#include <systemd/sd-event.h>

#include "core/events.h"
#include "core/session.h"
#include "jobs/kinds.h"
#include "jobs/runner.h"
#include "services/backbone.h"
#include "services/taste.h"
#include "tests.h"

typedef struct Seen {
        unsigned added, removed, changed, finished, jobs_changed;
        unsigned last_mask;
        Job *last_finished;
} Seen;

static void on_event(EventKind kind, const void *payload, void *userdata)
{
        Seen *s = userdata;
        const EventJob *e = payload;

        switch (kind) {
        case EVENT_JOB_ADDED:
                s->added++;
                break;
        case EVENT_JOB_REMOVED:
                s->removed++;
                break;
        case EVENT_JOB_CHANGED:
                s->changed++;
                s->last_mask |= e->mask;
                break;
        case EVENT_JOB_FINISHED:
                s->finished++;
                s->last_finished = e->job;
                break;
        case EVENT_JOBS_CHANGED:
                s->jobs_changed++;
                break;
        default:
                break;
        }
}

typedef struct Work {
        unsigned started, cancelled;
        bool finish_on_cancel;
} Work;

static int work_start(Job *j)
{
        Work *w = j->data;
        w->started++;
        return 0;
}

static void work_cancel(Job *j)
{
        Work *w = j->data;
        w->cancelled++;
        if (w->finish_on_cancel)
                job_finish(j, -ECANCELED, "Stopped after %u.", w->cancelled);
}

static const JobOps sync_ops = {.kind = "sync", .start = work_start, .cancel = work_cancel};
static const JobOps train_ops = {.kind = "train", .start = work_start, .cancel = work_cancel};
static const JobOps import_ops = {.kind = "import", .start = work_start, .cancel = work_cancel};
static const JobOps embed_ops = {.kind = "embed", .start = work_start, .cancel = work_cancel};
static const JobOps odd_ops = {.kind = "no-such-kind", .start = work_start};

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        return remove(path);
}

typedef struct Fixture {
        sd_event *event;
        Events *events;
        Session session;
        TasteService *taste;
        BackboneService *backbone;
        JobRunner *runner;
        Seen seen;
        char *dir;
} Fixture;

static void fixture_init(Fixture *f)
{
        *f = (Fixture){};
        f->dir = test_tmpdir();
        ASSERT_OK(sd_event_new(&f->event));
        ASSERT_OK(events_new(&f->events));
        f->session.events = f->events;
        ASSERT_OK(taste_service_new(f->dir, 0.5, &f->taste));
        ASSERT_OK(backbone_service_new(f->event, f->dir, &f->backbone));
        ASSERT_TRUE(!f->taste->model && !f->backbone->current);
        ASSERT_OK(job_runner_new(f->event, f->events, &f->session, f->taste, f->backbone, &f->runner));
        for (EventKind k = EVENT_JOBS_CHANGED; k <= EVENT_JOB_FINISHED; k++)
                ASSERT_OK(events_subscribe(f->events, k, on_event, &f->seen));
}

static void fixture_done(Fixture *f)
{
        f->runner = job_runner_free(f->runner);
        backbone_service_free(f->backbone);
        taste_service_free(f->taste);
        session_done(&f->session);
        events_free(f->events);
        sd_event_unref(f->event);
        (void)nftw(f->dir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
        free(f->dir);
}

TEST(needs_in_order)
{
        Fixture f;
        Error e = {};
        Work w = {};
        Job *j = NULL;

        fixture_init(&f);
        /* Logged out: a sync may not start, and the table says why. */
        ASSERT_ERROR(job_runner_add(f.runner, &sync_ops, &w, &j, &e), ENOKEY);
        ASSERT_STREQ(e.message, "Not logged in: run \"fluffctl login USERNAME\" first.");
        ASSERT_TRUE(j == NULL && f.seen.added == 0);

        ASSERT_OK(session_set(&f.session, "someone", "key"));
        f.session.checking = true;
        e = (Error){};
        ASSERT_ERROR(job_runner_check(f.runner, "sync", &e), EBUSY);
        ASSERT_STREQ(e.message, "A login is being checked; sync once it is done.");
        f.session.checking = false;

        /* Predict needs the login first, then a model. */
        e = (Error){};
        ASSERT_ERROR(job_runner_check(f.runner, "predict", &e), ENOMEDIUM);
        ASSERT_TRUE(strstr(e.message, "There is no taste model yet") == e.message);
        e = (Error){};
        ASSERT_ERROR(job_runner_add(f.runner, &embed_ops, &w, &j, &e), ENOMEDIUM);
        ASSERT_TRUE(strstr(e.message, "No image backbone is imported") == e.message);
        /* A kind the table does not know is refused, not started blindly. */
        e = (Error){};
        ASSERT_ERROR(job_runner_add(f.runner, &odd_ops, &w, &j, &e), EINVAL);
        ASSERT_TRUE(j == NULL);
        fixture_done(&f);
}

TEST(conflicts_and_one_of_a_kind)
{
        Fixture f;
        Work ws = {}, wt = {}, wt2 = {};
        Error e = {};
        Job *sync, *train = NULL;
        char m[128];

        fixture_init(&f);
        ASSERT_OK(session_set(&f.session, "someone", "key"));
        ASSERT_OK(job_runner_add(f.runner, &sync_ops, &ws, &sync, &e));
        ASSERT_EQ(f.seen.added, 1u);
        ASSERT_EQ(f.seen.jobs_changed, 1u);
        ASSERT_TRUE(job_runner_find_active(f.runner, "sync") == sync);
        ASSERT_OK(job_start(sync));
        ASSERT_EQ(ws.started, 1u);
        ASSERT_EQ(sync->state, JOB_RUNNING);

        /* A second sync: refused, naming the running one twice. */
        ASSERT_ERROR(job_runner_check(f.runner, "sync", &e), EBUSY);
        snprintf(m, sizeof(m), "A sync is already running as job %" PRIu64, sync->id);
        ASSERT_TRUE(strstr(e.message, m) == e.message);
        snprintf(m, sizeof(m), "\"fluffctl cancel %" PRIu64 "\"", sync->id);
        ASSERT_TRUE(strstr(e.message, m) != NULL);

        /* Train is excluded by the sync, and says so before "already running". */
        e = (Error){};
        ASSERT_ERROR(job_runner_add(f.runner, &train_ops, &wt, &train, &e), EBUSY);
        snprintf(m, sizeof(m), "A sync is running as job %" PRIu64 "; train once it is done.", sync->id);
        ASSERT_STREQ(e.message, m);
        ASSERT_TRUE(train == NULL);

        /* Once the sync is done, training may start; a second one may not. */
        job_finish(sync, 0, "Synced.");
        ASSERT_EQ(sync->state, JOB_DONE);
        ASSERT_TRUE(job_runner_find_active(f.runner, "sync") == NULL);
        e = (Error){};
        ASSERT_OK(job_runner_add(f.runner, &train_ops, &wt, &train, &e));
        e = (Error){};
        ASSERT_ERROR(job_runner_add(f.runner, &train_ops, &wt2, &sync, &e), EBUSY);
        ASSERT_TRUE(strstr(e.message, "Training is already running as job") == e.message);
        fixture_done(&f);
}

TEST(cancel_queued_and_running)
{
        Fixture f;
        Work wq = {}, wr = {.finish_on_cancel = true}, wl = {};
        Error e = {};
        Job *queued, *running, *lazy;

        fixture_init(&f);
        ASSERT_OK(session_set(&f.session, "someone", "key"));

        /* Queued: finished at once, its start never runs. */
        ASSERT_OK(job_runner_add(f.runner, &sync_ops, &wq, &queued, &e));
        job_cancel(queued);
        ASSERT_EQ(queued->state, JOB_CANCELLED);
        ASSERT_EQ(wq.started, 0u);
        ASSERT_EQ(wq.cancelled, 0u);
        ASSERT_EQ(f.seen.finished, 1u);
        ASSERT_TRUE(f.seen.last_finished == queued);
        ASSERT_ERROR(job_start(queued), EALREADY);

        /* Running: the kind's cancel runs once, and it ends the job. */
        ASSERT_OK(job_runner_add(f.runner, &sync_ops, &wr, &running, &e));
        ASSERT_OK(job_start(running));
        job_cancel(running);
        job_cancel(running);
        ASSERT_EQ(wr.cancelled, 1u);
        ASSERT_EQ(running->state, JOB_CANCELLED);
        ASSERT_STREQ(running->error_message, "Stopped after 1.");
        ASSERT_STREQ(running->error_name, "io.github.fluffml.Fluff1.Error.Cancelled");

        /* A kind that stops later: the request is remembered, the job runs
         * until the kind finishes it. */
        ASSERT_OK(job_runner_add(f.runner, &import_ops, &wl, &lazy, &e));
        ASSERT_OK(job_start(lazy));
        job_cancel(lazy);
        ASSERT_EQ(wl.cancelled, 1u);
        ASSERT_TRUE(lazy->cancel_requested);
        ASSERT_EQ(lazy->state, JOB_RUNNING);
        ASSERT_TRUE(job_runner_find_active(f.runner, "import") == lazy);
        job_finish(lazy, -ECANCELED, "Import cancelled.");
        ASSERT_EQ(lazy->state, JOB_CANCELLED);
        ASSERT_TRUE(f.seen.last_mask & JOB_PROP_STATE);

        /* Freeing the runner announces every job's removal. */
        ASSERT_EQ(f.seen.added, 3u);
        job_runner_free(f.runner);
        f.runner = NULL;
        ASSERT_EQ(f.seen.removed, 3u);
        fixture_done(&f);
}

TEST(failure_names_the_error)
{
        Fixture f;
        Work w = {};
        Error e = {};
        Job *j;

        fixture_init(&f);
        ASSERT_OK(session_set(&f.session, "someone", "key"));
        ASSERT_OK(job_runner_add(f.runner, &sync_ops, &w, &j, &e));
        ASSERT_OK(job_start(j));
        job_finish(j, -ENETUNREACH, "The site is down.");
        ASSERT_EQ(j->state, JOB_FAILED);
        ASSERT_STREQ(j->error_name, "io.github.fluffml.Fluff1.Error.Network");
        ASSERT_STREQ(j->error_message, "The site is down.");
        /* Finishing twice changes nothing. */
        job_finish(j, 0, "Done after all.");
        ASSERT_EQ(j->state, JOB_FAILED);
        ASSERT_EQ(f.seen.finished, 1u);
        fixture_done(&f);
}

TEST(events_without_subscribers)
{
        /* The event bus is NULL-safe and bounded. */
        Events *ev;
        Seen s = {};

        events_emit(NULL, EVENT_JOBS_CHANGED, NULL);
        ASSERT_OK(events_new(&ev));
        ASSERT_ERROR(events_subscribe(ev, _EVENT_MAX, on_event, &s), EINVAL);
        for (unsigned i = 0; i < 8; i++)
                ASSERT_OK(events_subscribe(ev, EVENT_JOBS_CHANGED, on_event, &s));
        ASSERT_ERROR(events_subscribe(ev, EVENT_JOBS_CHANGED, on_event, &s), ENOBUFS);
        events_emit(ev, EVENT_JOBS_CHANGED, NULL);
        ASSERT_EQ(s.jobs_changed, 8u);
        events_free(ev);
}

TEST_MAIN()
