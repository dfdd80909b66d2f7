/* SPDX-License-Identifier: MIT */
#pragma once

/* The Sync job: walks the user's favourites, upvotes and downvotes on the site
 * into the store (labels with their source; a label whose vote or favourite
 * is gone is dropped once its whole list was walked), stores the blacklist,
 * then downloads and crops every missing image. Each page and each image is
 * committed as it goes, so a killed sync loses at most what was in flight. */

#include "fluff/error.h"

typedef struct Context Context;
typedef struct Job Job;
typedef struct JobRunner JobRunner;

/* A new, queued Sync job (job_runner_check()'s refusals in e). When it is
 * done it announces EVENT_IMAGES_ADDED. */
int sync_job_create(Context *ctx, JobRunner *runner, Job **ret, Error *e);
