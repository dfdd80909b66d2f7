/* SPDX-License-Identifier: MIT */
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "fluff/util.h"
#include "work/work.h"

typedef struct WorkItem {
        struct WorkItem *next;
        const void *owner; /* NULL once forgotten */
        work_run_t run;
        work_done_t done;
        work_destroy_t destroy;
        void *userdata;
        int result;
} WorkItem;

struct WorkPool {
        sd_event_source *efd_source; /* owned */
        int efd;                     /* owned */

        pthread_mutex_t lock;
        pthread_cond_t wake;
        WorkItem *queue_head, *queue_tail; /* waiting to run; under lock */
        WorkItem *done_head, *done_tail;   /* finished, for the loop; under lock */
        WorkItem *running;                 /* list of items on a worker; under lock */
        bool shutdown;                     /* under lock */

        pthread_t *threads;
        unsigned n_threads, n_started;
        unsigned pending; /* loop thread only */

        /* Threads of background items, one each; joined once their item is
         * done (next submit) or when the pool goes. Loop thread only. */
        pthread_t *bg_threads;
        bool *bg_exited; /* under lock: the thread has finished its item */
        size_t n_bg;
};

static void item_destroy(WorkItem *i)
{
        if (i->destroy)
                i->destroy(i->userdata);
        free(i);
}

static void list_append(WorkItem **head, WorkItem **tail, WorkItem *i)
{
        i->next = NULL;
        if (*tail)
                (*tail)->next = i;
        else
                *head = i;
        *tail = i;
}

static void list_remove(WorkItem **head, WorkItem *i)
{
        for (WorkItem **p = head; *p; p = &(*p)->next)
                if (*p == i) {
                        *p = i->next;
                        return;
                }
}

/* Hands a run item's result to the loop; under lock. */
static void item_finished(WorkPool *p, WorkItem *i, int r)
{
        i->result = r;
        list_remove(&p->running, i);
        list_append(&p->done_head, &p->done_tail, i);
        uint64_t one = 1;
        /* The counter only wakes the loop; a full counter already does. */
        (void)!write(p->efd, &one, sizeof(one));
}

static void *worker(void *arg)
{
        WorkPool *p = arg;

        pthread_mutex_lock(&p->lock);
        for (;;) {
                while (!p->queue_head && !p->shutdown)
                        pthread_cond_wait(&p->wake, &p->lock);
                if (p->shutdown)
                        break;
                WorkItem *i = p->queue_head;
                p->queue_head = i->next;
                if (!p->queue_head)
                        p->queue_tail = NULL;
                i->next = p->running;
                p->running = i;
                pthread_mutex_unlock(&p->lock);

                int r = i->run(i->userdata);

                pthread_mutex_lock(&p->lock);
                item_finished(p, i, r);
        }
        pthread_mutex_unlock(&p->lock);
        return NULL;
}

static int on_eventfd(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        WorkPool *p = userdata;
        uint64_t n;
        WorkItem *list;

        (void)!read(fd, &n, sizeof(n));
        pthread_mutex_lock(&p->lock);
        list = p->done_head;
        p->done_head = p->done_tail = NULL;
        pthread_mutex_unlock(&p->lock);

        while (list) {
                WorkItem *i = list;
                list = i->next;
                p->pending--;
                if (i->owner && i->done)
                        i->done(i->userdata, i->result);
                item_destroy(i);
        }
        return 0;
}

int work_pool_new(sd_event *event, unsigned n_threads, WorkPool **ret)
{
        _cleanup_(work_pool_freep) WorkPool *p = NULL;
        int r;

        if (n_threads == 0)
                n_threads = CLAMP(cpus_available(), 1u, 8u);

        p = calloc(1, sizeof(WorkPool));
        if (!p)
                return -ENOMEM;
        p->efd = -EBADF;
        pthread_mutex_init(&p->lock, NULL);
        pthread_cond_init(&p->wake, NULL);
        p->threads = calloc(n_threads, sizeof(pthread_t));
        if (!p->threads)
                return -ENOMEM;
        p->n_threads = n_threads;

        p->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (p->efd < 0)
                return -errno;
        r = sd_event_add_io(event, &p->efd_source, p->efd, EPOLLIN, on_eventfd, p);
        if (r < 0)
                return r;
        /* Results first: finishing work frees memory and unblocks more. */
        (void)sd_event_source_set_priority(p->efd_source, SD_EVENT_PRIORITY_NORMAL - 1);

        *ret = TAKE_PTR(p);
        return 0;
}

