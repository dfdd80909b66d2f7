/* SPDX-License-Identifier: MIT */
/* The dataset counts (core/counts.c) on a real SQLite file and real worker
 * threads: a count made off the loop arrives on the loop and is announced
 * once; one that a newer count on the loop overtook is dropped, so the
 * numbers never go back; calls while one runs fold into one more; and the
 * labels changed since a model are kept with every count, so RefreshInfo
 * reads them without a pass over the dataset; a model installed with its
 * numbers counted elsewhere costs the loop no pass either. A job's end waits
 * for a count off the loop (counts_refresh_then): it is told only once
 * numbers counted after its call are announced, never by a count that read
 * the store before its change, and never after it was forgotten. */
#include <pthread.h>

#include "core/counts.h"
#include "core/events.h"
#include "store-test-util.h"
#include "work/work.h"

static int announced;

static void on_counts(EventKind kind, const void *payload, void *userdata)
{
        announced++;
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
        TEST_FAIL("the count off the loop never came back");
}

static void run_until_idle(sd_event *e, Counts *c)
{
        _cleanup_(sd_event_source_unrefp) sd_event_source *t = NULL;
        ASSERT_OK(
                sd_event_add_time_relative(e, &t, CLOCK_MONOTONIC, 20 * USEC_PER_SEC, 0, on_timeout, NULL));
        while (c->running)
                ASSERT_OK(sd_event_run(e, UINT64_MAX));
}

/* Until the worker's result waits on the loop, without taking it. */
static void wait_worker(sd_event *e)
{
        int r = sd_event_prepare(e);
        ASSERT_TRUE(r >= 0);
        if (r == 0)
                ASSERT_TRUE(sd_event_wait(e, 20 * USEC_PER_SEC) > 0);
}

/* In one transaction: a count running beside it sees all of them or none. */
static void label(Store *s, uint64_t from, uint64_t to, int value)
{
        ASSERT_OK(store_begin(s, NULL));
        for (uint64_t i = from; i <= to; i++) {
                test_upsert(s, i);
                ASSERT_OK(store_label_set_app(s, i, value, NULL));
        }
        ASSERT_OK(store_commit(s, NULL));
}

TEST(counts_off_the_loop)
{
        _cleanup_free_ char *dir = NULL;
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        WorkPool *pool = NULL;
        Events *events = NULL;
        Store *s = test_store(&dir, NULL);
        uint64_t changed, base;

        ASSERT_OK(sd_event_new(&e));
        ASSERT_OK(work_pool_new(e, 2, &pool));
        ASSERT_OK(events_new(&events));
        ASSERT_OK(events_subscribe(events, EVENT_COUNTS_CHANGED, on_counts, NULL));
        Counts c = {.store = s, .events = events, .work = pool};

        label(s, 1, 30, 1);
        label(s, 31, 50, -1);
        counts_refresh_soon(&c);
        ASSERT_TRUE(c.running);
        ASSERT_EQ(c.now.liked, 0u); /* not yet: the loop did not count */
        run_until_idle(e, &c);
        ASSERT_EQ(c.now.liked, 30u);
        ASSERT_EQ(c.now.disliked, 20u);
        ASSERT_EQ(c.now.posts, 50u);
        ASSERT_EQ(announced, 1);

        /* nothing changed: no announcement */
        counts_refresh_soon(&c);
        run_until_idle(e, &c);
        ASSERT_EQ(announced, 1);

        /* a count on the loop overtakes the one in flight: the older result
         * must not replace the newer numbers */
        counts_refresh_soon(&c);
        wait_worker(e); /* it counted 30 likes; the loop has not seen it yet */
        label(s, 51, 60, 1);
        counts_refresh(&c);
        ASSERT_EQ(c.now.liked, 40u);
        ASSERT_EQ(announced, 2);
        ASSERT_OK(sd_event_dispatch(e));
        ASSERT_FALSE(c.running);
        ASSERT_EQ(c.now.liked, 40u);
        ASSERT_EQ(announced, 2);

        /* calls while one runs fold into one more, which sees the latest */
        counts_refresh_soon(&c);
        counts_refresh_soon(&c);
        counts_refresh_soon(&c);
        label(s, 61, 65, -1);
        ASSERT_TRUE(c.again);
        run_until_idle(e, &c);
        ASSERT_EQ(c.now.disliked, 25u);
        ASSERT_EQ(announced, 3);

        /* the labels changed since a model: asked once, then kept by every
         * count, on the loop or off it */
        StoreLabelled *ds = NULL;
        size_t n;
        uint64_t id;
        ASSERT_OK(store_dataset_list(s, &ds, &n, NULL));
        StoreModel m = {.state = STORE_MODEL_INSTALLED,
                        .trigger = "manual",
                        .towers = "both",
                        .n_labels = n,
                        .n_pos = 40,
                        .n_neg = 25,
                        .auc = 0.8,
                        .info = "{}"};
        ASSERT_OK(store_model_add(s, &m, ds, n, &id, NULL));
        free(ds);
        ASSERT_OK(counts_labels_changed(&c, id, &changed, &base, NULL));
        ASSERT_EQ(changed, 0u);
        ASSERT_EQ(base, 65u);
        ASSERT_OK(store_label_set_app(s, 1, -1, NULL)); /* flipped */
        label(s, 66, 67, 1);                            /* new */
        counts_refresh_soon(&c);
        run_until_idle(e, &c);
        ASSERT_OK(counts_labels_changed(&c, id, &changed, &base, NULL));
        ASSERT_EQ(changed, 3u);
        ASSERT_OK(store_label_set_app(s, 2, -1, NULL));
        counts_refresh(&c);
        ASSERT_OK(counts_labels_changed(&c, id, &changed, &base, NULL));
        ASSERT_EQ(changed, 4u);
        ASSERT_ERROR(counts_labels_changed(&c, 404, &changed, &base, NULL), ENOENT);

        /* a model installed with its numbers counted off the loop: they are
         * read as given (no pass on the loop), and the count that follows
         * takes in a label changed after the installer counted */
        uint64_t id2;
        ASSERT_OK(store_dataset_list(s, &ds, &n, NULL));
        m.n_labels = n;
        ASSERT_OK(store_model_add(s, &m, ds, n, &id2, NULL));
        free(ds);
        ASSERT_OK(store_label_set_app(s, 3, -1, NULL));
        counts_model_installed(&c, id2, 0, n);
        ASSERT_OK(counts_labels_changed(&c, id2, &changed, &base, NULL));
        ASSERT_EQ(changed, 0u);
        ASSERT_EQ(base, n);
        ASSERT_TRUE(c.running);
        run_until_idle(e, &c);
        ASSERT_OK(counts_labels_changed(&c, id2, &changed, &base, NULL));
        ASSERT_EQ(changed, 1u);
        ASSERT_EQ(base, n);

        pool = work_pool_free(pool);
        counts_done(&c);
        ASSERT_TRUE(!c.reader);
        events = events_free(events);
        store_free(s);
        test_rm_rf(dir);
}

