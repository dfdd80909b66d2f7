/* SPDX-License-Identifier: MIT */
#pragma once

/* The Sync job: walks the user's favourites, upvotes and downvotes on the site
 * into the store (labels with their source; a label whose vote or favourite
 * is gone is dropped once its whole list was walked), stores the blacklist,
 * then downloads and crops every missing image. Each page and each image is
 * committed as it goes, so a killed sync loses at most what was in flight. */

typedef struct Daemon Daemon;
typedef struct Job Job;

int sync_job_new(Daemon *d, Job **ret);
