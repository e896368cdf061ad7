/* mp/pool.h - a pool of worker processes (Python's multiprocessing.Pool).
 *
 * Tasks are C functions `int fn(const void *arg, void *result)`: the pool
 * copies the argument bytes when the work is submitted, the task writes
 * result_size bytes at result and returns 0, or its own non-zero error code
 * (the pool then reports MP_ETASK and keeps the code). A task runs in a
 * worker process, so fn must be a function of the program (or of a library
 * loaded before the pool was made) and may not keep pointers into the
 * caller's private memory: pass values, or pointers into the shared heap.
 *
 * Unlike Python's Pool, a worker that dies (SIGKILL, a crash, _exit in a
 * task) never hangs anyone: exactly the task(s) it was running fail with
 * MP_EWORKERDIED, a new worker takes its place and the rest completes.
 *
 * Processes: mp_pool_new forks one small supervisor process, which forks
 * the workers, watches them and replaces the ones that end. Your process
 * gets no thread from the pool unless you pass callbacks (they run on one
 * thread of the process that created the pool). Work may be submitted from
 * any process of the family; callbacks only from the creating process. */
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
} mp_pool_opts;

typedef struct {
    void (*callback)(void *result, void *userdata); /* run in the parent */
    void (*error_callback)(int code, int task_error, void *userdata);
    /* code: what mp_async_get returns (MP_ETASK, MP_EWORKERDIED, MP_ECLOSED);
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
 * it. */
MP_EXTERN mp_pool *mp_pool_new_opts(const mp_pool_opts *opts);

/* mp_pool_apply runs fn(arg) in a worker and waits for it: the copied
 * arg_size bytes of arg (arg NULL exactly when arg_size is 0) and the
 * result_size bytes it writes to result. Returns 0, MP_ETASK (the task's
 * code is lost: use mp_pool_apply_async to read it), MP_EWORKERDIED,
 * MP_ECLOSED after close or terminate, MP_EINVAL for NULL pool or fn, a
 * NULL arg with arg_size > 0 or the reverse, or a NULL result with
 * result_size > 0. Blocks until done. */
MP_EXTERN int mp_pool_apply(mp_pool *p, mp_task_fn fn, const void *arg, size_t arg_size,
                            void *result, size_t result_size);

/* mp_pool_apply_async submits fn(arg) and returns at once with a handle
 * (free it with mp_async_free, whether or not you waited). The argument is
 * copied now. With cb, its callback (or error_callback) runs in this
 * process before mp_async_get/wait report the result. Returns NULL with
 * errno: EINVAL (as mp_pool_apply), EPIPE after close or terminate, EPERM
 * for callbacks from a process other than the pool's creator, ENOMEM. */
MP_EXTERN mp_async *mp_pool_apply_async(mp_pool *p, mp_task_fn fn, const void *arg, size_t arg_size,
                                        size_t result_size, const mp_callbacks *cb);

/* mp_pool_map runs fn over the n items of args (arg_size bytes each) and
 * writes item i's result at results + i * result_size. Items travel in
 * chunks of chunksize (0: Python's default, ceil(n / (4 * workers))), so
 * tiny tasks are cheap. Returns 0, or the first failure in input order
 * (MP_ETASK, MP_EWORKERDIED, MP_ECLOSED) after filling every result it
 * could. n == 0 does nothing and returns 0. MP_EINVAL for NULL pool or fn,
 * n > 0 with a NULL args (or a NULL results and result_size > 0), arg_size
 * 0 with non-NULL args. MP_ECLOSED after close or terminate. Blocks until
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
 * with errno as mp_pool_map_async (EINVAL, EPIPE, ENOMEM). Free with
 * mp_imap_free. */
MP_EXTERN mp_imap *mp_pool_imap(mp_pool *p, mp_task_fn fn, const void *args, size_t n,
                                size_t arg_size, size_t result_size, size_t chunksize);

/* mp_pool_imap_unordered is mp_pool_imap with results in completion order;
 * mp_imap_next reports each one's input index. */
MP_EXTERN mp_imap *mp_pool_imap_unordered(mp_pool *p, mp_task_fn fn, const void *args, size_t n,
                                          size_t arg_size, size_t result_size, size_t chunksize);

/* mp_imap_next waits up to timeout seconds for the next result, copies it
 * to result (result_size bytes; result may be NULL only when result_size
 * is 0) and its input index to *index (index may be NULL). Returns 0;
 * MP_ETASK or MP_EWORKERDIED for a failed item (index set, result not
 * written, iteration goes on); MP_ECLOSED when every item was handed out,
 * or for items the pool's terminate cancelled; MP_ETIMEDOUT (nothing
 * consumed); MP_EINVAL for NULL it, a NULL result or a NaN timeout. One
 * iterator is read by one thread at a time. */
MP_EXTERN int mp_imap_next(mp_imap *it, void *result, size_t *index, double timeout);

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

/* mp_pool_terminate stops the workers now (SIGKILL) and returns once they
 * are gone. Every result not yet complete fails with MP_ECLOSED (error
 * callbacks run with that code); nothing is left waiting. Returns 0, or
 * MP_EINVAL for NULL. */
MP_EXTERN int mp_pool_terminate(mp_pool *p);

/* mp_pool_join waits for the workers to exit after mp_pool_close (once
 * the outstanding work is done) or mp_pool_terminate, and for every
 * callback of that work to have run. Returns 0, MP_ESTATE while the pool
 * still runs, MP_EINVAL for NULL. Blocks with no timeout, as in Python: a
 * task that never returns keeps it waiting. Do not call it from a
 * callback. */
MP_EXTERN int mp_pool_join(mp_pool *p);

/* mp_pool_free terminates the pool if needed (as leaving Python's `with
 * Pool()` block does: call close and join first to let work finish) and
 * releases it. Handles (mp_async, mp_imap) stay valid until freed; their
 * unfinished results read MP_ECLOSED. Call it once, in the creating
 * process. NULL: nothing. */
MP_EXTERN void mp_pool_free(mp_pool *p);

/* mp_async_get waits up to timeout seconds for the result, then copies it
 * to result: result_size bytes for apply_async, n * result_size for
 * map_async (result may be NULL when that is 0). Returns 0; MP_ETIMEDOUT
 * (try again later); MP_ETASK (the code from mp_async_task_error);
 * MP_EWORKERDIED; MP_ECLOSED (terminated first); MP_EINVAL for NULL a, a
 * NULL result, a NaN timeout. On failure a map still writes every result
 * it has. With callbacks, returns only after they ran. */
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
 * finishes; its result is dropped. */
MP_EXTERN void mp_async_free(mp_async *a);

#ifdef __cplusplus
}
#endif
#endif /* MP_POOL_H */
