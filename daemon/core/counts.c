/* SPDX-License-Identifier: MIT */
#include "core/counts.h"
#include "core/events.h"
#include "fluff/error.h"
#include "fluff/util.h"
#include "work/work.h"

typedef struct CountsWork {
        Counts *c;
        uint64_t generation, model_id;
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
                counts_refresh_soon(c);
        }
}

void counts_refresh_soon(Counts *c)
{
        CountsWork *w;
        int r;

        if (c->running) {
                c->again = true;
                return;
        }
        w = c->work ? calloc(1, sizeof(CountsWork)) : NULL;
        if (!w) {
                counts_refresh(c);
                return;
        }
        *w = (CountsWork){.c = c, .generation = c->generation, .model_id = c->model_id};
        r = work_pool_submit(c->work, c, work_run, work_done, free, w);
        if (r < 0) {
                free(w);
                counts_refresh(c);
                return;
        }
        c->running = true;
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

void counts_done(Counts *c)
{
        c->reader = store_free(c->reader);
}
