/* pool.h - the pool's shared-memory layout and the internal interface its
 * files share.
 *
 * Everything here lives in the shared heap, so the creating process, the
 * supervisor process, every worker and any other process of the family
 * see the same bytes at the same address.
 *
 * Layers (each file calls only those below it; no circle):
 *
 *   pool.c       lifecycle API: new, close, terminate, join, free
 *   submit.c     submission API: apply, map, imap (+ the pointer check)
 *   future.c     result API: get, wait, wait_any/all, cancel, imap_next
 *   supervisor.c the supervisor process: forks, watches, replaces workers
 *   worker.c     a worker process: claim, run, commit; mp_task_result_alloc
 *   callback.c   the callback thread in the creating process
 *   sched.c      the pool lock and its repair, the incoming stack, the run
 *                queue, claim and commit, idle slots: the interface below
 *   job.c        a job block: memory, references, chunk states, outcomes,
 *                completion, results of any size, watch cells
 *
 * A job (one apply, map or imap call) is one block: the mp_async header,
 * then per-chunk state words, the completion order, per-chunk lists of
 * results of any size, the copied arguments, the result slots and the
 * per-item codes.
 *
 * Who takes the pool lock. Only processes and threads that do the pool's
 * own bookkeeping: workers (claim, commit), the supervisor (spawn, a dead
 * worker's chunk, a time limit), the callback thread (taking the due
 * list), terminate and the recovery of a dead supervisor. No call that
 * takes a timeout waits for it past its deadline, and submission, get,
 * wait, wait_any and cancel never take it at all: a worker stopped
 * (SIGSTOP, a debugger) inside the lock stalls the other workers, never a
 * caller's timeout (and terminate kills it: pool.c).
 *
 * The lock is libmp's futex lock (sync/lock.h): a holder that dies is
 * taken over with MP_EOWNERDEAD and the taker repairs (sched.c repair).
 * Every change under the lock is a single store, except two sequences
 * that must appear whole, which keep a journal the taker replays (the
 * robust mutex the pool used before did not make it necessary; the
 * several stores do, whatever the lock):
 *   - a commit: the chunk's final state, its place in the completion
 *     order, the count of committed chunks, and (when that completes the
 *     job) the hand-over to the callback thread;
 *   - a drain of the incoming stack into the run queue.
 * A death anywhere else under the lock can at worst leak the job block it
 * was working on (a reference never dropped), as in the heap.
 *
 * Chunk states. One word per chunk is the truth, changed only by CAS or
 * under the lock: PENDING, then CLAIMED by an owner (a slot), then one
 * final state. Cancel moves PENDING to CANCELLED without the lock, so a
 * claim is a CAS too: a cancelled chunk never runs. */
#ifndef MP_POOL_INTERNAL_H
#define MP_POOL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mp/pool.h"
#include "os/clock.h"
#include "sync/lock.h"

/* Chunk states (chunk_st[]). Every state from CH_OK up to CH_CLAIMED is
 * final; CH_CLAIMED | owner marks a chunk claimed by slot `owner`. */
enum {
    MP__CH_PENDING = 0,       /* not claimed */
    MP__CH_OK = 2,            /* every item returned 0 */
    MP__CH_FAILED = 3,        /* some item returned non-zero: see status[] */
    MP__CH_DIED = 4,          /* the worker running it died: MP_EWORKERDIED */
    MP__CH_CLOSED = 5,        /* the pool was terminated first: MP_ECLOSED */
    MP__CH_CANCELLED = 6,     /* mp_async_cancel came first: MP_ECANCELED */
    MP__CH_TIMEDOUT = 7,      /* ran past task_timeout: MP_ETIMEDOUT */
    MP__CH_BROKEN = 8,        /* the pool cannot start workers: MP_EBROKEN */
    MP__CH_CLAIMED = 0x10000, /* | owner slot index */
};
#define MP__CH_OWNER_MAX 0xffffu

static inline bool mp__ch_final(uint32_t st)
{
    return st >= MP__CH_OK && st < MP__CH_CLAIMED;
}

/* Pool states, as in Python's pool.py. */
enum { MP__POOL_RUN = 0, MP__POOL_CLOSE = 1, MP__POOL_TERMINATE = 2 };

