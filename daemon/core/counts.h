/* SPDX-License-Identifier: MIT */
#pragma once

/* The dataset counts as last announced (the Manager's *Count and Outbox*
 * properties read them), and how many labels changed since the installed
 * model was trained (RefreshInfo and the retrain trigger read that).
 *
 * Counting is a pass over every label: at 100,000 labelled posts that takes
 * 0.3–0.9 s, too long for the loop while a job runs. So a job's progress
 * counts are made off the loop, on a second connection
 * (counts_refresh_soon), and a job's end, which a client reads at once,
 * waits for such a count before it finishes (counts_refresh_then), and so
 * does a vote's reply. The loop counts itself (counts_refresh) only where no
 * worker takes the count, and after an embedding job forgot images. */

#include "fluff/error.h"
#include "store.h"

typedef struct Events Events;
typedef struct WorkPool WorkPool;

typedef void (*counts_done_t)(void *userdata);

typedef struct CountsWaiter {
        counts_done_t done;
        void *userdata;
        uint64_t ticket; /* the first count that started after the call */
} CountsWaiter;

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
        uint64_t ticket;       /* counts started off the loop so far */
        CountsWaiter *waiters; /* owned */
        size_t n_waiters;
} Counts;

/* Counts now, on the loop, and announces the counts (EVENT_COUNTS_CHANGED)
 * when they changed. */
void counts_refresh(Counts *c);
/* The same on a worker thread; the announcement follows on the loop. Calls
 * while one runs fold into one more. */
void counts_refresh_soon(Counts *c);
/* Counts off the loop and calls done(userdata) on the loop once numbers
 * counted after this call are announced. 1 when done follows; 0 when the
 * count ran on the loop already (no worker could take it) and done will not
 * be called. */
int counts_refresh_then(Counts *c, counts_done_t done, void *userdata);
/* Drops what counts_refresh_then() would still call for userdata. */
void counts_forget(Counts *c, const void *userdata);
/* Labels changed since model_id was trained, and the model's label count:
 * kept up to date by every refresh once asked for, so only the first call
 * for a model counts on the loop. -ENOENT: no such model. */
int counts_labels_changed(Counts *c, uint64_t model_id, uint64_t *ret_changed, uint64_t *ret_base,
                          Error *error);
/* Model model_id is installed now, with changed and base counted for it off
 * the loop (as counts_labels_changed() would count them), so the loop need
 * not. A count follows on a worker for a label changed since. */
void counts_model_installed(Counts *c, uint64_t model_id, uint64_t changed, uint64_t base);
/* Waits for nothing: call after the work pool has finished its items. */
void counts_done(Counts *c);
