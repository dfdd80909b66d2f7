/* SPDX-License-Identifier: MIT */
#pragma once

/* Watched searches: adding, removing and listing them (watch.c) and the
 * RunWatches job (watch-job.c).
 *
 * A run scores, per watch, the posts newer than its last_seen_id through a
 * PredictPass, keeps those at or above its threshold (best first, at most
 * max_per_run), and commits them as a prediction run of the watch together
 * with the new last_seen_id in one transaction, then announces them
 * (EVENT_PREDICTIONS_ANNOUNCED, which the bus turns into NewPredictions). So a crash before the commit
 * rescans the same posts, and one after it leaves the run stored (GetPredictions, fluffctl review) though
 * maybe unannounced: nothing is lost or announced twice.
 *
 * A brand-new watch (last_seen_id 0) looks at the newest
 * WATCH_FIRST_RUN_POSTS posts only: it announces the best of what is there
 * now and from then on only what is new, never the query's whole history.
 * A later run scores at most PREDICT_COUNT_MAX new posts (PREDICT_PAGES_MAX
 * pages); older new posts beyond that are passed over. */

#include <stdbool.h>
#include <stdint.h>

#include "fluff/error.h"
#include "predict/predict.h"

typedef struct Context Context;
typedef struct Job Job;
typedef struct JobRunner JobRunner;
typedef struct TasteService TasteService;

#define WATCH_FIRST_RUN_POSTS 40u
#define WATCH_MAX_PER_RUN_MAX 320u
/* Watch runs are kept this long, and at most this many, for the
 * notifications and "fluffctl review" that show them. */
#define WATCH_RUNS_KEEP_DAYS 30u
#define WATCH_RUNS_KEEP 500u

typedef struct WatchJobOptions {
        uint64_t watch; /* 0: every watch */
        bool include_animated;
} WatchJobOptions;

/* A new, queued RunWatches job: -ENOENT for an unknown o->watch, else
 * job_runner_check()'s refusals. */
int watch_job_create(const Predictor *pr, JobRunner *runner, const WatchJobOptions *o, Job **ret,
                     Error *error);

/* tags: a normalised query. threshold NAN: the model's like threshold (0.5
 * without one); max_per_run 0: the config's. */
int watch_add(Context *ctx, const TasteService *taste, const char *tags, double threshold,
              unsigned max_per_run, uint64_t *ret_id, Error *error);
/* -ENOENT for an unknown id. */
int watch_remove(Context *ctx, uint64_t id, Error *error);
/* By id; free with watch_array_free(). */
int watch_list(Context *ctx, Watch **ret, size_t *ret_n, Error *error);

/* "$XDG_CACHE_HOME/fluff/watches". */
int watch_dir(char **ret);
