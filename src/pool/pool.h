/* pool.h - the pool's shared-memory layout and the helpers src/pool*.c share.
 *
 * Everything here lives in the shared heap, so the parent, the supervisor
 * process and every worker see the same bytes at the same address.
 *
 * A job (one apply, map or imap call) is one block: this header, then the
 * per-chunk state and completion order, then the copied arguments, the
 * result slots and the per-item task codes. Workers claim a job's chunks
 * in order under the pool lock, run them outside it, and commit each chunk
 * under the lock again. A chunk's state word is the truth: pending, then
 * one final state (ok, some items failed, worker died, pool terminated). */
#ifndef MP_INTERNAL_POOL_H
#define MP_INTERNAL_POOL_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "os/futex.h"
#include "mp/pool.h"

/* Chunk states; every state from CH_OK on is final. */
enum {
    MP__CH_PENDING = 0, /* not finished (claimed or not) */
    MP__CH_OK = 2,      /* every item returned 0 */
    MP__CH_FAILED = 3,  /* some item returned non-zero: see status[] */
    MP__CH_DIED = 4,    /* the worker running it died: MP_EWORKERDIED */
    MP__CH_CLOSED = 5,  /* the pool was terminated first: MP_ECLOSED */
};

/* Pool states, as in Python's pool.py. */
enum { MP__POOL_RUN = 0, MP__POOL_CLOSE = 1, MP__POOL_TERMINATE = 2 };

/* Supervisor states (pool->sup_state). */
enum { MP__SUP_STARTING = 0, MP__SUP_RUNNING = 1, MP__SUP_EXITED = 2 };

/* Job kinds. */
enum { MP__JOB_APPLY, MP__JOB_MAP, MP__JOB_IMAP, MP__JOB_IMAP_UNORDERED };

/* Worker sleep states (slot->sleep). */
enum { MP__W_ACTIVE = 0, MP__W_SPINNING = 1, MP__W_SLEEPING = 2 };

struct mp_async {
    /* Fixed at submission, read-only afterwards. */
    mp_pool *pool;              /* the pool it was submitted to */
    mp_task_fn fn;              /* same address in every process: one program image */
    size_t n;                   /* items */
    size_t arg_size;            /* bytes per argument (0: the task gets NULL) */
    size_t result_size;         /* bytes per result (0: the task gets NULL) */
    size_t chunksize;           /* items per chunk (the last may be shorter) */
    uint32_t nchunks;           /* ceil(n / chunksize) */
    uint32_t kind;              /* MP__JOB_* */
    char *args;                 /* n * arg_size copied bytes, or NULL */
    char *results;              /* n * result_size bytes, or NULL; == args when in place */
    int32_t *status;            /* per item task code; valid only in CH_FAILED chunks */
    _Atomic uint32_t *chunk_st; /* per chunk MP__CH_* */
    uint32_t *order;            /* chunk + 1 in completion order; zeroed */
    mp_callbacks cb;            /* function pointers valid in the owner process only */
    bool has_cb;                /* a callback or error callback was given */
    pid_t owner;                /* process that submitted it */
    void *block;                /* the shared heap block this job lives in */

    /* Guarded by the pool lock. */
    struct mp_async *next;    /* link in the pool's queue of jobs with unclaimed chunks */
    struct mp_async *cb_next; /* link in the pool's list of jobs whose callbacks are due */
    uint32_t next_chunk;      /* first chunk not yet claimed */

    /* Written under the pool lock, read without it. */
    _Atomic uint32_t ndone; /* chunks committed (final); == nchunks: complete */
    _Atomic uint32_t refs;  /* user handle + pending + claims + callback */

    /* The submitter copies a big job's arguments in after queueing it, one
     * chunk at a time, so workers start on the first chunks meanwhile. */
    _Alignas(64) _Atomic uint32_t ready; /* chunks whose arguments are in; futex */
    _Atomic uint32_t ready_waiters;      /* workers in futex_wait on ready */

    /* Waiters of this job sleep on seq; bumped at each commit. */
    _Alignas(64) _Atomic uint32_t seq;
    _Atomic uint32_t waiters;  /* threads in futex_wait on seq */
    _Atomic uint32_t cb_state; /* 1 once the callbacks have run */

    /* Outcome, computed once complete (first failure in input order). */
    _Atomic uint32_t outcome_known; /* 1 once outcome/outcome_task are set */
    _Atomic int outcome;            /* 0, MP_ETASK, MP_EWORKERDIED or MP_ECLOSED */
    _Atomic int outcome_task;       /* the task's own code for MP_ETASK */
};

struct mp_imap {
    struct mp_async job; /* first: an imap is a job plus a cursor */
    size_t next_item;    /* ordered: next input index; unordered: items handed out */
    uint32_t upos;       /* unordered: position in job.order */
    size_t uitem;        /* unordered: item within that chunk */
    int task_error;      /* the task's code for the last MP_ETASK */
};

