/* pool.c - Python's multiprocessing.Pool: the pool object and its
 * lifecycle (new, close, terminate, join, free).
 *
 * How the pieces fit (the layers are listed in pool.h):
 * - mp_pool_new forks one small single-threaded supervisor process, which
 *   forks the workers and watches them (supervisor.c).
 * - A submission copies its arguments into a job block in the shared heap
 *   and pushes it on the pool's incoming stack without a lock; idle
 *   workers are woken, busy ones find it when they finish (submit.c).
 * - Workers move submitted jobs into the run queue, claim chunks, write
 *   results straight into the job and commit whole chunks (worker.c,
 *   sched.c); waiters sleep on the job or a watch cell (future.c).
 * - Callbacks run on a thread of the creating process, started with the
 *   first callback (callback.c). */
#include "mp/pool.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "mp/error.h"
#include "mp/process.h"
#include "mp/shared.h"
#include "os/alive.h"
#include "os/thread.h"
#include "pool/pool.h"
#include "sync/wait.h"

/* Signal every worker of the pool. Called with the lock held: the
 * supervisor clears a slot's pid under the lock before reaping it, so a
 * pid seen here is never a recycled one - unless the supervisor died:
 * then its workers died with it (PR_SET_PDEATHSIG), init reaped them, and
 * their pids may belong to anyone by now. */
static void kill_workers(mp_pool *p)
{
    if (atomic_load(&p->broken) == MP__BROKEN_SUPERVISOR)
        return;
    for (int i = 0; i < p->nworkers; i++)
        if (p->slots[i].pid > 0)
            kill(p->slots[i].pid, SIGKILL);
}

static bool supervisor_alive(void *pool)
{
    return mp__pool_sup_alive(pool);
}

/* Wait until the supervisor has exited (it exits once every worker has),
 * or d passes: 0 or MP_ETIMEDOUT. A dead supervisor counts as exited. */
static int wait_supervisor(mp_pool *p, const mp__deadline *d)
{
    for (;;) {
        uint32_t s = atomic_load(&p->sup_state);
        if (s == MP__SUP_EXITED)
            return 0;
        int rc = mp__wait(&p->sup_state, s, d, supervisor_alive, p);
        if (rc == MP_EOWNERDEAD)
            return 0;
        if (rc == MP_ETIMEDOUT)
            return MP_ETIMEDOUT;
    }
}

static bool supervisor_reaped(void *pool)
{
    mp_pool *p = pool;
    /* ECHILD (SIGCHLD ignored, or reaped by the program) counts too. */
    pid_t r = waitpid(p->sup_pid, NULL, WNOHANG);
    return r == p->sup_pid || (r < 0 && errno != EINTR);
}

/* Reap the supervisor (the creator is its parent), once, before d. It has
 * said it exits (or is dead), so this is a matter of microseconds. */
static int reap_supervisor(mp_pool *p, const mp__deadline *d)
{
    if (mp__pid() != p->creator || p->local == NULL || atomic_load(&p->local->reaped))
        return 0;
    int rc = mp__poll(supervisor_reaped, p, d);
    if (rc == 0)
        atomic_store(&p->local->reaped, true);
    return rc;
}

/* The pool is being used from one of its own tasks. */
static bool in_own_task(const mp_pool *p)
{
    return mp__pool_in_task == p;
}

MP_EXTERN mp_pool *mp_pool_new(int processes)
{
    mp_pool_opts o = {.processes = processes};
    return mp_pool_new_opts(&o);
}

/* mp__pool_new_slots is mp_pool_new_opts with `extra` slots beyond the
 * workers' for claimers that are not worker processes (pool.h). */
mp_pool *mp__pool_new_slots(const mp_pool_opts *opts, int extra)
{
    mp_pool_opts o = {0};
    if (opts != NULL)
        o = *opts;
    /* Hook for the cluster: with extra slots, processes < 0 asks for no
     * worker process at all (the extra slots' claimer runs everything). */
    bool none = extra > 0 && o.processes < 0;
    if ((o.processes < 0 && !none) || extra < 0 || isnan(o.task_timeout) || o.task_timeout < 0) {
        errno = EINVAL;
        return NULL;
    }
    int nworkers = none ? 0 : o.processes > 0 ? o.processes : mp_cpu_count();
    if (nworkers > (int)MP__CH_OWNER_MAX - extra) {
        errno = EINVAL;
        return NULL;
    }
    int nslots = nworkers + extra;
    size_t size = sizeof(struct mp_pool) + (size_t)nslots * sizeof(struct mp__pool_slot);
    mp_pool *p = mp__pool_alloc(size);
    if (p == NULL)
        return NULL;
    memset(p, 0, size);
    mp__lock_init(&p->lock);
    p->nworkers = nworkers;
    p->nslots = nslots;
    p->maxtasks = o.maxtasksperchild;
    p->task_timeout = isinf(o.task_timeout) ? 0 : o.task_timeout;
    p->initializer = o.initializer;
    p->initarg = o.initarg;
    p->creator = mp__pid();
    atomic_store(&p->state, MP__POOL_RUN);
    atomic_store(&p->refs, 1);

    int err = ENOMEM;
    p->local = calloc(1, sizeof *p->local);
    if (p->local == NULL)
        goto out_free;
    mp__lock_init(&p->local->mu);
    err = -mp__pool_start_supervisor(p);
    if (err != 0)
        goto out_local;
    return p;

out_local:
    free(p->local);
out_free:
    mp_shared_free(p);
    errno = err;
    return NULL;
}

