/* pool.c - Python's multiprocessing.Pool: the pool object, its lock and
 * lifecycle (new, close, terminate, join, free) and the job bookkeeping that
 * workers, the supervisor and waiters share.
 *
 * How the pieces fit (the layout is in internal/pool.h):
 * - mp_pool_new forks one small single-threaded supervisor process, which
 *   forks the workers and watches them (pool_proc.c).
 * - A submission copies its arguments into a job block in the shared heap
 *   and appends the job to the pool's queue; sleeping workers are woken,
 *   busy ones find it when they finish their chunk (pool_submit.c).
 * - Workers write results straight into the job and commit whole chunks;
 *   waiters sleep on the job's futex and copy the results out.
 * - Callbacks run on a thread of the creating process, started with the
 *   first callback (pool_cb.c). */
#include "mp/pool.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "os/clock.h"
#include "os/futex.h"
#include "os/panic.h"
#include "pool/pool.h"
#include "os/alive.h"
#include "os/thread.h"
#include "mp/error.h"
#include "mp/process.h"
#include "mp/shared.h"

/* The commit journal: a commit is three stores (order, state, count). If
 * the committer dies between them, the next locker redoes them from here.
 * The stores are absolute values, so redoing a finished commit is harmless.
 * It sits in the pool block just after the slots. */
struct commit_journal {
    _Atomic(struct mp_async *) job; /* set last: the journal is valid only when non-NULL */
    uint32_t chunk;                 /* chunk being committed */
    uint32_t st;                    /* its final state */
    uint32_t done;                  /* job->ndone before the commit */
};

static struct commit_journal *journal_of(mp_pool *p)
{
    return (struct commit_journal *)&p->slots[p->nworkers];
}

/* Apply the commit's stores; true when they complete the job. */
static bool commit_apply(mp_pool *p, struct mp_async *j, uint32_t c, uint32_t st, uint32_t d)
{
    j->order[d] = c + 1;
    atomic_store_explicit(&j->chunk_st[c], st, memory_order_release);
    if (d + 1 == j->nchunks && j->has_cb && p->cb_head != j) {
        /* Hand the job to the callback thread, exactly once (a redone
         * commit finds it already at the head). */
        j->cb_next = p->cb_head;
        p->cb_head = j;
    }
    atomic_store(&j->ndone, d + 1);
    atomic_fetch_add(&j->seq, 1);
    return d + 1 == j->nchunks;
}

/* Shared heap blocks are 16-byte aligned; pool objects want 64 (their hot
 * futex words sit on their own cache lines). Returns the aligned object and
 * stores the block to free in *block. */
void *mp__pool_alloc(size_t size, void **block)
{
    if (size > SIZE_MAX - 64) {
        errno = ENOMEM;
        return NULL;
    }
    char *b = mp_shared_malloc(size + 48);
    if (b == NULL)
        return NULL;
    *block = b;
    return (void *)(((uintptr_t)b + 63) & ~(uintptr_t)63);
}

void mp__pool_lock(mp_pool *p)
{
    int rc = pthread_mutex_lock(&p->lock);
    if (rc == EOWNERDEAD) {
        /* A process died inside a pool critical section. Every change
         * there is a single store except a chunk commit, which we redo
         * from its journal. Claims and queue links stay consistent (see
         * the store order in pool_proc.c and pool_submit.c). */
        struct commit_journal *jr = journal_of(p);
        if (jr->job != NULL) {
            struct mp_async *j = jr->job;
            bool was_final = atomic_load(&j->ndone) > jr->done;
            if (!was_final && commit_apply(p, j, jr->chunk, jr->st, jr->done))
                mp__pool_job_completed(j);
            jr->job = NULL;
        }
        pthread_mutex_consistent(&p->lock);
    } else if (rc != 0) {
        mp__panic("pool lock failed: %d", rc);
    }
}

void mp__pool_unlock(mp_pool *p)
{
    pthread_mutex_unlock(&p->lock);
}

/* Commit chunk c of job j with final state st, unless it is final already
 * (a terminate or a dead worker got there first). Called with the lock
 * held; returns true when this commit completed the job, and the caller
 * must then call mp__pool_job_completed once it may sleep again. */
bool mp__pool_chunk_finish(struct mp_async *j, uint32_t c, uint32_t st)
{
    if (atomic_load_explicit(&j->chunk_st[c], memory_order_relaxed) >= MP__CH_OK)
        return false;
    mp_pool *p = j->pool;
    struct commit_journal *jr = journal_of(p);
    uint32_t d = atomic_load_explicit(&j->ndone, memory_order_relaxed);
    jr->chunk = c;
    jr->st = st;
    jr->done = d;
    atomic_store_explicit(&jr->job, j, memory_order_release);
    bool complete = commit_apply(p, j, c, st, d);
    atomic_store_explicit(&jr->job, NULL, memory_order_release);
    return complete;
}

/* Tell everyone a job is complete: its waiters, the callback thread; then
 * drop the reference the pending work held. May run with or without the
 * lock. */