/* Why a pool can no longer run work (pool->broken). */
enum {
    MP__BROKEN_NO = 0,
    MP__BROKEN_SUPERVISOR = 1, /* the supervisor died: work fails MP_EWORKERDIED */
    MP__BROKEN_START = 2,      /* workers die before their first task: MP_EBROKEN */
};

/* Supervisor states (pool->sup_state). */
enum { MP__SUP_STARTING = 0, MP__SUP_RUNNING = 1, MP__SUP_EXITED = 2 };

/* Job kinds. */
enum { MP__JOB_APPLY, MP__JOB_MAP, MP__JOB_IMAP, MP__JOB_IMAP_UNORDERED };

/* Slot states (slot->sleep): running a chunk (or claimed by a submitter
 * for its job), about to look at the queues (it will see whatever was
 * pushed before), spinning for work, asleep on its wake word. */
enum { MP__W_ACTIVE = 0, MP__W_SEEKING = 1, MP__W_SPINNING = 2, MP__W_SLEEPING = 3 };

/* Callback states (job->cb_state). */
enum { MP__CB_NONE = 0, MP__CB_TAKEN = 1, MP__CB_DONE = 2 };

/* Job blocks at least this big are kept for reuse when freed: their pages
 * stay mapped in every process of the pool, so the next big map pays no
 * page faults (copying into fresh shared pages costs more than the map). */
#define MP__SPARE_MIN (64u * 1024u)

/* Results no bigger than this, the size of the arguments, are written over
 * the arguments (job.c mp__job_new, worker.c run_chunk). */
#define MP__IN_PLACE_MAX 64

/* Jobs with at least this many argument bytes (and two chunks or more)
 * are queued before their arguments are copied in (submit.c), in steps of
 * at least MP__PIPELINE_STEP bytes: small enough that workers start
 * early, big enough that a wake-up per step is nothing beside the copy. */
#define MP__PIPELINE_MIN  (64u * 1024u)
#define MP__PIPELINE_STEP (16u * 1024u)

/* Threads that can wait on one job at once through a watch cell
 * (mp_async_wait_any). A further one is not registered and sees that
 * job's completion within one MP__WAIT_SLICE, by its periodic look. Four
 * pointers keep the slots on the job's waiting cache line. */
#define MP__WATCH_SLOTS 4

/* A pool is broken (MP_EBROKEN) when this many workers per place in a row
 * die before finishing their initializer: with N places the supervisor
 * forks at most N + 2N = 3N processes before it gives up. One death in a
 * row is a crash in a task's first moments or a kill from outside; 2N in a
 * row, with no worker ever getting through, is an initializer that cannot
 * succeed. */
#define MP__EARLY_DEATHS_PER_PLACE 2

/* The supervisor looks again this often (seconds) when no descriptor can
 * wake it: a kernel without pidfds, a fork that failed and is retried, or
 * a broken pool failing work submitted since its last look. */
#define MP__SUP_RETRY_SECONDS 0.05

/* One result made with mp_task_result_alloc: this header, then the bytes,
 * in one shared block. A chunk's results form a list, newest first,
 * written only by the chunk's owner while it runs and read once the
 * chunk is final; each change is one store, so an owner that dies leaves
 * a whole list (at worst leaking the block it was adding). */
struct mp__result {
    struct mp__result *next; /* the chunk's earlier result, or NULL */
    size_t item;             /* input index */
    size_t len;              /* bytes that follow */
    size_t pad;              /* keeps the bytes 16-byte aligned */
};
_Static_assert(sizeof(struct mp__result) == 32, "result header layout");

/* A watch cell: the futex one mp_async_wait_any call sleeps on. The
 * waiting thread registers it in a slot of each job it waits for; the
 * party that makes a job ready takes it out of the slot (exchange), sets
 * word and wakes it. Reference counted: the waiter holds one, every
 * registration one, so a cell outlives a waiter killed while registered
 * until the last job drops it (job.c). One per thread, reused. */
struct mp__watch {
    _Atomic uint32_t word; /* 0 while waiting; 1 once some job it watches is ready */
    _Atomic uint32_t refs; /* the owning thread + one per slot holding it */
    pid_t tid;             /* the owning thread's kernel id */
    uint32_t pad;          /* keeps the size a multiple of 8 */
};
_Static_assert(sizeof(struct mp__watch) == 16, "watch cell layout");

