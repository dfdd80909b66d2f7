/* SPDX-License-Identifier: MIT */
#pragma once

/* The dataset counts as last announced (the Manager's *Count and Outbox*
 * properties read them), and how many labels changed since the installed
 * model was trained (RefreshInfo and the retrain trigger read that).
 *
 * Counting is a pass over every label: at 100,000 labelled posts that is
 * about a tenth of a second, too long for the loop to do once a second while a
 * sync runs (status answered in 160 ms at the median, 627 ms at p99). So a
 * job's progress counts are made off the loop, on a second connection
 * (counts_refresh_soon); the loop counts itself only where a caller must see
 * the new numbers at once — a job's end, a vote (counts_refresh). */

#include "fluff/error.h"
#include "store.h"

typedef struct Events Events;
typedef struct WorkPool WorkPool;

typedef struct Counts {
        StoreCounts now;        /* as last announced */
        uint64_t model_id;      /* what changed/base compare with; 0: not asked yet */
        uint64_t changed, base; /* labels changed since model_id was trained; its labels */
        Store *store;           /* borrowed: the loop's connection */
        Events *events;         /* borrowed */
        WorkPool *work;         /* borrowed */
        Store *reader;          /* owned: the workers' connection, one refresh at a time */
        uint64_t generation;    /* bumped by each count on the loop; an older one from a worker is dropped */
        bool running, again;
} Counts;

/* Counts now, on the loop, and announces the counts (EVENT_COUNTS_CHANGED)
 * when they changed. */
void counts_refresh(Counts *c);
/* The same on a worker thread; the announcement follows on the loop. Calls
 * while one runs fold into one more. */
void counts_refresh_soon(Counts *c);
/* Labels changed since model_id was trained, and the model's label count:
 * kept up to date by every refresh once asked for, so only the first call
 * for a model counts on the loop. -ENOENT: no such model. */
int counts_labels_changed(Counts *c, uint64_t model_id, uint64_t *ret_changed, uint64_t *ret_base,
                          Error *error);
/* Waits for nothing: call after the work pool has finished its items. */
void counts_done(Counts *c);