void mp__pool_job_completed(struct mp_async *j)
{
    mp_pool *p = j->pool;
    if (atomic_load(&j->waiters) > 0)
        mp__futex_wake(&j->seq, INT32_MAX);
    if (j->has_cb) {
        atomic_fetch_add(&p->cb_seq, 1);
        if (atomic_load(&p->cb_waiting) > 0)
            mp__futex_wake(&p->cb_seq, 1);
    }
    mp__pool_job_unref(j);
}

/* Drop a job reference; the last one releases the block (into the pool's
 * spare when it is large) and the job's reference on the pool. */
void mp__pool_job_unref(struct mp_async *j)
{
    if (atomic_fetch_sub(&j->refs, 1) != 1)
        return;
    mp_pool *p = j->pool;
    void *b = j->block;
    if (mp_shared_usable_size(b) >= MP__SPARE_MIN)
        b = atomic_exchange(&p->spare, b);
    mp_shared_free(b);
    mp__pool_unref(p);
}

/* A block for a job of size bytes (64-aligned, as mp__pool_alloc): the
 * spare when it is big enough, else a new one. Takes a reference on the
 * pool for the job. */
void *mp__pool_job_alloc(mp_pool *p, size_t size, void **block)
{
    /* Small jobs come from the heap's size classes, which are cheap and
     * leave the spare to the next big map. */
    void *b = size >= MP__SPARE_MIN ? atomic_exchange(&p->spare, NULL) : NULL;
    char *obj;
    if (b != NULL && size <= SIZE_MAX - 64 && mp_shared_usable_size(b) >= size + 48) {
        *block = b;
        obj = (char *)(((uintptr_t)b + 63) & ~(uintptr_t)63);
    } else {
        mp_shared_free(b);
        obj = mp__pool_alloc(size, block);
        if (obj == NULL)
            return NULL;
    }
    atomic_fetch_add(&p->refs, 1);
    return obj;
}

/* Drop a reference on the pool's memory; the last one frees it. Jobs hold
 * one each, so a handle that outlives mp_pool_free still points at valid
 * (terminated) pool memory. */
void mp__pool_unref(mp_pool *p)
{
    if (atomic_fetch_sub(&p->refs, 1) != 1)
        return;
    mp_shared_free(atomic_exchange(&p->spare, NULL));
    pthread_mutex_destroy(&p->lock);
    mp_shared_free(p->block);
}

/* Fail every chunk not yet final with st: the unclaimed ones in the queue
 * and the ones workers hold. Called with the lock held, by terminate and
 * when the supervisor is found dead; running it twice is harmless. */
void mp__pool_fail_all(mp_pool *p, uint32_t st)
{
    struct mp_async *j = p->head;
    p->tail = NULL;
    p->head = NULL;
    while (j != NULL) {
        struct mp_async *next = j->next;
        uint32_t from = j->next_chunk;
        j->next_chunk = j->nchunks;
        for (uint32_t c = from; c < j->nchunks; c++)
            if (mp__pool_chunk_finish(j, c, st))
                mp__pool_job_completed(j); /* may free j: nothing of it is used after */
        j = next;
    }
    for (int i = 0; i < p->nworkers; i++) {
        struct mp__pool_slot *s = &p->slots[i];
        /* The claim keeps its own reference, so the job outlives this. */
        if (s->job != NULL && mp__pool_chunk_finish(s->job, s->chunk, st))
            mp__pool_job_completed(s->job);
    }
}

/* Signal every worker of the pool. Called with the lock held: the
 * supervisor clears a slot's pid under the lock before reaping it, so a
 * pid seen here is never a recycled one - unless the supervisor died:
 * then its workers died with it (PR_SET_PDEATHSIG), init reaped them, and
 * their pids may belong to anyone by now. */
static void kill_workers(mp_pool *p)
{
    if (p->broken)
        return;
    for (int i = 0; i < p->nworkers; i++)
        if (p->slots[i].pid > 0)
            kill(p->slots[i].pid, SIGKILL);
}

/* Waits call this when a slice of their wait ran out. If the supervisor
 * died (killed from outside), nobody would ever commit the chunks of dead
 * workers: fail everything with MP_EWORKERDIED (the workers die with their
 * supervisor) and mark the pool broken. A terminated pool is swept again
 * in case a terminator died half-way. Returns false when the pool is dead. */
bool mp__pool_check_alive(mp_pool *p)
{
    uint32_t sup = atomic_load(&p->sup_state);
    if (sup != MP__SUP_EXITED && mp__tid_alive(p->sup_pid))
        return true;
    mp__pool_lock(p);
    if (p->state != MP__POOL_TERMINATE && !p->broken && sup != MP__SUP_EXITED) {
        p->broken = 1;
        p->state = MP__POOL_TERMINATE;
    }
    mp__pool_fail_all(p, p->broken ? MP__CH_DIED : MP__CH_CLOSED);
    mp__pool_unlock(p);
    return false;
}

/* Wait until the supervisor has exited (it exits once every worker has).
 * Only waits: a dead supervisor counts as exited. */
static void wait_supervisor(mp_pool *p)
{
    for (;;) {
        uint32_t s = atomic_load(&p->sup_state);
        if (s == MP__SUP_EXITED || !mp__tid_alive(p->sup_pid))
            return;
        mp__deadline d;
        mp__deadline_init(&d, 0.25);
        mp__futex_wait(&p->sup_state, s, &d);
    }
}

