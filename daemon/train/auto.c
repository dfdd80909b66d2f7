/* SPDX-License-Identifier: MIT */
/* The automatic retraining, asked for by each refresh (see train.h). */
#include <inttypes.h>
#include <stdio.h>

#include "config.h"
#include "core/context.h"
#include "jobs/runner.h"
#include "services/refresh.h"
#include "services/taste.h"
#include "train/train.h"

static bool any_job_running(JobRunner *runner)
{
        for (Job *j = runner->jobs; j; j = j->next)
                if (!job_is_finished(j))
                        return true;
        return false;
}

int train_auto_start(Context *ctx, BackboneService *backbone, TasteService *taste, JobRunner *runner,
                     bool on_battery, Job **ret, char *reason, size_t reason_size, Error *error)
{
        const Config *cfg = ctx->config;
        RetrainCheck c;
        int r;

        *ret = NULL;
        if (!cfg->auto_retrain) {
                (void)snprintf(reason, reason_size,
                               "automatic retraining is turned off (auto_retrain = false)");
                return 0;
        }
        Error db = {};
        r = refresh_retrain_check(ctx->store, &ctx->counts, cfg, taste->installed_id, &c, &db);
        if (r < 0)
                return error_setf(error, r, "Failed to count the changed labels: %s", error_message(&db, r));
        if (!c.due) {
                (void)snprintf(reason, reason_size,
                               "%" PRIu64
                               " labels changed since the installed model; a retraining starts at %" PRIu64
                               "%s",
                               c.changed,
                               c.need_fraction > 0 ? MIN(c.need_changes, c.need_fraction) : c.need_changes,
                               c.need_fraction > 0 ? "" : " (no model yet)");
                return 0;
        }
        if (any_job_running(runner)) {
                (void)snprintf(reason, reason_size, "another job is running; the next refresh tries again");
                return 0;
        }
        if (on_battery && !cfg->retrain_on_battery) {
                (void)snprintf(reason, reason_size,
                               "the computer is on battery; the next refresh on mains power retrains");
                return 0;
        }
        TrainJobOptions o = {
                .time_budget_s = cfg->retrain_budget_s,
                .seed = 1,
                .towers = TRAIN_TOWERS_BOTH,
                .automatic = true,
        };
        r = train_job_create(ctx, backbone, taste, runner, &o, ret, error);
        if (r < 0)
                return r;
        (void)snprintf(reason, reason_size, "%" PRIu64 " labels changed since the installed model%s",
                       c.changed, c.interrupted ? " (the last automatic retraining was stopped)" : "");
        log_info("Retraining by itself: %s.", reason);
        return 0;
}