struct mp_async {
    /* Fixed at submission, read-only afterwards. */
    mp_pool *pool;                   /* the pool it was submitted to */
    mp_task_fn fn;                   /* same address in every process: one image */
    size_t n;                        /* items */
    size_t arg_size;                 /* bytes per argument (0: the task gets NULL) */
    size_t result_size;              /* bytes per result (0: the task gets NULL) */
    size_t chunksize;                /* items per chunk (the last may be shorter) */
    uint32_t nchunks;                /* ceil(n / chunksize) */
    uint32_t kind;                   /* MP__JOB_* */
    char *args;                      /* n * arg_size copied bytes, or NULL */
    char *results;                   /* n * result_size bytes, or NULL; == args in place */
    int32_t *status;                 /* per-item task code; valid in CH_FAILED chunks */
    _Atomic uint32_t *chunk_st;      /* per-chunk MP__CH_* */
    uint32_t *order;                 /* chunk + 1 in commit order (lock) */
    struct mp__result *_Atomic *big; /* per-chunk results of any size, or NULL */
    mp_callbacks cb;                 /* function pointers valid in the creator only */
    bool has_cb;                     /* a callback or error callback was given */
    pid_t owner_tid;                 /* the submitting thread (copies big arguments) */

    /* Queues. */
    struct mp_async *next;            /* run queue link (lock) */
    struct mp_async *in_next;         /* incoming stack link, set before the push */
    struct mp_async *_Atomic cb_next; /* due-callback stack link */
    uint32_t next_chunk;              /* claims look from here (lock) */

    /* Completion. A job is complete when every chunk is final:
     * ndone + ncancelled == nchunks; one party wins `completed`. */
    _Atomic uint32_t ndone;      /* chunks made final under the lock */
    _Atomic uint32_t ncancelled; /* chunks cancelled (no lock) */
    _Atomic uint32_t completed;  /* 0, or the tid of the party that completed it */
    _Atomic uint32_t cancelled;  /* mp_async_cancel won at least one chunk */
    _Atomic uint32_t refs;       /* handle + queue + each claim + callback */
    _Atomic uint32_t cb_state;   /* MP__CB_*: due list taken, callbacks ran */
    _Atomic uint32_t any_big;    /* some task made a result of any size */

    /* Waiters of this job: single waits sleep on seq (bumped whenever a
     * chunk becomes final or the job becomes ready); wait_any registers a
     * watch cell. One cache line with the other words waited on, apart
     * from the fields above, which every claimer reads. */
    _Alignas(64) _Atomic uint32_t seq;
    _Atomic uint32_t waiters;                           /* threads sleeping on seq */
    _Atomic(struct mp__watch *) watch[MP__WATCH_SLOTS]; /* registered cells, or NULL */

    /* The submitter copies a big job's arguments in after queueing it, one
     * chunk at a time, so workers start on the first chunks meanwhile. */
    _Atomic uint32_t ready;         /* chunks whose arguments are in; futex */
    _Atomic uint32_t ready_waiters; /* workers sleeping on ready */

    /* Outcome, computed once complete (first failure in input order). */
    _Atomic uint32_t outcome_known; /* 1 once outcome/outcome_task are set */
    _Atomic int outcome;            /* 0 or the MP_E* code get returns */
    _Atomic int outcome_task;       /* the task's own code for MP_ETASK */
};

/* A job block is 64-aligned and the header ends with its one cache line
 * of waited-on words: no padding line, so an apply's block fits the heap's
 * 320-byte class (12 to a page, where 384 bytes fit 10: a fresh page costs
 * a fault in each process that touches it). */
_Static_assert(offsetof(struct mp_async, seq) % 64 == 0 &&
                   sizeof(struct mp_async) - offsetof(struct mp_async, seq) <= 64,
               "a job's waited-on words share its last cache line");
_Static_assert(sizeof(struct mp_async) <= 256, "a job header fits four cache lines");

