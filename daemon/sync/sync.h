/* SPDX-License-Identifier: MIT */
#pragma once

/* The Sync job: walks the user's favourites, upvotes and downvotes on the site
 * into the store (labels with their source; a label whose vote or favourite
 * is gone is dropped once its whole list was walked), stores the blacklist,
 * then downloads and crops every missing image. Each page and each image is
 * committed as it goes, so a killed sync loses at most what was in flight. */

#include <stdbool.h>

#include "fluff/error.h"

typedef struct Context Context;
typedef struct Job Job;
typedef struct JobRunner JobRunner;

typedef struct SyncJobOptions {
        int mode;       /* a SyncMode (services/refresh.h): FULL (Sync's default), INCREMENTAL or AUTO */
        bool automatic; /* asked for by the timer's refresh */
} SyncJobOptions;

/* A new, queued Sync job (job_runner_check()'s refusals in e); it keeps the
 * parts of ctx it uses (store, site client, config, session, counts, events,
 * work pool, images folder), not ctx. When it is
 * done it announces EVENT_IMAGES_ADDED. An incremental sync walks each list
 * newest first and stops at the first page that reaches a post it already
 * holds in that list: new votes on new posts in a page or two, but removed
 * votes (and votes on old posts) only at the next full sync. */
int sync_job_create(Context *ctx, JobRunner *runner, const SyncJobOptions *o, Job **ret, Error *e);
