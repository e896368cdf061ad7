/* mp/pool.h - a pool of worker processes (Python's multiprocessing.Pool,
 * with concurrent.futures' wait, as_completed and cancel).
 *
 * Tasks run in other processes: pass values, not pointers to your memory.
 * A task is a C function `int fn(const void *arg, void *result)`; the pool
 * copies arg_size bytes of the argument when the work is submitted and
 * the task runs in a worker process, forked when the pool was made. A
 * pointer inside the argument therefore points into the worker's copy of
 * your memory as it was then: memory allocated or written since is not
 * there (wrong data, or a crash).
 *
 *     char *name = strdup("report.txt");                        // after mp_pool_new
 *     mp_pool_apply_async(p, count, &name, sizeof name, ...);    // WRONG: a private pointer
 *
 *     struct job { char name[64]; } j;  strcpy(j.name, "report.txt");
 *     mp_pool_apply_async(p, count, &j, sizeof j, ...);          // right: the bytes travel
 *     char *s = mp_shared_malloc(64);  strcpy(s, "report.txt");
 *     mp_pool_apply_async(p, count, &s, sizeof s, ...);          // right: the shared heap
 *
 * Run with MP_DEBUG_POINTERS=1 in the environment and the pool warns once
 * (on stderr) when an argument holds what looks like an address in the
 * submitting process's private memory. The task function itself must be
 * part of the program (or of a library loaded before the pool was made).
 * The task writes result_size bytes at result and returns 0, or its own
 * non-zero error code (the pool then reports MP_ETASK and keeps the code);
 * a result of any size comes from mp_task_result_alloc.
 *
 * Unlike Python's Pool, a worker that dies (SIGKILL, a crash, _exit in a
 * task) never hangs anyone: exactly the task(s) it was running fail with
 * MP_EWORKERDIED, a new worker takes its place and the rest completes. A
 * stopped process (SIGSTOP, a debugger) never makes a call overrun its
 * timeout: submission and the waits take no lock a worker can hold.
 *
 * Processes: mp_pool_new forks one small supervisor process, which forks
 * the workers, watches them and replaces the ones that end. Your process
 * gets no thread from the pool unless you pass callbacks (they run on one
 * thread of the process that created the pool). Work may be submitted from
 * any process of the family; callbacks only from the creating process. A
 * pool's own tasks may not use it (they would wait for themselves): calls
 * on it from one of its tasks return MP_ESTATE (NULL with errno EDEADLK
 * for the submissions that return a handle). */
#ifndef MP_POOL_H
#define MP_POOL_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mp_pool mp_pool;
typedef struct mp_async mp_async;
typedef struct mp_imap mp_imap;

typedef int (*mp_task_fn)(const void *arg, void *result); /* 0 = success, else the task's code */

typedef struct {
    int processes;                      /* 0 -> the CPUs this process may use */
    void (*initializer)(void *initarg); /* run once in each worker before its first task */
    void *initarg;
    size_t maxtasksperchild; /* chunks a worker runs before it is replaced; 0 = no limit */
    double task_timeout;     /* seconds one chunk may run; 0 = no limit (see below) */
} mp_pool_opts;

typedef struct {
    void (*callback)(void *result, void *userdata); /* run in the parent */
    void (*error_callback)(int code, int task_error, void *userdata);
    /* code: what mp_async_get returns (MP_ETASK, MP_EWORKERDIED, MP_ECLOSED,
       MP_ECANCELED, MP_ETIMEDOUT, MP_EBROKEN);
       task_error: the task's own code for MP_ETASK, else 0 */
    void *userdata;
} mp_callbacks;

/* mp_pool_new makes a pool of `processes` workers, forked at once (0 means
 * as many as the CPUs this process may run on). Returns NULL with errno set:
 * EINVAL for a negative count, ENOMEM, EAGAIN when the processes cannot be
 * forked. Buffered stdio output is flushed first, so workers never print it
 * again. Free it with mp_pool_free. */
MP_EXTERN mp_pool *mp_pool_new(int processes);

/* mp_pool_new_opts is mp_pool_new with Python's other Pool arguments
 * (opts may be NULL). The initializer runs in each worker, replacements
 * included, before its first task. With maxtasksperchild set, a worker
 * leaves after that many chunks (Python counts chunks too: with map's
 * automatic chunks a worker may run many items) and a fresh one replaces
 * it.
 *
 * task_timeout (as billiard's and pebble's time limits): a chunk that runs
 * longer is stopped - its worker is killed and replaced - and its items
 * fail with MP_ETIMEDOUT; every other task goes on. It counts from the
 * chunk's start, so with chunks of several items it bounds the chunk.
 *
 * A pool that cannot start fails fast: when 2 x processes workers in a
 * row die before their initializer returns (it crashes or exits), the
 * supervisor stops forking (at most 3 x processes forks in all), work
 * pending and submitted later fails with MP_EBROKEN within a second, and
 * close, join and free still work.
 *
 * Returns NULL with errno EINVAL also for a negative or NaN task_timeout. */
