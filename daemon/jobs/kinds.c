/* SPDX-License-Identifier: MIT */
#include <inttypes.h>

#include "core/session.h"
#include "jobs/kinds.h"
#include "jobs/runner.h"
#include "services/backbone.h"
#include "services/taste.h"

static const JobConflict train_conflicts[] = {
        {"sync", "A sync is running as job %1$" PRIu64 "; train once it is done."},
        {},
};

static const JobKind job_kinds[] = {
        {
                .name = "sync",
                .needs = JOB_NEED_LOGIN | JOB_NEED_NO_LOGIN_CHECK,
                .busy = "A sync is already running as job %1$" PRIu64
                        "; follow it with \"fluffctl jobs\" or "
                        "cancel it with \"fluffctl cancel %1$" PRIu64 "\".",
        },
        {
                .name = "import",
                .busy = "An import is already running as job %1$" PRIu64 ".",
        },
        {
                .name = "embed",
                .needs = JOB_NEED_BACKBONE,
                .busy = "Images are already being embedded as job %1$" PRIu64 ".",
        },
        {
                .name = "train",
                .conflicts = train_conflicts,
                .busy = "Training is already running as job %1$" PRIu64
                        "; follow it with \"fluffctl jobs\" or "
                        "cancel it with \"fluffctl cancel %1$" PRIu64 "\".",
        },
        {
                .name = "predict",
                .needs = JOB_NEED_LOGIN | JOB_NEED_MODEL,
                .busy = "A prediction is already running as job %1$" PRIu64
                        "; wait for it or cancel it with "
                        "\"fluffctl cancel %1$" PRIu64 "\".",
        },
        {
                .name = "watch",
                .needs = JOB_NEED_LOGIN | JOB_NEED_MODEL,
                .busy = "The watches are already running as job %1$" PRIu64
                        "; wait for it or cancel it with "
                        "\"fluffctl cancel %1$" PRIu64 "\".",
        },
};

const JobKind *job_kind_find(const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(job_kinds); i++)
                if (streq(job_kinds[i].name, name))
                        return &job_kinds[i];
        return NULL;
}

/* The formats are the constants of the table above, each taking one id. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static int busy(Error *e, const char *format, uint64_t id)
{
        char m[ERROR_MESSAGE_MAX];

        (void)snprintf(m, sizeof(m), format, id);
        return error_setf(e, -EBUSY, "%s", m);
}
#pragma GCC diagnostic pop

int job_runner_check(JobRunner *r, const char *kind, Error *e)
{
        const JobKind *k = job_kind_find(kind);
        Job *j;

        if (!k)
                return error_setf(e, -EINVAL, "Unknown job kind \"%s\".", kind);
        if ((k->needs & JOB_NEED_LOGIN) && !session_logged_in(r->session))
                return error_setf(e, -ENOKEY, "Not logged in: run \"fluffctl login USERNAME\" first.");
        if ((k->needs & JOB_NEED_NO_LOGIN_CHECK) && r->session->checking)
                return error_setf(e, -EBUSY, "A login is being checked; %s once it is done.", k->name);
        if ((k->needs & JOB_NEED_MODEL) && !r->taste->model)
                return error_setf(
                        e, -ENOMEDIUM,
                        "There is no taste model yet: run \"fluffctl sync\" and \"fluffctl train\" "
                        "first.");
        if ((k->needs & JOB_NEED_BACKBONE) && !r->backbone->current)
                return error_setf(e, -ENOMEDIUM, BACKBONE_NO_MODEL_HINT);
        for (const JobConflict *c = k->conflicts; c && c->kind; c++) {
                j = job_runner_find_active(r, c->kind);
                if (j)
                        return busy(e, c->message, j->id);
        }
        j = job_runner_find_active(r, kind);
        if (j)
                return busy(e, k->busy, j->id);
        return 0;
}

int job_runner_add(JobRunner *r, const JobOps *ops, void *data, Job **ret, Error *e)
{
        int k;

        k = job_runner_check(r, ops->kind, e);
        if (k < 0)
                return k;
        k = job_new(r, ops, data, ret);
        if (k < 0)
                return error_setf(e, k, "Failed to create the %s job: %s", ops->kind, strerror(-k));
        return 0;
}