struct mp_imap {
    struct mp_async job; /* first: an imap is a job plus a cursor */
    size_t next_item;    /* ordered: next input index; unordered: items handed out */
    uint32_t upos;       /* unordered: position in job.order */
    size_t uitem;        /* unordered: item within that chunk */
    int task_error;      /* the task's code for the last MP_ETASK */
};

/* One worker place. A replacement worker reuses its predecessor's slot.
 * Slots from nworkers on have no process: a thread of another kind (the
 * cluster's dispatcher) claims and commits through them. */
struct mp__pool_slot {
    _Alignas(64) pid_t pid;     /* the worker in this place; 0 when empty (lock) */
    uint32_t chunk;             /* the claimed chunk (lock) */
    struct mp_async *job;       /* job of the claimed chunk, or NULL (lock) */
    uint64_t started;           /* workers ever started in this place (lock) */
    _Atomic uint64_t run_since; /* CLOCK_MONOTONIC ns its chunk started; 0 = none */
    _Atomic uint32_t sleep;     /* MP__W_*: spinning or sleeping for work */
    _Atomic uint32_t wake;      /* futex the idle owner sleeps on */
    _Atomic uint32_t inited;    /* the worker got through its initializer */
};

/* The commit and drain journal (see the top of this file). */
struct mp__pool_journal {
    struct mp_async *_Atomic job; /* commit in progress; valid only when non-NULL */
    uint32_t chunk;               /* chunk being committed */
    uint32_t st;                  /* its final state */
    uint32_t done;                /* job->ndone before the commit */
    pid_t tid;                    /* the committer */
    struct mp_async *drain;       /* incoming chain being spliced, or NULL */
};

/* What only the creating process has: the callback thread. */
struct mp__pool_local {
    mp__lock mu;              /* guards started and thread (private memory) */
    pthread_t thread;         /* runs the callbacks */
    bool started;             /* the thread exists */
    _Atomic bool stop;        /* join/free: run the due callbacks and leave */
    _Atomic uint32_t exited;  /* futex: the thread has left (join_timeout) */
    _Atomic bool reaped;      /* the supervisor has been waited for */
    _Atomic uint32_t pending; /* jobs with callbacks not yet run */
};

struct mp_pool {
    mp__lock lock;                   /* libmp's futex lock; guards the fields marked (lock) */
    _Atomic(struct mp_async *) head; /* run queue (lock; read racily as a hint) */
    struct mp_async *tail;           /* its last job (lock) */
    struct mp__pool_journal jr;      /* (lock) */
    _Atomic uint32_t state;          /* MP__POOL_* */
    _Atomic uint32_t broken;         /* MP__BROKEN_* */
    int nworkers;                    /* worker places (slots 0..nworkers-1) */
    int nslots;                      /* all slots, places for other claimers included */
    size_t maxtasks;                 /* chunks per worker, 0 = unlimited */
    double task_timeout;             /* seconds a chunk may run, 0 = no limit */
    void (*initializer)(void *);     /* run in each worker before its first chunk */
    void *initarg;                   /* its argument */
    pid_t creator;                   /* the process that made the pool (callbacks run here) */
    pid_t sup_pid;                   /* the supervisor process */
    struct mp__pool_local *local;    /* creator's private state (callback thread) */
    _Atomic uint32_t refs;           /* the owner (until mp_pool_free) + one per live job */
    _Atomic(void *) spare;           /* a large job block kept for reuse, or NULL */
    _Atomic uint64_t forks;          /* workers forked, ever */
    _Atomic uint32_t inits;          /* workers that got through their initializer */
    _Atomic uint32_t spinner;        /* slot + 1 of the one idle slot spinning now, or 0 */
    /* Hook for the cluster (src/cluster): set before the pool is shared. */
    int (*admit)(mp_task_fn fn, size_t arg_size, size_t result_size); /* 0 or MP_EINVAL; NULL: any */
    int spread; /* workers a default chunksize spreads a map over; 0: nworkers */

    _Alignas(64) _Atomic(struct mp_async *) incoming; /* submitted jobs, newest first */
    _Alignas(64) _Atomic uint32_t sup_state;          /* MP__SUP_*; futex for join */
    _Atomic int32_t sup_err;                          /* -errno if the supervisor failed */
    _Alignas(64) _Atomic uint32_t cb_seq;             /* bumped when callbacks are due */
    _Atomic uint32_t cb_waiting;                      /* the callback thread sleeps on cb_seq */
    _Atomic(struct mp_async *) cb_head;               /* complete jobs whose callbacks are due */
    struct mp__pool_slot slots[];                     /* nslots */
};