MP_EXTERN mp_pool *mp_pool_new_opts(const mp_pool_opts *opts);

/* mp_pool_apply runs fn(arg) in a worker and waits for it: the copied
 * arg_size bytes of arg (arg NULL exactly when arg_size is 0) and the
 * result_size bytes it writes to result. Returns 0, MP_ETASK (the task's
 * code is lost: use mp_pool_apply_async to read it), MP_EWORKERDIED,
 * MP_ETIMEDOUT (ran past task_timeout), MP_ECLOSED after close or
 * terminate, MP_EBROKEN (the pool cannot start workers), MP_ESTATE from
 * one of the pool's own tasks, MP_EINVAL for NULL pool or fn, a NULL arg
 * with arg_size > 0 or the reverse, or a NULL result with result_size >
 * 0. Blocks until done. */
MP_EXTERN int mp_pool_apply(mp_pool *p, mp_task_fn fn, const void *arg, size_t arg_size,
                            void *result, size_t result_size);

/* mp_pool_apply_async submits fn(arg) and returns at once with a handle
 * (free it with mp_async_free, whether or not you waited). The argument is
 * copied now. With cb, its callback (or error_callback) runs in this
 * process before mp_async_get/wait report the result. Returns NULL with
 * errno: EINVAL (as mp_pool_apply), EPIPE after close or terminate,
 * ENOTRECOVERABLE when the pool is broken (MP_EBROKEN), EDEADLK from one
 * of the pool's own tasks, EPERM for callbacks from a process other than
 * the pool's creator, ENOMEM. Never waits for another process. */
MP_EXTERN mp_async *mp_pool_apply_async(mp_pool *p, mp_task_fn fn, const void *arg, size_t arg_size,
                                        size_t result_size, const mp_callbacks *cb);

/* mp_pool_map runs fn over the n items of args (arg_size bytes each) and
 * writes item i's result at results + i * result_size. Items travel in
 * chunks of chunksize (0: Python's default, ceil(n / (4 * workers))), so
 * tiny tasks are cheap. Returns 0, or the first failure in input order
 * (MP_ETASK, MP_EWORKERDIED, MP_ETIMEDOUT, MP_ECLOSED, MP_EBROKEN) after
 * filling every result it could. n == 0 does nothing and returns 0.
 * MP_EINVAL for NULL pool or fn, n > 0 with a NULL args (or a NULL results
 * and result_size > 0), arg_size 0 with non-NULL args. MP_ECLOSED after
 * close or terminate, MP_EBROKEN, MP_ESTATE as mp_pool_apply. Blocks until
 * every item is done. */
MP_EXTERN int mp_pool_map(mp_pool *p, mp_task_fn fn, const void *args, size_t n, size_t arg_size,
                          void *results, size_t result_size, size_t chunksize);

/* mp_pool_map_async submits a map and returns a handle at once;
 * mp_async_get then writes all n results (every one it can, as
 * mp_pool_map). The callback gets the n results as one array. NULL with
 * errno as mp_pool_apply_async. */
MP_EXTERN mp_async *mp_pool_map_async(mp_pool *p, mp_task_fn fn, const void *args, size_t n,
                                      size_t arg_size, size_t result_size, size_t chunksize,
                                      const mp_callbacks *cb);

/* mp_pool_imap submits a map whose results mp_imap_next hands out one at a
 * time, in input order, as they arrive. chunksize 0 is the automatic size
 * (Python's imap defaults to 1: pass 1 for the first result soonest). NULL
 * with errno as mp_pool_map_async (EINVAL, EPIPE, ENOTRECOVERABLE,
 * EDEADLK, ENOMEM). Free with mp_imap_free. */
MP_EXTERN mp_imap *mp_pool_imap(mp_pool *p, mp_task_fn fn, const void *args, size_t n,
                                size_t arg_size, size_t result_size, size_t chunksize);

/* mp_pool_imap_unordered is mp_pool_imap with results in completion order;
 * mp_imap_next reports each one's input index. */