/* One worker place. A replacement worker reuses its predecessor's slot. */
struct mp__pool_slot {
    _Alignas(64) pid_t pid; /* the worker in this place; 0 when empty (lock) */
    struct mp_async *job;   /* job of the chunk claimed, or NULL (lock) */
    uint32_t chunk;         /* the claimed chunk (lock) */
    _Atomic uint32_t sleep; /* MP__W_*: spinning or sleeping for work */
    _Atomic uint32_t wake;  /* futex the idle worker sleeps on */
    uint64_t started;       /* workers ever started in this place (lock) */
};

/* What only the creating process has: the callback thread. */
struct mp__pool_local {
    pthread_mutex_t mu;       /* guards started and thread */
    pthread_t thread;         /* runs the callbacks */
    bool started;             /* the thread exists */
    _Atomic bool stop;        /* join/free: finish the due callbacks and leave */
    _Atomic bool reaped;      /* the supervisor has been waited for */
    _Atomic uint32_t pending; /* jobs with callbacks not yet run */
};

struct mp_pool {
    pthread_mutex_t lock;         /* robust, process-shared; guards the fields marked (lock) */
    struct mp_async *head;        /* queue of jobs with unclaimed chunks (lock) */
    struct mp_async *tail;        /* its last job (lock) */
    struct mp_async *cb_head;     /* completed jobs whose callbacks are due, newest first (lock) */
    void *block;                  /* the shared heap block the pool lives in */
    uint32_t state;               /* MP__POOL_* (lock; read racily as a hint) */
    uint32_t broken;              /* the supervisor died: everything failed (lock) */
    int nworkers;                 /* worker places */
    size_t maxtasks;              /* chunks per worker, 0 = unlimited */
    void (*initializer)(void *);  /* run in each worker before its first chunk */
    void *initarg;                /* its argument */
    pid_t creator;                /* the process that made the pool (callbacks run here) */
    pid_t sup_pid;                /* the supervisor process */
    struct mp__pool_local *local; /* creator's private state (callback thread) */
    _Atomic uint32_t refs;        /* the owner (until mp_pool_free) + one per live job */
    _Atomic(void *) spare;        /* a large job block kept for reuse, or NULL */

    _Alignas(64) _Atomic uint32_t sup_state; /* MP__SUP_*; futex for join */
    _Atomic int32_t sup_err;                 /* -errno if the supervisor failed to start */
    _Alignas(64) _Atomic uint32_t cb_seq;    /* bumped when a job with callbacks completes */
    _Atomic uint32_t cb_waiting;             /* the callback thread sleeps on cb_seq */
    struct mp__pool_slot slots[];            /* nworkers */
};

/* Most idle workers one submission wakes itself; a woken worker that sees
 * more work wakes the next (pool_proc.c). */
#define MP__WAKE_MAX 64

/* Idle workers spin this long for new work before sleeping (seconds). */
#define MP__SPIN_SECONDS 20e-6

/* Job blocks at least this big are kept for reuse when freed: their pages
 * stay mapped in every process of the pool, so the next big map pays no
 * page faults (copying into fresh shared pages costs more than the map). */
#define MP__SPARE_MIN (64u * 1024u)

/* Results no bigger than this, the size of the arguments, are written over
 * the arguments (pool_submit.c job_new, pool_proc.c run_chunk). */
#define MP__IN_PLACE_MAX 64

/* Jobs with at least this many argument bytes (and two chunks or more)
 * are queued before their arguments are copied in (pool_submit.c). */
#define MP__PIPELINE_MIN (64u * 1024u)

/* How often a waiter checks that the supervisor is alive (seconds). */
#define MP__CHECK_SECONDS 0.25

/* One step of a bounded spin: a few pause instructions first (the other
 * side usually answers within a microsecond or two), then sched_yield, so
 * that on a busy machine a spinner hands its CPU to whoever it waits for. */
static inline void mp__pool_spin_step(int k)
{
    if (k < 128)
        mp__cpu_relax();
    else
        sched_yield();
}

/* pool.c: the lock and the job bookkeeping. */
void *mp__pool_alloc(size_t size, void **block);
void *mp__pool_job_alloc(mp_pool *p, size_t size, void **block);
void mp__pool_unref(mp_pool *p);
void mp__pool_lock(mp_pool *p);
void mp__pool_unlock(mp_pool *p);
bool mp__pool_chunk_finish(struct mp_async *j, uint32_t c, uint32_t st);
void mp__pool_job_completed(struct mp_async *j);
void mp__pool_job_unref(struct mp_async *j);
void mp__pool_fail_all(mp_pool *p, uint32_t st);
bool mp__pool_check_alive(mp_pool *p);

/* pool_proc.c: the supervisor and the workers. */
int mp__pool_start_supervisor(mp_pool *p);
int mp__pool_claim_sleepers(mp_pool *p, uint32_t want, int *wake);
void mp__pool_wake_slots(mp_pool *p, const int *wake, int n);

/* pool_cb.c: the callback thread in the creating process. */
int mp__pool_cb_register(mp_pool *p, struct mp_async *j);
void mp__pool_cb_stop(mp_pool *p);

#endif