/* ---- job.c: job blocks ------------------------------------------------ */

/* mp__pool_alloc returns size bytes of the shared heap aligned to 64 (pool
 * objects keep their futex words on their own cache lines); NULL with
 * errno ENOMEM. */
void *mp__pool_alloc(size_t size);

/* mp__pool_unref drops a reference on the pool's memory; the last frees it. */
void mp__pool_unref(mp_pool *p);

/* mp__job_new builds a job of hdr_size header bytes (an mp_async, or an
 * mp_imap that starts with one) for n items, copying the arguments now
 * unless the job is big enough to be copied in after it is queued
 * (job->ready < nchunks then). Takes a reference on the pool. References:
 * the handle, plus the queue when there is a chunk. NULL with errno
 * ENOMEM. */
struct mp_async *mp__job_new(mp_pool *p, size_t hdr_size, int kind, mp_task_fn fn, const void *args,
                             size_t n, size_t arg_size, size_t result_size, size_t chunksize);

/* mp__job_unref drops a reference; the last frees the results of any
 * size, then the block (into the pool's spare when large). */
void mp__job_unref(struct mp_async *j);

/* mp__job_item_range gives chunk c's items [*lo, *hi). */
void mp__job_item_range(const struct mp_async *j, uint32_t c, size_t *lo, size_t *hi);

/* mp__job_complete: every chunk final. mp__job_ready: complete and its
 * callbacks have run (what get and wait wait for). */
bool mp__job_complete(const struct mp_async *j);
bool mp__job_ready(const struct mp_async *j);

/* mp__job_try_complete completes j if every chunk is final and nobody did
 * yet: marks it, and for a job with callbacks pushes it on the pool's due
 * list. Lock-free; true for the one caller that completed it, which then
 * calls mp__job_completed_wake (after releasing the pool lock if held). */
bool mp__job_try_complete(struct mp_async *j);

/* mp__job_cb_push puts a complete job on the pool's due-callback list. */
void mp__job_cb_push(struct mp_async *j);

/* mp__job_completed_wake tells a completed job's waiters: a job without
 * callbacks is ready now (waiters and watch cells woken); one with
 * callbacks wakes the callback thread. */
void mp__job_completed_wake(struct mp_async *j);

/* mp__job_chunk_wake wakes single waiters after a chunk became final (an
 * imap hands results out chunk by chunk). */
void mp__job_chunk_wake(struct mp_async *j);

/* mp__job_ready_notify wakes everyone waiting for j to be ready: seq
 * sleepers and registered watch cells. */
void mp__job_ready_notify(struct mp_async *j);

/* mp__job_item_outcome is item i's result in a final chunk of state st:
 * 0, MP_ETASK (code in *task), MP_EWORKERDIED, MP_ECLOSED, MP_ECANCELED,
 * MP_ETIMEDOUT or MP_EBROKEN. */
int mp__job_item_outcome(const struct mp_async *j, uint32_t st, size_t i, int *task);

/* mp__job_outcome is a complete job's result: its first failure in input
 * order (cached). */
void mp__job_outcome(struct mp_async *j, int *code, int *task);

/* mp__job_collect copies every successful fixed-size result to out. */
void mp__job_collect(const struct mp_async *j, void *out);

/* mp__job_result_put records a result of size bytes for item i of chunk
 * c, replacing an earlier one, and returns its bytes; NULL with errno
 * ENOMEM. Called by the chunk's owner while the chunk runs. */
void *mp__job_result_put(struct mp_async *j, uint32_t c, size_t i, size_t size);

/* mp__job_result_find returns item i's result of any size (its bytes
 * follow the header), or NULL when the task made none or it was taken. */
struct mp__result *mp__job_result_find(struct mp_async *j, size_t i);

/* mp__job_result_take unlinks and frees item i's result (an imap's single
 * reader, once it has copied it). */
void mp__job_result_take(struct mp_async *j, size_t i);