MP_EXTERN mp_imap *mp_pool_imap_unordered(mp_pool *p, mp_task_fn fn, const void *args, size_t n,
                                          size_t arg_size, size_t result_size, size_t chunksize);

/* mp_imap_next waits up to timeout seconds for the next result, copies it
 * to result (result_size bytes; result may be NULL only when result_size
 * is 0) and its input index to *index (index may be NULL). Returns:
 *   0               a result
 *   MP_ETASK, MP_EWORKERDIED, MP_EBROKEN
 *                   a failed item (index set, result not written, the
 *                   iteration goes on); MP_ETIMEDOUT with index set too
 *                   for an item that ran past task_timeout
 *   MP_ECLOSED      every item was handed out, or (index set) an item the
 *                   pool's terminate cancelled
 *   MP_ETIMEDOUT    (index not set) nothing arrived in time; nothing consumed
 *   MP_EINVAL       NULL it, a NULL result, a NaN timeout
 * One iterator is read by one thread at a time. */
MP_EXTERN int mp_imap_next(mp_imap *it, void *result, size_t *index, double timeout);

/* mp_imap_next_alloc is mp_imap_next for results of any size: *result gets
 * a malloc'd copy (free() it) of what the task made with
 * mp_task_result_alloc, or of its fixed result_size bytes, and *len its
 * length (*result non-NULL even for 0 bytes). The pool frees its own copy
 * at once. On failure *result is NULL and *len 0; MP_ENOMEM leaves the
 * item to read again. */
MP_EXTERN int mp_imap_next_alloc(mp_imap *it, void **result, size_t *len, size_t *index,
                                 double timeout);

/* mp_imap_task_error returns the task's own code for the last MP_ETASK
 * from mp_imap_next (0 before any). */
MP_EXTERN int mp_imap_task_error(const mp_imap *it);

/* mp_imap_free releases the iterator (NULL: nothing). Items not yet run
 * still run; their results are dropped. */
MP_EXTERN void mp_imap_free(mp_imap *it);

/* mp_pool_close stops new work: later submissions return MP_ECLOSED (NULL
 * with errno EPIPE). Work already submitted completes, then the workers
 * exit. Returns 0 (closing twice, or after terminate, is fine), MP_EINVAL
 * for NULL. Does not block. */
MP_EXTERN int mp_pool_close(mp_pool *p);

/* mp_pool_terminate stops the workers now (SIGKILL, which ends a stopped
 * worker too) and returns once they are gone (a stopped supervisor delays
 * that until it runs again). Every result not yet complete fails with
 * MP_ECLOSED (error callbacks run with that code); nothing is left
 * waiting. Returns 0, MP_ESTATE from one of the pool's tasks, or
 * MP_EINVAL for NULL. */
MP_EXTERN int mp_pool_terminate(mp_pool *p);

/* mp_pool_join waits for the workers to exit after mp_pool_close (once
 * the outstanding work is done) or mp_pool_terminate, and for every
 * callback of that work to have run. Returns 0; MP_ESTATE while the pool
 * still runs, from a process other than the pool's creator (only it can
 * reap the pool's processes and run its callbacks) or from one of the
 * pool's tasks; MP_EINVAL for NULL. Blocks with no timeout, as in Python:
 * a task that never returns keeps it waiting. Do not call it from a
 * callback. */
MP_EXTERN int mp_pool_join(mp_pool *p);

/* mp_pool_join_timeout is mp_pool_join for at most timeout seconds:
 * MP_ETIMEDOUT when the work is not done by then (call it again later),
 * MP_EINVAL also for a NaN timeout. */
MP_EXTERN int mp_pool_join_timeout(mp_pool *p, double timeout);

/* mp_pool_free terminates the pool if needed (as leaving Python's `with
 * Pool()` block does: call close and join first to let work finish) and
 * releases it. Handles (mp_async, mp_imap) stay valid until freed; their
 * unfinished results read MP_ECLOSED. Call it once, in the creating
 * process. NULL: nothing. */
MP_EXTERN void mp_pool_free(mp_pool *p);

/* mp_async_get waits up to timeout seconds for the result, then copies it
 * to result: result_size bytes for apply_async, n * result_size for
 * map_async (result may be NULL when that is 0). Returns:
 *   0               the result is written
 *   MP_ETIMEDOUT    not ready yet (try again later) - or, with
 *                   mp_async_ready true, the task ran past task_timeout
 *   MP_ETASK        the task failed: its code from mp_async_task_error
 *   MP_EWORKERDIED  the worker running it died
 *   MP_ECANCELED    mp_async_cancel came first
 *   MP_ECLOSED      the pool was terminated first
 *   MP_EBROKEN      the pool cannot start workers
 *   MP_EINVAL       NULL a, a NULL result, a NaN timeout
 * A map reports its first failure in input order and still writes every
 * result it has. With callbacks, returns only after they ran. Never waits
 * for a lock another process may hold. */