MP_EXTERN mp_pool *mp_pool_new_opts(const mp_pool_opts *opts)
{
    return mp__pool_new_slots(opts, 0);
}

MP_EXTERN int mp_pool_close(mp_pool *p)
{
    if (p == NULL)
        return MP_EINVAL;
    if (in_own_task(p))
        return MP_ESTATE;
    uint32_t run = MP__POOL_RUN;
    /* Idle workers wake up, find no work and a closed pool, and exit. */
    if (atomic_compare_exchange_strong(&p->state, &run, MP__POOL_CLOSE))
        mp__pool_wake_idle(p, UINT32_MAX);
    return MP_OK;
}

/* Take the pool lock for terminate, which has no deadline but must not
 * wait for a stopped worker: a worker holding the lock past a wait slice
 * is killed (SIGKILL ends a stopped process too), and the lock is taken
 * over. Its pid is safe to signal: a live thread holds the lock under that
 * id, and the slot names it as one of ours. */
static void lock_killing_holder(mp_pool *p)
{
    for (;;) {
        mp__deadline slice;
        mp__deadline_init(&slice, MP__WAIT_SLICE);
        if (mp__pool_lock(p, &slice) == 0)
            return;
        pid_t owner = mp__lock_owner(&p->lock);
        for (int i = 0; owner > 0 && i < p->nworkers; i++)
            if (p->slots[i].pid == owner)
                kill(owner, SIGKILL);
    }
}

MP_EXTERN int mp_pool_terminate(mp_pool *p)
{
    if (p == NULL)
        return MP_EINVAL;
    if (in_own_task(p))
        return MP_ESTATE;
    /* A dead supervisor must be noticed before any pid is signalled. */
    mp__pool_check_alive(p, NULL);
    lock_killing_holder(p);
    if (atomic_load(&p->state) != MP__POOL_TERMINATE) {
        atomic_store(&p->state, MP__POOL_TERMINATE);
        /* Pending results fail now, before any worker is gone, so no
         * waiter can see them as "worker died". */
        mp__pool_fail_all(p, MP__CH_CLOSED);
    }
    kill_workers(p);
    mp__pool_unlock(p);
    mp__pool_wake_idle(p, UINT32_MAX);
    /* As Python's terminate, return once the workers are gone. They were
     * sent SIGKILL, so this is prompt. */
    mp__deadline forever = {.forever = true};
    wait_supervisor(p, &forever);
    reap_supervisor(p, &forever);
    return MP_OK;
}

MP_EXTERN int mp_pool_join_timeout(mp_pool *p, double timeout)
{
    if (p == NULL)
        return MP_EINVAL;
    mp__deadline d;
    if (mp__deadline_init(&d, timeout) != 0)
        return MP_EINVAL;
    /* Only the creator can reap the supervisor and run callbacks; a task
     * of the pool would wait for itself. */
    if (mp__pid() != p->creator || in_own_task(p))
        return MP_ESTATE;
    if (atomic_load(&p->state) == MP__POOL_RUN)
        return MP_ESTATE;
    /* The supervisor exits after the last worker, and the workers exit
     * once the queue is empty: all outstanding work is then committed. */
    if (wait_supervisor(p, &d) != 0)
        return MP_ETIMEDOUT;
    mp__pool_check_alive(p, &d); /* work left by a supervisor that was killed */
    if (reap_supervisor(p, &d) != 0)
        return MP_ETIMEDOUT;
    /* As Python's join waits for the result handler: every callback of
     * the finished work has run when join returns. */
    return mp__pool_cb_stop(p, &d);
}

MP_EXTERN int mp_pool_join(mp_pool *p)
{
    return mp_pool_join_timeout(p, MP_FOREVER);
}

MP_EXTERN void mp_pool_free(mp_pool *p)
{
    if (p == NULL || in_own_task(p))
        return;
    mp_pool_terminate(p);
    mp__deadline forever = {.forever = true};
    mp__pool_cb_stop(p, &forever);
    if (mp__pid() == p->creator && p->local != NULL) {
        free(p->local);
        p->local = NULL;
    }
    mp__pool_unref(p);
}