WorkPool *work_pool_free(WorkPool *p)
{
        if (!p)
                return NULL;
        pthread_mutex_lock(&p->lock);
        p->shutdown = true;
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->lock);
        for (unsigned i = 0; i < p->n_started; i++)
                pthread_join(p->threads[i], NULL);
        /* a background item runs to its end: its run() watches its own cancel flag */
        for (size_t i = 0; i < p->n_bg; i++)
                pthread_join(p->bg_threads[i], NULL);

        /* Threads are gone: no lock needed. Nobody is left to hear of these. */
        for (WorkItem *i = p->queue_head, *next; i; i = next) {
                next = i->next;
                item_destroy(i);
        }
        for (WorkItem *i = p->done_head, *next; i; i = next) {
                next = i->next;
                item_destroy(i);
        }
        sd_event_source_disable_unref(p->efd_source);
        if (p->efd >= 0)
                close(p->efd);
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->lock);
        free(p->threads);
        free(p->bg_threads);
        free(p->bg_exited);
        free(p);
        return NULL;
}

/* Creates a thread with every signal but the faults blocked. */
static int create_thread(pthread_t *ret, void *(*fn)(void *), void *arg)
{
        sigset_t all, old;
        int r;

        /* Workers never handle signals: the loop does, through signalfd. Faults
         * stay deliverable: a blocked SIGSEGV kills the process without running
         * any handler, so a crash in a worker would leave no trace (not even
         * a sanitizer report). */
        sigfillset(&all);
        sigdelset(&all, SIGSEGV);
        sigdelset(&all, SIGBUS);
        sigdelset(&all, SIGFPE);
        sigdelset(&all, SIGILL);
        sigdelset(&all, SIGABRT);
        sigdelset(&all, SIGTRAP);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        r = pthread_create(ret, NULL, fn, arg);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return -r;
}

static int start_thread(WorkPool *p)
{
        int r = create_thread(&p->threads[p->n_started], worker, p);
        if (r < 0)
                return r;
        p->n_started++;
        return 0;
}

int work_pool_submit(WorkPool *p, const void *owner, work_run_t run, work_done_t done, work_destroy_t destroy,
                     void *userdata)
{
        WorkItem *i;
        int r;

        if (!owner || !run)
                return -EINVAL;
        i = calloc(1, sizeof(WorkItem));
        if (!i)
                return -ENOMEM;
        *i = (WorkItem){ .owner = owner, .run = run, .done = done, .destroy = destroy, .userdata = userdata };

        /* One more thread while there is more queued work than threads. */
        if (p->n_started < p->n_threads && p->pending >= p->n_started) {
                r = start_thread(p);
                if (r < 0 && p->n_started == 0) {
                        free(i);
                        return r;
                }
        }

        pthread_mutex_lock(&p->lock);
        list_append(&p->queue_head, &p->queue_tail, i);
        pthread_cond_signal(&p->wake);
        pthread_mutex_unlock(&p->lock);
        p->pending++;
        return 0;
}

int work_thread_set_background(void)
{
        /* ioprio_set(2) has no glibc wrapper: IOPRIO_WHO_PROCESS = 1 (a
         * thread id), class IDLE = 3 in the top bits */
        const int who_process = 1, class_idle = 3, class_shift = 13;
        pid_t tid = (pid_t)syscall(SYS_gettid);
        int r = 0;

        if (setpriority(PRIO_PROCESS, (id_t)tid, 19) < 0)
                r = -errno;
        if (syscall(SYS_ioprio_set, who_process, tid, class_idle << class_shift) < 0 && r == 0)
                r = -errno;
        return r;
}

