/* SPDX-License-Identifier: MIT */
/* The worker pool: work runs off the loop thread, every done() runs on the
 * loop thread exactly once with run()'s result, forgotten owners get no
 * done() but still their destroy(), and freeing with work queued neither
 * leaks nor runs it. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "tests.h"
#include "work/work.h"

typedef struct Item {
        int value;
        pthread_t ran_on;
        int *done_count, *destroy_count;
        int result;
        unsigned sleep_ms;
} Item;

static pthread_t loop_thread;

static int run_square(void *userdata)
{
        Item *i = userdata;
        i->ran_on = pthread_self();
        if (i->sleep_ms)
                (void)nanosleep(&(struct timespec){ 0, i->sleep_ms * 1000000L }, NULL);
        return i->value * i->value;
}

static int run_fail(void *userdata)
{
        return -EBADMSG;
}

static void done_count(void *userdata, int r)
{
        Item *i = userdata;
        ASSERT_TRUE(pthread_equal(pthread_self(), loop_thread));
        i->result = r;
        (*i->done_count)++;
}

static void destroy_item(void *userdata)
{
        Item *i = userdata;
        (*i->destroy_count)++;
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
        TEST_FAIL("the pool never delivered its results");
}

static void run_until(sd_event *e, int *counter, int target)
{
        _cleanup_(sd_event_source_unrefp) sd_event_source *t = NULL;
        ASSERT_OK(sd_event_add_time_relative(e, &t, CLOCK_MONOTONIC, 10 * USEC_PER_SEC, 0, on_timeout, NULL));
        while (*counter < target)
                ASSERT_OK(sd_event_run(e, UINT64_MAX));
}

TEST(results_arrive_on_loop)
{
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(work_pool_freep) WorkPool *p = NULL;
        Item items[64];
        int done = 0, destroyed = 0;

        loop_thread = pthread_self();
        ASSERT_OK(sd_event_new(&e));
        ASSERT_OK(work_pool_new(e, 3, &p));
        ASSERT_EQ(work_pool_threads(p), 0u); /* idle pools own no threads */

        for (int k = 0; k < 64; k++) {
                items[k] = (Item){ .value = k, .done_count = &done, .destroy_count = &destroyed, .result = -1 };
                ASSERT_OK(work_pool_submit(p, &done, k == 13 ? run_fail : run_square, done_count, destroy_item,
                                           &items[k]));
        }
        ASSERT_TRUE(work_pool_threads(p) <= 3u);
        run_until(e, &done, 64);
        ASSERT_EQ(done, 64);
        ASSERT_EQ(destroyed, 64);
        ASSERT_EQ(work_pool_pending(p), 0u);
        for (int k = 0; k < 64; k++) {
                if (k == 13) {
                        ASSERT_EQ(items[k].result, -EBADMSG);
                        continue;
                }
                ASSERT_EQ(items[k].result, k * k);
                ASSERT_FALSE(pthread_equal(items[k].ran_on, loop_thread));
        }
}

TEST(forget_skips_done)
{
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(work_pool_freep) WorkPool *p = NULL;
        Item slow[4], other[2];
        int done = 0, destroyed = 0, other_done = 0, other_destroyed = 0;
        int owner_a, owner_b;

        loop_thread = pthread_self();
        ASSERT_OK(sd_event_new(&e));
        ASSERT_OK(work_pool_new(e, 1, &p));
        for (int k = 0; k < 4; k++) {
                slow[k] = (Item){ .value = k, .done_count = &done, .destroy_count = &destroyed, .sleep_ms = 50 };
                ASSERT_OK(work_pool_submit(p, &owner_a, run_square, done_count, destroy_item, &slow[k]));
        }
        for (int k = 0; k < 2; k++) {
                other[k] = (Item){ .value = k, .done_count = &other_done, .destroy_count = &other_destroyed };
                ASSERT_OK(work_pool_submit(p, &owner_b, run_square, done_count, destroy_item, &other[k]));
        }
        /* owner_a goes away: at most the one item already running is still
         * destroyed later; its done() must never be called. */
        work_pool_forget(p, &owner_a);
        ASSERT_TRUE(destroyed >= 3);
        run_until(e, &other_done, 2);
        while (work_pool_pending(p) > 0)
                ASSERT_OK(sd_event_run(e, 100 * USEC_PER_MSEC));
        ASSERT_EQ(done, 0);
        ASSERT_EQ(destroyed, 4);
        ASSERT_EQ(other_destroyed, 2);
}

TEST(free_with_queued_work)
{
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        WorkPool *p = NULL;
        Item items[8];
        int done = 0, destroyed = 0;

        ASSERT_OK(sd_event_new(&e));
        ASSERT_OK(work_pool_new(e, 1, &p));
        for (int k = 0; k < 8; k++) {
                items[k] = (Item){ .value = k, .done_count = &done, .destroy_count = &destroyed, .sleep_ms = 20 };
                ASSERT_OK(work_pool_submit(p, &done, run_square, done_count, destroy_item, &items[k]));
        }
        p = work_pool_free(p);
        ASSERT_EQ(done, 0);
        ASSERT_EQ(destroyed, 8);
}