/* mp__job_results_drop frees chunk c's results of any size: a failed
 * chunk's (its owner is dead), or when the job is freed. */
void mp__job_results_drop(struct mp_async *j, uint32_t c);

/* mp__watch_unref drops a reference on a watch cell; the last frees it. */
void mp__watch_unref(struct mp__watch *w);

/* ---- sched.c: the lock, the queues, claim and commit ------------------- */

/* mp__pool_lock takes the pool lock before d (NULL: no deadline, for the
 * pool's own processes and threads), repairing first when its holder died
 * (journal replay). Returns 0 or MP_ETIMEDOUT. */
int mp__pool_lock(mp_pool *p, const mp__deadline *d);
void mp__pool_unlock(mp_pool *p);

/* mp__pool_push puts a job on the incoming stack: one CAS, no lock, so a
 * stopped worker never delays a submission. */
void mp__pool_push(mp_pool *p, struct mp_async *j);

/* mp__pool_work_visible tells, without the lock, whether there may be
 * work to claim (a hint for idle workers). */
bool mp__pool_work_visible(mp_pool *p);

/* The claim/commit interface. Local workers use it, and so may any thread
 * that runs chunks elsewhere (the cluster's dispatcher: "remote worker
 * slots", slots nworkers..nslots-1 of a pool made by mp__pool_new_slots,
 * with no process behind them). Per slot, one chunk at a time:
 *
 *   for (;;) {
 *       mp__pool_lock(p, NULL);
 *       bool got = mp__pool_claim(p, slot, &c);   // takes a job reference
 *       mp__pool_unlock(p);
 *       if (!got) {                                // no work: sleep on the slot,
 *           mp__pool_idle(p, slot, &d);            // woken by submitters (or d)
 *           continue;
 *       }
 *       mp__pool_chunk_ready(c.job, c.chunk);      // big jobs: arguments copied in
 *       ... read c.args: c.n items of c.job->arg_size bytes (items c.lo ..);
 *       ... write c.results: c.n * c.job->result_size bytes; they may alias
 *           c.args (read an item's argument before writing its result);
 *       ... a failing item: mp__pool_claim_status(&c, item, code, &failed);
 *       ... a result of any size: mp__job_result_put(c.job, c.chunk, item, len);
 *       mp__pool_lock(p, NULL);
 *       bool done = mp__pool_commit(p, slot, &c, failed ? MP__CH_FAILED : MP__CH_OK);
 *       mp__pool_unlock(p);
 *       mp__pool_release(&c, done);                // wakes, drops the reference
 *   }
 *
 * A claim is recorded in the slot before the chunk is marked, so whoever
 * finds the claimer lost (a dead worker, a silent remote node) fails it
 * under the lock with mp__pool_fail_claim (MP__CH_DIED: MP_EWORKERDIED, or
 * MP__CH_TIMEDOUT), then calls mp__pool_release. Terminate fails claimed
 * chunks with MP__CH_CLOSED; a later commit of such a chunk changes
 * nothing. The supervisor watches only slots below nworkers. */
struct mp__claim {
    struct mp_async *job; /* the job (a reference is held until release) */
    uint32_t chunk;       /* chunk index */
    size_t lo;            /* first item */
    size_t n;             /* items */
    const char *args;     /* their arguments, or NULL when arg_size is 0 */
    char *results;        /* their result slots, or NULL when result_size is 0 */
};

/* mp__pool_claim claims the next pending chunk for slot (lock held),
 * draining the incoming stack first. False when there is none. */
bool mp__pool_claim(mp_pool *p, int slot, struct mp__claim *c);

/* mp__pool_claim_status records item i's (absolute index) non-zero code;
 * the chunk then commits as MP__CH_FAILED. */
void mp__pool_claim_status(struct mp__claim *c, size_t i, int code, bool *failed);

/* mp__pool_commit makes the slot's claimed chunk final with st (lock
 * held) unless someone got there first (terminate, a time limit). True
 * when that completed the job. Clears the slot's claim. */
bool mp__pool_commit(mp_pool *p, int slot, const struct mp__claim *c, uint32_t st);

/* mp__pool_release finishes a commit after the lock is released: wakes
 * the job's waiters when done, drops the claim's reference. */