typedef struct Background {
        WorkPool *pool;
        WorkItem *item;
        size_t slot;
} Background;

static void *background_worker(void *arg)
{
        Background b = *(Background *)arg;
        free(arg);

        int k = work_thread_set_background();
        if (k < 0)
                log_debug_errno(k, "Failed to lower a background thread's priority, ignoring: %m");
        int r = b.item->run(b.item->userdata);

        pthread_mutex_lock(&b.pool->lock);
        item_finished(b.pool, b.item, r);
        b.pool->bg_exited[b.slot] = true;
        pthread_mutex_unlock(&b.pool->lock);
        return NULL;
}

/* Joins the background threads once all of them are done (slots never
 * move while one runs: it writes bg_exited[slot]). Background items are few
 * (one training at a time), so the arrays stay small meanwhile. */
static void reap_background(WorkPool *p)
{
        bool all = true;

        pthread_mutex_lock(&p->lock);
        for (size_t i = 0; i < p->n_bg; i++)
                all = all && p->bg_exited[i];
        pthread_mutex_unlock(&p->lock);
        if (!all)
                return;
        for (size_t i = 0; i < p->n_bg; i++)
                pthread_join(p->bg_threads[i], NULL);
        p->n_bg = 0;
}

int work_pool_submit_background(WorkPool *p, const void *owner, work_run_t run, work_done_t done,
                                work_destroy_t destroy, void *userdata)
{
        if (!owner || !run)
                return -EINVAL;
        reap_background(p);

        pthread_t *t = reallocarray(p->bg_threads, p->n_bg + 1, sizeof *t);
        if (!t)
                return -ENOMEM;
        p->bg_threads = t;
        pthread_mutex_lock(&p->lock);
        bool *e = reallocarray(p->bg_exited, p->n_bg + 1, sizeof *e);
        if (e) {
                p->bg_exited = e;
                e[p->n_bg] = false;
        }
        pthread_mutex_unlock(&p->lock);
        if (!e)
                return -ENOMEM;

        WorkItem *i = calloc(1, sizeof(WorkItem));
        Background *b = malloc(sizeof(Background));
        if (!i || !b) {
                free(i);
                free(b);
                return -ENOMEM;
        }
        *i = (WorkItem){ .owner = owner, .run = run, .done = done, .destroy = destroy, .userdata = userdata };
        *b = (Background){ .pool = p, .item = i, .slot = p->n_bg };

        pthread_mutex_lock(&p->lock);
        i->next = p->running;
        p->running = i;
        int r = create_thread(&p->bg_threads[p->n_bg], background_worker, b);
        if (r < 0)
                list_remove(&p->running, i);
        pthread_mutex_unlock(&p->lock);
        if (r < 0) {
                free(i);
                free(b);
                return r;
        }
        p->n_bg++;
        p->pending++;
        return 0;
}

void work_pool_forget(WorkPool *p, const void *owner)
{
        WorkItem *dropped = NULL;

        if (!p)
                return;
        pthread_mutex_lock(&p->lock);
        for (WorkItem **q = &p->queue_head; *q;) {
                WorkItem *i = *q;
                if (i->owner != owner) {
                        q = &i->next;
                        continue;
                }
                *q = i->next;
                i->next = dropped;
                dropped = i;
        }
        p->queue_tail = NULL;
        for (WorkItem *i = p->queue_head; i; i = i->next)
                p->queue_tail = i;
        for (WorkItem *i = p->running; i; i = i->next)
                if (i->owner == owner)
                        i->owner = NULL;
        for (WorkItem *i = p->done_head; i; i = i->next)
                if (i->owner == owner)
                        i->owner = NULL;
        pthread_mutex_unlock(&p->lock);

        while (dropped) {
                WorkItem *i = dropped;
                dropped = i->next;
                p->pending--;
                item_destroy(i);
        }
}

unsigned work_pool_pending(const WorkPool *p)
{
        return p->pending;
}

unsigned work_pool_threads(const WorkPool *p)
{
        return p->n_started;
}