typedef struct Waiter {
        Counts *c;
        int calls;
        uint64_t liked_seen; /* the counts when told */
        bool again;          /* asks for one more count when told */
} Waiter;

static void on_counted(void *userdata)
{
        Waiter *w = userdata;
        w->calls++;
        w->liked_seen = w->c->now.liked;
        if (w->again) {
                w->again = false;
                ASSERT_EQ(counts_refresh_then(w->c, on_counted, w), 1);
        }
}

static void run_until_told(sd_event *e, const Waiter *w, int calls)
{
        _cleanup_(sd_event_source_unrefp) sd_event_source *t = NULL;
        ASSERT_OK(
                sd_event_add_time_relative(e, &t, CLOCK_MONOTONIC, 20 * USEC_PER_SEC, 0, on_timeout, NULL));
        while (w->calls < calls)
                ASSERT_OK(sd_event_run(e, UINT64_MAX));
}

TEST(counts_then)
{
        _cleanup_free_ char *dir = NULL;
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        WorkPool *pool = NULL;
        Events *events = NULL;
        Store *s = test_store(&dir, NULL);

        ASSERT_OK(sd_event_new(&e));
        ASSERT_OK(work_pool_new(e, 2, &pool));
        ASSERT_OK(events_new(&events));
        Counts c = {.store = s, .events = events, .work = pool};
        Waiter a = {.c = &c}, b = {.c = &c}, gone = {.c = &c};

        /* told later, on the loop, with the new numbers */
        label(s, 1, 10, 1);
        ASSERT_EQ(counts_refresh_then(&c, on_counted, &a), 1);
        ASSERT_EQ(a.calls, 0);
        run_until_told(e, &a, 1);
        ASSERT_EQ(a.liked_seen, 10u);

        /* a count already read the store before the change: its answer must
         * not end the wait, the next count's does */
        counts_refresh_soon(&c);
        wait_worker(e); /* it counted 10 likes */
        label(s, 11, 15, 1);
        ASSERT_EQ(counts_refresh_then(&c, on_counted, &b), 1);
        ASSERT_EQ(counts_refresh_then(&c, on_counted, &gone), 1);
        counts_forget(&c, &gone);
        ASSERT_OK(sd_event_dispatch(e));
        ASSERT_EQ(c.now.liked, 10u);
        ASSERT_EQ(b.calls, 0);
        run_until_told(e, &b, 1);
        ASSERT_EQ(b.liked_seen, 15u);

        /* a waiter may ask again from its call */
        a.again = true;
        label(s, 16, 17, 1);
        ASSERT_EQ(counts_refresh_then(&c, on_counted, &a), 1);
        run_until_told(e, &a, 3);
        ASSERT_EQ(a.liked_seen, 17u);
        run_until_idle(e, &c);
        ASSERT_EQ(gone.calls, 0);
        ASSERT_EQ(c.n_waiters, 0u);

        /* the next count cannot go to a worker: counted on the loop, and
         * everyone waiting told */
        label(s, 18, 18, 1);
        ASSERT_EQ(counts_refresh_then(&c, on_counted, &a), 1);
        ASSERT_EQ(counts_refresh_then(&c, on_counted, &b), 1); /* waits for a count after the running one */
        c.work = NULL;
        run_until_told(e, &b, 2);
        ASSERT_EQ(b.liked_seen, 18u);
        ASSERT_EQ(c.n_waiters, 0u);
        c.work = pool;

        /* no workers: counted on the loop at once, and not told */
        pool = work_pool_free(pool);
        c.work = NULL;
        label(s, 19, 19, 1);
        ASSERT_EQ(counts_refresh_then(&c, on_counted, &b), 0);
        ASSERT_EQ(c.now.liked, 19u);
        ASSERT_EQ(b.calls, 2);

        counts_done(&c);
        events = events_free(events);
        store_free(s);
        test_rm_rf(dir);
}

TEST_MAIN()