MP_EXTERN int mp_async_get(mp_async *a, void *result, double timeout);

/* mp_async_wait waits up to timeout seconds until the result is ready
 * (failed or not, callbacks run). Returns 0, MP_ETIMEDOUT, MP_EINVAL. */
MP_EXTERN int mp_async_wait(mp_async *a, double timeout);

/* mp_async_ready tells whether mp_async_get would return at once. */
MP_EXTERN bool mp_async_ready(const mp_async *a);

/* mp_async_successful is true once ready without failure (false before,
 * where Python raises ValueError). */
MP_EXTERN bool mp_async_successful(const mp_async *a);

/* mp_async_task_error returns the failing task's own non-zero code when
 * the result is MP_ETASK, else 0. */
MP_EXTERN int mp_async_task_error(const mp_async *a);

/* mp_async_free releases the handle (NULL: nothing). A task still running
 * finishes; its result is dropped, and so is a result of any size it made
 * (the pool frees what it allocated, read or not). Free a handle only
 * when no other call on it runs - or, for mp_async_wait_any and
 * mp_async_wait_all, once they have started: the handle then stays valid
 * until they return. */
MP_EXTERN void mp_async_free(mp_async *a);

/* mp_async_get_alloc is mp_async_get for a result of any size: *result
 * gets a malloc'd copy (free() it) of what the task made with
 * mp_task_result_alloc, or of its fixed result_size bytes when it made
 * none, and *len its length (*result is non-NULL even for 0 bytes). The
 * handle must have one item (apply_async, or a map of one); the pool's own
 * copy is freed with the handle. Returns mp_async_get's codes (then
 * *result is NULL and *len 0), MP_ENOMEM, MP_EINVAL also for a NULL
 * result or len or a handle of several items. */
MP_EXTERN int mp_async_get_alloc(mp_async *a, void **result, size_t *len, double timeout);

/* mp_task_result_alloc, called inside a task, returns size bytes (size 0
 * is fine) that become the task's result of any size, read with
 * mp_async_get_alloc or mp_imap_next_alloc. The memory is in the shared
 * heap and belongs to the pool: it is freed with the handle, or at once
 * if the worker dies or the task fails with a time limit. Calling it
 * again in the same task replaces the first result. Returns NULL with
 * errno ENOMEM, or EPERM outside a task. */
MP_EXTERN void *mp_task_result_alloc(size_t size);

/* mp_async_wait_any waits up to timeout seconds until at least one of the
 * n handles is ready (failed or not, callbacks run) and sets *index (may
 * be NULL) to the lowest ready index. NULL entries are skipped, so a loop
 * that sets each handle it consumed to NULL is Python's as_completed. The
 * handles may come from different pools. It sleeps once, until one is
 * ready (no polling). Returns 0, MP_ETIMEDOUT, MP_ENOMEM, or MP_EINVAL for
 * a NULL array with n > 0, all entries NULL, a NaN timeout. */
MP_EXTERN int mp_async_wait_any(mp_async *const *handles, size_t n, double timeout, size_t *index);

/* mp_async_wait_all waits up to timeout seconds until every non-NULL
 * handle is ready: 0 (also when there is none), MP_ETIMEDOUT, or
 * MP_EINVAL for a NULL array with n > 0 or a NaN timeout. */
MP_EXTERN int mp_async_wait_all(mp_async *const *handles, size_t n, double timeout);

/* mp_async_cancel cancels the work of a that no worker has started (as
 * Future.cancel()): that work never runs and its items read MP_ECANCELED.
 * Returns 0 when something was cancelled now or before (then
 * mp_async_cancelled is true and get returns MP_ECANCELED); MP_ESTATE when
 * all of it runs or is done (nothing changes), or for work with callbacks
 * from a process other than the pool's creator; MP_EINVAL for NULL. For a
 * map, the chunks not started are cancelled and the others complete; its
 * callbacks (the error callback, with MP_ECANCELED) run once all is done.
 * Never waits. */
MP_EXTERN int mp_async_cancel(mp_async *a);

/* mp_async_cancelled tells whether mp_async_cancel cancelled some of a. */
MP_EXTERN bool mp_async_cancelled(const mp_async *a);

#ifdef __cplusplus
}
#endif
#endif /* MP_POOL_H */
