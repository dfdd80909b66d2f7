/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "core/counts.h"
#include "core/events.h"
#include "fluff/error.h"
#include "fluff/util.h"
#include "work/work.h"

typedef struct CountsWork {
        Counts *c;
        uint64_t generation, model_id, ticket;
        StoreCounts n;
        uint64_t changed, base;
} CountsWork;

static int count(Store *s, uint64_t model_id, StoreCounts *n, uint64_t *changed, uint64_t *base,
                 Error *error)
{
        int r = store_counts(s, n, error);
        if (r >= 0 && model_id != 0)
                r = store_model_labels_changed(s, model_id, changed, base, error);
        return r;
}

static void apply(Counts *c, const StoreCounts *n, uint64_t changed, uint64_t base)
{
        c->changed = changed;
        c->base = base;
        if (memcmp(n, &c->now, sizeof(*n)) == 0)
                return;
        c->now = *n;
        events_emit(c->events, EVENT_COUNTS_CHANGED, NULL);
}

void counts_refresh(Counts *c)
{
        StoreCounts n;
        uint64_t changed = 0, base = 0;
        Error db = {};
        int r;

        c->generation++;
        r = count(c->store, c->model_id, &n, &changed, &base, &db);
        if (r == -ENOENT && c->model_id != 0) {
                c->model_id = 0; /* removed from the history */
                db = (Error){};
                r = store_counts(c->store, &n, &db);
        }
        if (r < 0) {
                log_debug_errno(r, "Failed to count the dataset, ignoring: %s", error_message(&db, r));
                return;
        }
        apply(c, &n, changed, base);
}

static int work_run(void *userdata)
{
        CountsWork *w = userdata;
        Counts *c = w->c;
        Error error = {};
        int r;

        /* Only this item uses the reader: one runs at a time. */
        if (!c->reader) {
                r = store_open(store_path(c->store), &c->reader, &error);
                if (r < 0)
                        return log_debug_errno(r, "%s", error_message(&error, r));
        }
        r = count(c->reader, w->model_id, &w->n, &w->changed, &w->base, &error);
        if (r < 0)
                log_debug_errno(r, "Failed to count the dataset off the loop: %s", error_message(&error, r));
        return r;
}

/* Calls the waiters that count `ticket` answers, one at a time, each taken
 * off the list first: a waiter may ask for another count. */
static void wake(Counts *c, uint64_t ticket)
{
        for (size_t i = 0; i < c->n_waiters;) {
                CountsWaiter w = c->waiters[i];
                if (w.ticket > ticket) {
                        i++;
                        continue;
                }
                memmove(c->waiters + i, c->waiters + i + 1, (c->n_waiters - i - 1) * sizeof(CountsWaiter));
                c->n_waiters--;
                w.done(w.userdata);
                i = 0;
        }
}

static int submit(Counts *c);

static void work_done(void *userdata, int r)
{
        CountsWork *w = userdata;
        Counts *c = w->c;

        c->running = false;
        /* a count on the loop since, or another model asked for, is newer */
        if (r >= 0 && w->generation == c->generation && w->model_id == c->model_id)
                apply(c, &w->n, w->changed, w->base);
        if (c->again) {
                c->again = false;
                if (submit(c) < 0) {
                        /* counted on the loop, after every waiter's call */
                        counts_refresh(c);
                        wake(c, UINT64_MAX);
                        return;
                }
        }
        /* a failed count leaves the numbers as they were; waiting longer
         * would not mend them */
        wake(c, w->ticket);
}

static int submit(Counts *c)
{
        CountsWork *w;
        int r;

        w = c->work ? calloc(1, sizeof(CountsWork)) : NULL;
        if (!w)
                return -ENOMEM;
        *w = (CountsWork){
                .c = c, .generation = c->generation, .model_id = c->model_id, .ticket = c->ticket + 1};
        r = work_pool_submit(c->work, c, work_run, work_done, free, w);
        if (r < 0) {
                free(w);
                return r;
        }
        c->ticket++;
        c->running = true;
        return 0;
}

void counts_refresh_soon(Counts *c)
{
        if (c->running)
                c->again = true;
        else if (submit(c) < 0)
                counts_refresh(c);
}

int counts_refresh_then(Counts *c, counts_done_t done, void *userdata)
{
        uint64_t ticket;

        /* the running count may have read the store before the caller's
         * change: the next one answers */
        if (c->running) {
                c->again = true;
                ticket = c->ticket + 1;
        } else if (submit(c) >= 0)
                ticket = c->ticket;
        else {
                counts_refresh(c);
                return 0;
        }
        CountsWaiter *a = reallocarray(c->waiters, c->n_waiters + 1, sizeof(CountsWaiter));
        if (!a) {
                counts_refresh(c);
                return 0;
        }
        c->waiters = a;
        c->waiters[c->n_waiters++] = (CountsWaiter){.done = done, .userdata = userdata, .ticket = ticket};
        return 1;
}

void counts_forget(Counts *c, const void *userdata)
{
        size_t k = 0;

        for (size_t i = 0; i < c->n_waiters; i++)
                if (c->waiters[i].userdata != userdata)
                        c->waiters[k++] = c->waiters[i];
        c->n_waiters = k;
}

int counts_labels_changed(Counts *c, uint64_t model_id, uint64_t *ret_changed, uint64_t *ret_base,
                          Error *error)
{
        if (model_id != c->model_id) {
                uint64_t changed, base;
                int r = store_model_labels_changed(c->store, model_id, &changed, &base, error);
                if (r < 0)
                        return r;
                c->generation++; /* a worker's count for the old model is stale */
                c->model_id = model_id;
                c->changed = changed;
                c->base = base;
        }
        *ret_changed = c->changed;
        *ret_base = c->base;
        return 0;
}

void counts_model_installed(Counts *c, uint64_t model_id, uint64_t changed, uint64_t base)
{
        c->generation++; /* a worker's count for the old model is stale */
        c->model_id = model_id;
        c->changed = changed;
        c->base = base;
        counts_refresh_soon(c);
}

void counts_done(Counts *c)
{
        c->reader = store_free(c->reader);
        free(c->waiters);
        c->waiters = NULL;
        c->n_waiters = 0;
}