void mp__pool_release(const struct mp__claim *c, bool done);

/* mp__pool_fail_claim fails slot's claimed chunk with st (lock held),
 * freeing the results it made (its owner is gone), and clears the claim.
 * Returns the job (its reference now the caller's to release with
 * mp__pool_release) or NULL when the slot held none. */
struct mp_async *mp__pool_fail_claim(mp_pool *p, int slot, uint32_t st, bool *done);

/* mp__pool_chunk_ready waits until chunk c's arguments are copied in;
 * false if the submitter died before copying them (the chunk then fails
 * with MP__CH_DIED). */
bool mp__pool_chunk_ready(struct mp_async *j, uint32_t c);

/* mp__pool_finish makes chunk c final with st unless it is final already
 * (lock held). True when that completed the job (the caller wakes after
 * unlocking: mp__job_completed_wake). */
bool mp__pool_finish(mp_pool *p, struct mp_async *j, uint32_t c, uint32_t st);

/* mp__pool_fail_all fails every chunk not yet final, queued or claimed,
 * with st (lock held): terminate, a dead supervisor, a broken pool.
 * Running it twice is harmless. */
void mp__pool_fail_all(mp_pool *p, uint32_t st);

/* mp__pool_sup_alive tells whether the supervisor may still run. */
bool mp__pool_sup_alive(mp_pool *p);

/* mp__pool_check_alive is what waiters do when the supervisor is gone:
 * fail everything it would never finish. Takes the lock before d (or
 * gives up: MP_ETIMEDOUT). Returns 0. */
int mp__pool_check_alive(mp_pool *p, const mp__deadline *d);

/* mp__pool_wake_idle claims up to want idle slots for new work, each
 * marked active and its wake word bumped; those asleep in the kernel are
 * woken. Lock-free. */
void mp__pool_wake_idle(mp_pool *p, uint32_t want);

/* mp__pool_idle makes slot wait for work: a short spin, then a sleep on
 * its wake word until a submitter claims it, work shows or the pool stops
 * running (looked at each MP__WAIT_SLICE, so a wake lost with a killed
 * submitter costs a slice), or d passes (NULL: no deadline; a dispatcher
 * that also polls elsewhere passes one). Called without the lock.
 * Returns 0 (look for work) or MP_ETIMEDOUT. */
int mp__pool_idle(mp_pool *p, int slot, const mp__deadline *d);

/* mp__pool_spinner_gone lets another slot spin when slot's owner died
 * while it was the one spinning (the supervisor calls it). */
void mp__pool_spinner_gone(mp_pool *p, int slot);

/* ---- worker.c, supervisor.c, callback.c, pool.c ------------------------ */

/* mp__pool_new_slots is mp_pool_new_opts with `extra` slots after the
 * workers' (nworkers..nslots-1) for claimers that are not worker
 * processes, such as the cluster's dispatcher. With extra > 0,
 * opts->processes < 0 means no worker process (nworkers 0). */
mp_pool *mp__pool_new_slots(const mp_pool_opts *opts, int extra);

/* mp__pool_worker_main is a worker's life in place idx; never returns. */
_Noreturn void mp__pool_worker_main(mp_pool *p, int idx);

/* mp__pool_in_task is the pool whose task the calling process is running
 * (set in worker processes), or NULL. */
extern mp_pool *mp__pool_in_task;

/* mp__pool_start_supervisor forks the supervisor and waits until it has
 * forked the workers. 0 or -errno. */
int mp__pool_start_supervisor(mp_pool *p);

/* mp__pool_cb_register counts j's callbacks as pending and takes their
 * reference on j, starting the thread if needed: 0, MP_ESTATE outside the
 * creating process, or -errno when the thread cannot start. */
int mp__pool_cb_register(mp_pool *p, struct mp_async *j);

/* mp__pool_cb_unregister undoes a registration for a job never queued. */
void mp__pool_cb_unregister(mp_pool *p, struct mp_async *j);

/* mp__pool_cb_stop lets the thread run every callback still due, then
 * joins it, before d: 0 or MP_ETIMEDOUT (then it still runs). */
int mp__pool_cb_stop(mp_pool *p, const mp__deadline *d);

#endif
