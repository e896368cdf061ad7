/* callback.c - callbacks, run on a thread of the process that created the
 * pool, as Python runs them on the pool's result-handler thread.
 *
 * The thread starts with the first job that has a callback, so a program
 * that gives none has no thread from the pool. Whoever completes such a
 * job pushes it on the pool's due list (job.c; a commit does it inside its
 * journaled critical section, so the hand-over survives any death); the
 * thread takes the whole list under the pool lock, runs the callbacks in
 * completion order, marks each job ready and wakes its waiters:
 * mp_async_get/wait return only after the callback ran. */
#include <errno.h>
#include <signal.h>

#include "mp/error.h"
#include "os/futex.h"
#include "os/thread.h"
#include "pool/pool.h"
#include "sync/wait.h"

static void run_callbacks(struct mp_async *j)
{
    int code, task;
    mp__job_outcome(j, &code, &task);
    if (code == 0 && j->cb.callback != NULL)
        j->cb.callback(j->results, j->cb.userdata);
    else if (code != 0 && j->cb.error_callback != NULL)
        j->cb.error_callback(code, task, j->cb.userdata);
    atomic_store(&j->cb_state, MP__CB_DONE);
    mp__job_ready_notify(j);
}

/* Take the due list, oldest first. Under the pool lock, so that the
 * repair of a dead committer's hand-over (sched.c) sees a stable list;
 * each job is marked taken before the lock is released. */
static struct mp_async *take_due(mp_pool *p)
{
    if (atomic_load(&p->cb_head) == NULL)
        return NULL;
    /* Every job on the list was registered (mp__pool_cb_register raised
     * pending) after it was built, in this process; the list itself came
     * through other processes, which no checker of this process sees. */
    (void)atomic_load_explicit(&p->local->pending, memory_order_acquire);
    mp__pool_lock(p, NULL);
    struct mp_async *due = atomic_exchange(&p->cb_head, NULL);
    struct mp_async *fifo = NULL;
    while (due != NULL) {
        struct mp_async *next = atomic_load(&due->cb_next);
        atomic_store(&due->cb_state, MP__CB_TAKEN);
        atomic_store(&due->cb_next, fifo);
        fifo = due;
        due = next;
    }
    mp__pool_unlock(p);
    return fifo;
}

/* The wait layer's liveness question while callbacks are pending: work
 * left with a dead supervisor would never complete. */
static bool supervisor_alive(void *pool)
{
    return mp__pool_sup_alive(pool);
}

static void *cb_thread(void *arg)
{
    mp_pool *p = arg;
    struct mp__pool_local *l = p->local;
    mp__deadline forever = {.forever = true};
    for (;;) {
        uint32_t seq = atomic_load(&p->cb_seq);
        for (struct mp_async *j = take_due(p); j != NULL;) {
            struct mp_async *next = atomic_load(&j->cb_next);
            run_callbacks(j);
            atomic_fetch_sub(&l->pending, 1);
            mp__job_unref(j); /* the callbacks' reference */
            j = next;
        }
        bool pending = atomic_load(&l->pending) > 0;
        if (!pending && atomic_load(&l->stop))
            break;
        atomic_fetch_add(&p->cb_waiting, 1);
        int rc = 0;
        if (atomic_load(&p->cb_head) == NULL)
            rc = mp__wait(&p->cb_seq, seq, &forever, pending ? supervisor_alive : NULL, p);
        atomic_fetch_sub(&p->cb_waiting, 1);
        /* Fail the work the dead supervisor left: its error callbacks
         * are due on the next round. */
        if (rc == MP_EOWNERDEAD)
            mp__pool_check_alive(p, NULL);
    }
    atomic_store(&l->exited, 1);
    mp__futex_wake(&l->exited, INT32_MAX);
    return NULL;
}

int mp__pool_cb_register(mp_pool *p, struct mp_async *j)
{
    if (mp__pid() != p->creator || p->local == NULL)
        return MP_ESTATE;
    struct mp__pool_local *l = p->local;
    int rc = 0;
    mp__lock_hold(&l->mu);
    if (!l->started) {
        atomic_store(&l->stop, false);
        atomic_store(&l->exited, 0);
        /* The thread takes no signal of the program's: they go to the
         * program's own threads, as if the pool had no thread. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        rc = -pthread_create(&l->thread, NULL, cb_thread, p);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        l->started = rc == 0;
    }
    if (rc == 0) {
        atomic_fetch_add(&l->pending, 1);
        atomic_fetch_add(&j->refs, 1); /* released by the thread after the callbacks */
    }
    mp__lock_release(&l->mu);
    return rc;
}

void mp__pool_cb_unregister(mp_pool *p, struct mp_async *j)
{
    atomic_fetch_sub(&p->local->pending, 1);
    mp__job_unref(j);
}

int mp__pool_cb_stop(mp_pool *p, const mp__deadline *d)
{
    if (mp__pid() != p->creator || p->local == NULL)
        return 0;
    struct mp__pool_local *l = p->local;
    if (mp__lock_acquire(&l->mu, d) == MP_ETIMEDOUT)
        return MP_ETIMEDOUT;
    int rc = 0;
    if (l->started) {
        atomic_store(&l->stop, true);
        atomic_fetch_add(&p->cb_seq, 1);
        mp__futex_wake(&p->cb_seq, 1);
        while (rc == 0 && atomic_load(&l->exited) == 0)
            rc = mp__wait(&l->exited, 0, d, NULL, NULL) == MP_ETIMEDOUT ? MP_ETIMEDOUT : 0;
        if (atomic_load(&l->exited) != 0) {
            pthread_join(l->thread, NULL);
            l->started = false;
            rc = 0;
        }
    }
    mp__lock_release(&l->mu);
    return rc;
}