TEST(bad_arguments)
{
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(work_pool_freep) WorkPool *p = NULL;

        ASSERT_OK(sd_event_new(&e));
        ASSERT_OK(work_pool_new(e, 0, &p));
        ASSERT_EQ(work_pool_submit(p, NULL, run_square, NULL, NULL, NULL), -EINVAL);
        ASSERT_EQ(work_pool_submit(p, &e, NULL, NULL, NULL, NULL), -EINVAL);
        work_pool_forget(NULL, &e);
        ASSERT_TRUE(work_pool_free(NULL) == NULL);
}

/* Returns which fault signals the worker thread has blocked (a bit per signal). */
static int run_blocked_faults(void *userdata)
{
        static const int faults[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT };
        sigset_t cur;
        int blocked = 0;

        pthread_sigmask(SIG_BLOCK, NULL, &cur);
        for (size_t k = 0; k < ELEMENTSOF(faults); k++)
                if (sigismember(&cur, faults[k]))
                        blocked |= 1 << k;
        return blocked;
}

TEST(workers_keep_fault_signals)
{
        /* A fault with SIGSEGV blocked kills the process without running any
         * handler: no sanitizer report, no core from it, nothing in the log. */
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(work_pool_freep) WorkPool *p = NULL;
        Item item = { 0 };
        int done = 0, destroyed = 0;

        loop_thread = pthread_self();
        item.done_count = &done;
        item.destroy_count = &destroyed;
        item.result = -1;
        ASSERT_OK(sd_event_new(&e));
        ASSERT_OK(work_pool_new(e, 1, &p));
        ASSERT_OK(work_pool_submit(p, &done, run_blocked_faults, done_count, destroy_item, &item));
        run_until(e, &done, 1);
        ASSERT_EQ(item.result, 0);
}

/* This thread's nice value × 10 plus its I/O priority class (ioprio_get, IOPRIO_WHO_PROCESS). */
static int run_priority(void *userdata)
{
        pid_t tid = (pid_t)syscall(SYS_gettid);
        errno = 0;
        int nice_value = getpriority(PRIO_PROCESS, (id_t)tid);
        long io = syscall(SYS_ioprio_get, 1, tid);
        if (errno != 0 && nice_value == -1)
                return -errno;
        if (io < 0)
                return -errno;
        return nice_value * 10 + (int)(io >> 13);
}

TEST(background_items_run_at_the_lowest_priority)
{
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_(work_pool_freep) WorkPool *p = NULL;
        Item bg[3], plain = { 0 };
        int done = 0, destroyed = 0;

        loop_thread = pthread_self();
        ASSERT_OK(sd_event_new(&e));
        ASSERT_OK(work_pool_new(e, 1, &p));
        plain = (Item){ .done_count = &done, .destroy_count = &destroyed, .result = -1 };
        for (int k = 0; k < 3; k++)
                bg[k] = (Item){ .done_count = &done, .destroy_count = &destroyed, .result = -1 };
        ASSERT_OK(work_pool_submit_background(p, &done, run_priority, done_count, destroy_item, &bg[0]));
        ASSERT_OK(work_pool_submit_background(p, &done, run_priority, done_count, destroy_item, &bg[1]));
        run_until(e, &done, 2);
        /* a later submit joins the finished threads and starts a fresh one */
        ASSERT_OK(work_pool_submit_background(p, &done, run_priority, done_count, destroy_item, &bg[2]));
        ASSERT_OK(work_pool_submit(p, &done, run_priority, done_count, destroy_item, &plain));
        run_until(e, &done, 4);
        ASSERT_EQ(destroyed, 4);
        for (int k = 0; k < 3; k++)
                ASSERT_EQ(bg[k].result, 19 * 10 + 3); /* nice 19, class idle */
        /* the pool's own workers keep the daemon's priority (this test's,
         * which may itself run niced) */
        errno = 0;
        int own_nice = getpriority(PRIO_PROCESS, 0);
        ASSERT_TRUE(errno == 0);
        ASSERT_TRUE(plain.result >= 0);
        ASSERT_EQ(plain.result / 10, own_nice);
        ASSERT_EQ(work_pool_pending(p), 0u);
        ASSERT_EQ(work_pool_submit_background(p, NULL, run_priority, NULL, NULL, NULL), -EINVAL);
}

TEST(forget_a_background_item)
{
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        WorkPool *p = NULL;
        Item slow = { 0 };
        int done = 0, destroyed = 0, owner;

        loop_thread = pthread_self();
        ASSERT_OK(sd_event_new(&e));
        ASSERT_OK(work_pool_new(e, 1, &p));
        slow = (Item){ .value = 3, .done_count = &done, .destroy_count = &destroyed, .sleep_ms = 100 };
        ASSERT_OK(work_pool_submit_background(p, &owner, run_square, done_count, destroy_item, &slow));
        work_pool_forget(p, &owner);
        p = work_pool_free(p); /* waits for it, never calls its done() */
        ASSERT_EQ(done, 0);
        ASSERT_EQ(destroyed, 1);
}

TEST_MAIN()
