/* SPDX-License-Identifier: MIT */
#pragma once

/* A small pool of worker threads for CPU-heavy work (image decode and crop).
 * run() executes on a worker and must not touch the bus, the store or the
 * loop; done() then executes on the loop thread, woken through an eventfd.
 * Threads start on first use, so an idle daemon has none. */

#include <systemd/sd-event.h>

#include "fluff/util.h"

typedef struct WorkPool WorkPool;

typedef int (*work_run_t)(void *userdata);
typedef void (*work_done_t)(void *userdata, int r);
typedef void (*work_destroy_t)(void *userdata);

/* n_threads 0 picks the number of CPUs, at most 8. */
int work_pool_new(sd_event *event, unsigned n_threads, WorkPool **ret);
/* Waits for running items; queued ones are destroyed without running. NULL-safe. */
WorkPool *work_pool_free(WorkPool *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(WorkPool *, work_pool_free);

/* Queues run(userdata) on a worker. done(userdata, r) follows on the loop with
 * run's return value, then destroy(userdata). owner groups items so that
 * work_pool_forget() can drop them. destroy may be NULL. */
int work_pool_submit(WorkPool *p, const void *owner, work_run_t run, work_done_t done, work_destroy_t destroy,
                     void *userdata);

/* As work_pool_submit(), but run() gets a thread of its own at the lowest
 * priority (nice 19 and the idle I/O class), which ends with the item: for
 * work nobody waits for, such as an automatic retraining, so the desktop
 * does not notice it. Threads run() starts inherit that priority.
 * work_pool_forget() and work_pool_free() treat it like any other item. */
int work_pool_submit_background(WorkPool *p, const void *owner, work_run_t run, work_done_t done,
                                work_destroy_t destroy, void *userdata);

/* Lowers the calling thread to nice 19 and the idle I/O class (what
 * work_pool_submit_background's threads do first). A thread cannot raise
 * itself again without privileges, so only a thread that ends soon should. */
int work_thread_set_background(void);

/* Drops the owner's queued items (destroyed, never run) and makes its running
 * ones skip done(): for an owner about to go away. */
void work_pool_forget(WorkPool *p, const void *owner);

/* Items submitted and not yet completed on the loop. */
unsigned work_pool_pending(const WorkPool *p);
unsigned work_pool_threads(const WorkPool *p);
