/* pool_cb.c - callbacks, run on a thread of the process that created the
 * pool, as Python runs them on the pool's result-handler thread.
 *
 * The thread starts with the first job that has a callback, so a program
 * that gives none has no thread from the pool. A job whose last chunk is
 * committed joins the pool's list of due callbacks (in the same critical
 * section as the commit, so the hand-over survives any death); the thread
 * takes the whole list, runs the callbacks, marks each job ready and wakes
 * its waiters: mp_async_get/wait return only after the callback ran. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>

#include "os/clock.h"
#include "os/futex.h"
#include "pool/pool.h"
#include "os/thread.h"
#include "mp/error.h"

/* The outcome of a complete job (first failure in input order), defined
 * in pool_submit.c. */
void mp__pool_job_outcome(const struct mp_async *j, int *code, int *task);

static void run_callbacks(struct mp_async *j)
{
    int code, task;
    mp__pool_job_outcome(j, &code, &task);
    if (code == 0 && j->cb.callback != NULL)
        j->cb.callback(j->results, j->cb.userdata);
    else if (code != 0 && j->cb.error_callback != NULL)
        j->cb.error_callback(code, task, j->cb.userdata);
    atomic_store(&j->cb_state, 1);
    atomic_fetch_add(&j->seq, 1);
    if (atomic_load(&j->waiters) > 0)
        mp__futex_wake(&j->seq, INT32_MAX);
}

static void *cb_thread(void *arg)
{
    mp_pool *p = arg;
    struct mp__pool_local *l = p->local;
    for (;;) {
        uint32_t seq = atomic_load(&p->cb_seq);
        mp__pool_lock(p);
        struct mp_async *due = p->cb_head;
        p->cb_head = NULL;
        mp__pool_unlock(p);
        /* The list is newest first; callbacks run in completion order. */
        struct mp_async *fifo = NULL;
        while (due != NULL) {
            struct mp_async *next = due->cb_next;
            due->cb_next = fifo;
            fifo = due;
            due = next;
        }
        while (fifo != NULL) {
            struct mp_async *next = fifo->cb_next;
            run_callbacks(fifo);
            atomic_fetch_sub(&l->pending, 1);
            mp__pool_job_unref(fifo); /* the callback's reference */
            fifo = next;
        }
        if (atomic_load(&l->pending) == 0 && atomic_load(&l->stop))
            return NULL;
        atomic_fetch_add(&p->cb_waiting, 1);
        mp__deadline d;
        mp__deadline_init(&d, MP__CHECK_SECONDS);
        int rc = mp__futex_wait(&p->cb_seq, seq, &d);
        atomic_fetch_sub(&p->cb_waiting, 1);
        /* Work with callbacks pending and a dead supervisor would never
         * complete: the liveness check fails it, and its error callbacks
         * run on the next round. */
        if (rc == MP_ETIMEDOUT && atomic_load(&l->pending) > 0)
            mp__pool_check_alive(p);
    }
}

/* Count a job with callbacks and make sure the thread runs. Called before
 * the job is queued. Returns 0, MP_ESTATE outside the creating process,
 * or -errno when the thread cannot start. */
int mp__pool_cb_register(mp_pool *p, struct mp_async *j)
{
    (void)j;
    if (mp__pid() != p->creator)
        return MP_ESTATE;
    struct mp__pool_local *l = p->local;
    int rc = 0;
    pthread_mutex_lock(&l->mu);
    if (!l->started) {
        atomic_store(&l->stop, false);
        /* The thread takes no signal of the program's: they go to the
         * program's own threads, as if the pool had no thread. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        rc = -pthread_create(&l->thread, NULL, cb_thread, p);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        l->started = rc == 0;
    }
    if (rc == 0)
        atomic_fetch_add(&l->pending, 1);
    pthread_mutex_unlock(&l->mu);
    return rc;
}

/* Let the thread run every callback still due, then join it. Called once
 * no more work can come (join, free): every pending job then completes. */
void mp__pool_cb_stop(mp_pool *p)
{
    if (mp__pid() != p->creator || p->local == NULL)
        return;
    struct mp__pool_local *l = p->local;
    pthread_mutex_lock(&l->mu);
    if (l->started) {
        atomic_store(&l->stop, true);
        atomic_fetch_add(&p->cb_seq, 1);
        mp__futex_wake(&p->cb_seq, 1);
        pthread_join(l->thread, NULL);
        l->started = false;
    }
    pthread_mutex_unlock(&l->mu);
}