/* Reap the supervisor (the creator is its parent), once. */
static void reap_supervisor(mp_pool *p)
{
    if (mp__pid() != p->creator || p->local == NULL)
        return;
    if (atomic_exchange(&p->local->reaped, true))
        return;
    /* ECHILD (SIGCHLD ignored, or reaped by the program) is fine too. */
    while (waitpid(p->sup_pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

MP_EXTERN mp_pool *mp_pool_new(int processes)
{
    mp_pool_opts o = {.processes = processes};
    return mp_pool_new_opts(&o);
}

MP_EXTERN mp_pool *mp_pool_new_opts(const mp_pool_opts *opts)
{
    mp_pool_opts o = {0};
    if (opts != NULL)
        o = *opts;
    if (o.processes < 0) {
        errno = EINVAL;
        return NULL;
    }
    int nworkers = o.processes > 0 ? o.processes : mp_cpu_count();
    size_t size = sizeof(struct mp_pool) + (size_t)nworkers * sizeof(struct mp__pool_slot) +
                  sizeof(struct commit_journal);
    void *block;
    mp_pool *p = mp__pool_alloc(size, &block);
    if (p == NULL)
        return NULL;
    memset(p, 0, size);
    p->block = block;
    p->nworkers = nworkers;
    p->maxtasks = o.maxtasksperchild;
    p->initializer = o.initializer;
    p->initarg = o.initarg;
    p->creator = mp__pid();
    p->state = MP__POOL_RUN;
    atomic_store(&p->refs, 1);

    int err = ENOMEM;
    p->local = calloc(1, sizeof *p->local);
    if (p->local == NULL)
        goto out_free;
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    err = pthread_mutex_init(&p->lock, &a);
    pthread_mutexattr_destroy(&a);
    if (err != 0)
        goto out_local;
    if (pthread_mutex_init(&p->local->mu, NULL) != 0) {
        err = ENOMEM;
        goto out_mutex;
    }
    err = -mp__pool_start_supervisor(p);
    if (err != 0)
        goto out_local_mu;
    return p;

out_local_mu:
    pthread_mutex_destroy(&p->local->mu);
out_mutex:
    pthread_mutex_destroy(&p->lock);
out_local:
    free(p->local);
out_free:
    mp_shared_free(block);
    errno = err;
    return NULL;
}

MP_EXTERN int mp_pool_close(mp_pool *p)
{
    if (p == NULL)
        return MP_EINVAL;
    int wake[MP__WAKE_MAX];
    mp__pool_lock(p);
    if (p->state == MP__POOL_RUN) {
        p->state = MP__POOL_CLOSE;
        /* Idle workers wake up, find no work and a closed pool, and exit.
         * All of them, in rounds of MP__WAKE_MAX (a rare path: waking
         * under the lock is fine). */
        int n;
        do {
            n = mp__pool_claim_sleepers(p, UINT32_MAX, wake);
            mp__pool_wake_slots(p, wake, n);
        } while (n == MP__WAKE_MAX);
    }
    mp__pool_unlock(p);
    return MP_OK;
}

MP_EXTERN int mp_pool_terminate(mp_pool *p)
{
    if (p == NULL)
        return MP_EINVAL;
    /* A dead supervisor must be noticed before any pid is signalled. */
    mp__pool_check_alive(p);
    mp__pool_lock(p);
    if (p->state != MP__POOL_TERMINATE) {
        p->state = MP__POOL_TERMINATE;
        /* Pending results fail now, before any worker is gone, so no
         * waiter can see them as "worker died". */
        mp__pool_fail_all(p, MP__CH_CLOSED);
    }
    kill_workers(p);
    mp__pool_unlock(p);
    /* As Python's terminate, return once the workers are gone. They were
     * sent SIGKILL, so this is prompt. */
    wait_supervisor(p);
    reap_supervisor(p);
    return MP_OK;
}

MP_EXTERN int mp_pool_join(mp_pool *p)
{
    if (p == NULL)
        return MP_EINVAL;
    mp__pool_lock(p);
    uint32_t state = p->state;
    mp__pool_unlock(p);
    if (state == MP__POOL_RUN)
        return MP_ESTATE;
    /* The supervisor exits after the last worker, and the workers exit
     * once the queue is empty: all outstanding work is then committed. */
    wait_supervisor(p);
    mp__pool_check_alive(p); /* a supervisor that was killed leaves work to fail */
    reap_supervisor(p);
    /* As Python's join waits for the result handler: every callback of
     * the finished work has run when join returns. */
    mp__pool_cb_stop(p);
    return MP_OK;
}

MP_EXTERN void mp_pool_free(mp_pool *p)
{
    if (p == NULL)
        return;
    mp_pool_terminate(p);
    mp__pool_cb_stop(p);
    if (mp__pid() == p->creator && p->local != NULL) {
        pthread_mutex_destroy(&p->local->mu);
        free(p->local);
        p->local = NULL;
    }
    mp__pool_unref(p);
}
