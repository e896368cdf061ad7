/* pool_submit.c - putting work into the pool and taking results out:
 * apply, map, imap and their async handles.
 *
 * A submission is one job block in the shared heap (see internal/pool.h),
 * however many items it has: its arguments are copied in once, its chunks
 * are claimed by workers one after the other, and it is complete when every
 * chunk is committed. Waiters sleep on the job's futex only after checking,
 * so a job that finishes while nobody waits costs no system call. */
#include <errno.h>
#include <string.h>

#include "os/clock.h"
#include "os/futex.h"
#include "pool/pool.h"
#include "os/thread.h"
#include "mp/error.h"
#include "mp/shared.h"

static size_t round16(size_t x)
{
    return (x + 15) & ~(size_t)15;
}

/* Python's default: ceil(n / (4 * workers)). */
static size_t default_chunksize(const mp_pool *p, size_t n)
{
    size_t per = (size_t)p->nworkers * 4;
    size_t cs = n / per + (n % per != 0);
    return cs == 0 ? 1 : cs;
}

/* Build a job block: header of hdr_size bytes (an mp_async, or an mp_imap
 * that starts with one), chunk states, completion order, copied arguments,
 * result slots and item codes. Returns NULL with errno set (ENOMEM). */
static struct mp_async *job_new(mp_pool *p, size_t hdr_size, int kind, mp_task_fn fn,
                                const void *args, size_t n, size_t arg_size, size_t result_size,
                                size_t chunksize, const mp_callbacks *cb)
{
    if (chunksize == 0)
        chunksize = default_chunksize(p, n);
    /* Chunk numbers are 32-bit; more chunks than that only happen with
     * absurd inputs, so grow the chunks instead. */
    if (n / chunksize >= UINT32_MAX - 1)
        chunksize = n / (UINT32_MAX - 2) + 1;
    size_t nchunks = n / chunksize + (n % chunksize != 0);
    /* Small results the size of the arguments overwrite them in place:
     * the argument pages are already faulted in by the copy below, while
     * a separate result array costs a fresh shared page per 4 KiB, whose
     * allocation (about 3 us each) dominated a cold map. */
    bool in_place = arg_size != 0 && result_size == arg_size && result_size <= MP__IN_PLACE_MAX;
    size_t args_bytes, res_bytes, status_bytes;
    if (__builtin_mul_overflow(n, arg_size, &args_bytes) ||
        __builtin_mul_overflow(n, result_size, &res_bytes) ||
        __builtin_mul_overflow(n, sizeof(int32_t), &status_bytes) || args_bytes > SIZE_MAX / 4 ||
        res_bytes > SIZE_MAX / 4 || status_bytes > SIZE_MAX / 4) {
        errno = ENOMEM;
        return NULL;
    }
    size_t st_off = round16(hdr_size);
    size_t order_off = st_off + nchunks * sizeof(uint32_t);
    size_t args_off = round16(order_off + nchunks * sizeof(uint32_t));
    size_t res_off = in_place ? args_off : round16(args_off + args_bytes);
    size_t status_off = round16(in_place ? args_off + args_bytes : res_off + res_bytes);
    size_t total = status_off + status_bytes;

    void *block;
    char *m = mp__pool_job_alloc(p, total, &block);
    if (m == NULL)
        return NULL;
    /* Only the header and the chunk words need zeroes; results and codes
     * are written before they are read, so their pages stay untouched
     * until a worker writes them. */
    memset(m, 0, args_off);
    struct mp_async *j = (struct mp_async *)m;
    j->block = block;
    j->pool = p;
    j->fn = fn;
    j->n = n;
    j->arg_size = arg_size;
    j->result_size = result_size;
    j->chunksize = chunksize;
    j->nchunks = (uint32_t)nchunks;
    j->kind = (uint32_t)kind;
    j->chunk_st = (_Atomic uint32_t *)(m + st_off);
    j->order = (uint32_t *)(m + order_off);
    j->args = arg_size ? m + args_off : NULL;
    j->results = result_size ? m + res_off : NULL;
    j->status = (int32_t *)(m + status_off);
    j->owner = mp__pid();
    /* A big job is copied in by job_start after it is queued. */
    if (args_bytes >= MP__PIPELINE_MIN && nchunks >= 2) {
        atomic_store(&j->ready, 0);
    } else {
        if (args_bytes)
            memcpy(j->args, args, args_bytes);
        atomic_store(&j->ready, (uint32_t)nchunks);
    }
    if (cb != NULL && (cb->callback != NULL || cb->error_callback != NULL)) {
        j->cb = *cb;
        j->has_cb = true;
    }
    /* The caller's handle, the pending work, the callback. */
    atomic_store(&j->refs, 1u + (nchunks > 0) + j->has_cb);
    return j;
}

/* Release a job nobody else has seen. */
static void job_discard(struct mp_async *j)
{
    atomic_store(&j->refs, 1);
    mp__pool_job_unref(j);
}

/* Queue a job and wake idle workers for it. Returns 0 or MP_ECLOSED (the
 * job is then freed). */
static int job_submit(mp_pool *p, struct mp_async *j)
{
    if (j->has_cb) {
        int rc = mp__pool_cb_register(p, j);
        if (rc != 0) {
            job_discard(j);
            return rc;
        }
    }
    int wake[MP__WAKE_MAX];
    int nw = 0;
    mp__pool_lock(p);
    if (p->state != MP__POOL_RUN) {
        mp__pool_unlock(p);
        if (j->has_cb)
            atomic_fetch_sub(&p->local->pending, 1);
        job_discard(j);
        return MP_ECLOSED;
    }
    if (j->nchunks == 0) {
        /* Nothing to run: complete now (callbacks still run). */
        if (j->has_cb) {
            j->cb_next = p->cb_head;
            p->cb_head = j;
        }
    } else {
        j->next = NULL;
        if (p->tail != NULL)
            p->tail->next = j;
        else
            p->head = j;
        p->tail = j;
        nw = mp__pool_claim_sleepers(p, j->nchunks, wake);
    }
    mp__pool_unlock(p);
    mp__pool_wake_slots(p, wake, nw);
    if (j->nchunks == 0 && j->has_cb) {
        atomic_fetch_add(&p->cb_seq, 1);
        mp__futex_wake(&p->cb_seq, 1);
    }
    return 0;
}

static bool job_complete(const struct mp_async *j)
{
    return atomic_load(&j->ndone) == j->nchunks;
}

/* Ready for the user: complete, and its callbacks have run. */
static bool job_ready(const struct mp_async *j)
{
    return job_complete(j) && (!j->has_cb || atomic_load(&j->cb_state) != 0);
}

static bool pred_ready(const struct mp_async *j, size_t arg)
{
    (void)arg;
    return job_ready(j);
}

static bool pred_chunk_final(const struct mp_async *j, size_t c)
{
    return atomic_load_explicit(&j->chunk_st[c], memory_order_acquire) >= MP__CH_OK;
}

static bool pred_done_past(const struct mp_async *j, size_t pos)
{
    return atomic_load(&j->ndone) > pos;
}

/* Wait until pred(j, arg) holds or the deadline passes: 0 or MP_ETIMEDOUT.
 * The waiter count is raised before the last check, so a committer either
 * sees it and wakes us or committed before the check. Every slice checks
 * the supervisor is alive, so a dead pool fails the work, never hangs. */
static int job_wait(struct mp_async *j, bool (*pred)(const struct mp_async *, size_t), size_t arg,
                    const mp__deadline *d)
{
    /* A short task finishes within microseconds: spin briefly before
     * paying for a sleep and a wake-up (two system calls). */
    double until = 0;
    bool spin = d->forever || !mp__deadline_expired(d); /* never for a poll */
    for (int k = 0; spin && !pred(j, arg); k++) {
        if ((k & 63) == 63) {
            double t = mp__now();
            if (until == 0)
                until = t + MP__SPIN_SECONDS;
            else if (t > until || mp__deadline_expired(d))
                break;
        }
        mp__pool_spin_step(k);
    }
    for (;;) {
        if (pred(j, arg))
            return 0;
        atomic_fetch_add(&j->waiters, 1);
        uint32_t seq = atomic_load(&j->seq);
        if (pred(j, arg)) {
            atomic_fetch_sub(&j->waiters, 1);
            return 0;
        }
        mp__deadline slice = mp__deadline_min(d, MP__CHECK_SECONDS);
        int rc = mp__futex_wait(&j->seq, seq, &slice);
        atomic_fetch_sub(&j->waiters, 1);
        if (rc == MP_ETIMEDOUT && !pred(j, arg)) {
            if (mp__deadline_expired(d))
                return MP_ETIMEDOUT;
            /* Only unfinished work depends on the supervisor (a complete
             * job may just wait for its callback). */
            if (!job_complete(j))
                mp__pool_check_alive(j->pool);
        }
    }
}

/* The result of an item in a final chunk: 0, MP_ETASK (code in *task),
 * MP_EWORKERDIED or MP_ECLOSED. */
static int item_outcome(const struct mp_async *j, uint32_t st, size_t i, int *task)
{
    *task = 0;
    switch (st) {
    case MP__CH_OK:
        return 0;
    case MP__CH_FAILED:
        *task = j->status[i];
        return *task == 0 ? 0 : MP_ETASK;
    case MP__CH_DIED:
        return MP_EWORKERDIED;
    default:
        return MP_ECLOSED;
    }
}

/* The outcome of a complete job: the first failure in input order. */
void mp__pool_job_outcome(const struct mp_async *j, int *code, int *task)
{
    struct mp_async *mj = (struct mp_async *)j; /* a cache, same value for everyone */
    if (atomic_load(&j->outcome_known)) {
        *code = atomic_load(&j->outcome);
        *task = atomic_load(&j->outcome_task);
        return;
    }
    *code = 0;
    *task = 0;
    for (uint32_t c = 0; c < j->nchunks && *code == 0; c++) {
        uint32_t st = atomic_load(&j->chunk_st[c]);
        if (st == MP__CH_OK)
            continue;
        size_t lo = (size_t)c * j->chunksize;
        size_t hi = lo + j->chunksize < j->n ? lo + j->chunksize : j->n;
        for (size_t i = lo; i < hi && *code == 0; i++)
            *code = item_outcome(j, st, i, task);
    }
    atomic_store(&mj->outcome, *code);
    atomic_store(&mj->outcome_task, *task);
    atomic_store(&mj->outcome_known, 1);
}

/* Copy every successful result of a complete job to out. */
static void collect(const struct mp_async *j, void *out)
{
    size_t rs = j->result_size;
    if (rs == 0 || out == NULL)
        return;
    for (uint32_t c = 0; c < j->nchunks; c++) {
        uint32_t st = atomic_load(&j->chunk_st[c]);
        size_t lo = (size_t)c * j->chunksize;
        size_t hi = lo + j->chunksize < j->n ? lo + j->chunksize : j->n;
        if (st == MP__CH_OK) {
            /* Runs of successful chunks are copied in one go. */
            uint32_t e = c + 1;
            while (e < j->nchunks && atomic_load(&j->chunk_st[e]) == MP__CH_OK)
                e++;
            size_t end = (size_t)e * j->chunksize < j->n ? (size_t)e * j->chunksize : j->n;
            memcpy((char *)out + lo * rs, j->results + lo * rs, (end - lo) * rs);
            c = e - 1;
        } else if (st == MP__CH_FAILED) {
            for (size_t i = lo; i < hi; i++)
                if (j->status[i] == 0)
                    memcpy((char *)out + i * rs, j->results + i * rs, rs);
        }
    }
}

/* Argument checks shared by every submission: a pool and a function, an
 * argument array exactly when the items have bytes, and (for a map of n
 * items, n > 0) an array at all. */
static bool bad_submit(mp_pool *p, mp_task_fn fn, const void *args, size_t n, size_t arg_size,
                       bool is_map)
{
    if (p == NULL || fn == NULL || (args != NULL && arg_size == 0))
        return true;
    return n > 0 && args == NULL && (arg_size > 0 || is_map);
}

/* A pool that is no longer running rejects work before anything is built. */
static bool pool_running(mp_pool *p)
{
    mp__pool_lock(p);
    bool run = p->state == MP__POOL_RUN;
    mp__pool_unlock(p);
    return run;
}

/* Copy a queued job's arguments in, chunk by chunk, publishing each so
 * the workers that claimed it can start (pool_proc.c chunk_wait_ready).
 * Copying into fresh shared pages costs a page allocation per 4 KiB, about
 * as much as a cold map's whole work: overlapping it with the workers
 * nearly halves a big map. Nothing to do for a job copied by job_new. */
static void job_copy_in(struct mp_async *j, const void *args)
{
    size_t per = j->chunksize * j->arg_size;
    for (uint32_t c = atomic_load(&j->ready); c < j->nchunks; c++) {
        size_t off = (size_t)c * per;
        size_t len = c + 1 == j->nchunks ? j->n * j->arg_size - off : per;
        memcpy(j->args + off, (const char *)args + off, len);
        atomic_store_explicit(&j->ready, c + 1, memory_order_release);
        if (atomic_load(&j->ready_waiters) > 0)
            mp__futex_wake(&j->ready, INT32_MAX);
    }
}

/* Build a job and queue it: the end of every submission, once its
 * arguments are checked. Returns the job, or NULL with errno set: EPIPE
 * when the pool no longer runs, EPERM for callbacks asked for outside the
 * pool's creator (MP_ESTATE), ENOMEM. */
static struct mp_async *job_start(mp_pool *p, size_t hdr_size, int kind, mp_task_fn fn,
                                  const void *args, size_t n, size_t arg_size, size_t result_size,
                                  size_t chunksize, const mp_callbacks *cb)
{
    struct mp_async *j =
        job_new(p, hdr_size, kind, fn, args, n, arg_size, result_size, chunksize, cb);
    if (j == NULL)
        return NULL;
    int rc = job_submit(p, j);
    if (rc != 0) {
        errno = rc == MP_ECLOSED ? EPIPE : rc == MP_ESTATE ? EPERM : -rc;
        return NULL;
    }
    job_copy_in(j, args);
    return j;
}

MP_EXTERN mp_async *mp_pool_apply_async(mp_pool *p, mp_task_fn fn, const void *arg, size_t arg_size,
                                        size_t result_size, const mp_callbacks *cb)
{
    if (bad_submit(p, fn, arg, 1, arg_size, false)) {
        errno = EINVAL;
        return NULL;
    }
    return job_start(p, sizeof(struct mp_async), MP__JOB_APPLY, fn, arg, 1, arg_size, result_size,
                     1, cb);
}

MP_EXTERN int mp_pool_apply(mp_pool *p, mp_task_fn fn, const void *arg, size_t arg_size,
                            void *result, size_t result_size)
{
    if (bad_submit(p, fn, arg, 1, arg_size, false) || (result == NULL && result_size > 0))
        return MP_EINVAL;
    mp_async *a = mp_pool_apply_async(p, fn, arg, arg_size, result_size, NULL);
    if (a == NULL)
        return errno == EPIPE ? MP_ECLOSED : -errno;
    int rc = mp_async_get(a, result, MP_FOREVER);
    mp_async_free(a);
    return rc;
}

/* Checks and queues a map-shaped job (map_async, imap, imap_unordered):
 * n items, refused before anything is built when the pool no longer runs.
 * Returns it, or NULL with errno set (EINVAL, and those of job_start). */
static struct mp_async *map_start(mp_pool *p, size_t hdr_size, int kind, mp_task_fn fn,
                                  const void *args, size_t n, size_t arg_size, size_t result_size,
                                  size_t chunksize, const mp_callbacks *cb)
{
    if (bad_submit(p, fn, args, n, arg_size, true)) {
        errno = EINVAL;
        return NULL;
    }
    if (!pool_running(p)) {
        errno = EPIPE;
        return NULL;
    }
    return job_start(p, hdr_size, kind, fn, args, n, arg_size, result_size, chunksize, cb);
}

MP_EXTERN mp_async *mp_pool_map_async(mp_pool *p, mp_task_fn fn, const void *args, size_t n,
                                      size_t arg_size, size_t result_size, size_t chunksize,
                                      const mp_callbacks *cb)
{
    return map_start(p, sizeof(struct mp_async), MP__JOB_MAP, fn, args, n, arg_size, result_size,
                     chunksize, cb);
}

MP_EXTERN int mp_pool_map(mp_pool *p, mp_task_fn fn, const void *args, size_t n, size_t arg_size,
                          void *results, size_t result_size, size_t chunksize)
{
    if (bad_submit(p, fn, args, n, arg_size, true) || (n > 0 && results == NULL && result_size > 0))
        return MP_EINVAL;
    if (!pool_running(p))
        return MP_ECLOSED;
    if (n == 0)
        return MP_OK;
    mp_async *a = mp_pool_map_async(p, fn, args, n, arg_size, result_size, chunksize, NULL);
    if (a == NULL)
        return errno == EPIPE ? MP_ECLOSED : -errno;
    int rc = mp_async_get(a, results, MP_FOREVER);
    mp_async_free(a);
    return rc;
}

MP_EXTERN mp_imap *mp_pool_imap(mp_pool *p, mp_task_fn fn, const void *args, size_t n,
                                size_t arg_size, size_t result_size, size_t chunksize)
{
    return (mp_imap *)map_start(p, sizeof(struct mp_imap), MP__JOB_IMAP, fn, args, n, arg_size,
                                result_size, chunksize, NULL);
}

MP_EXTERN mp_imap *mp_pool_imap_unordered(mp_pool *p, mp_task_fn fn, const void *args, size_t n,
                                          size_t arg_size, size_t result_size, size_t chunksize)
{
    return (mp_imap *)map_start(p, sizeof(struct mp_imap), MP__JOB_IMAP_UNORDERED, fn, args, n,
                                arg_size, result_size, chunksize, NULL);
}

MP_EXTERN int mp_imap_next(mp_imap *it, void *result, size_t *index, double timeout)
{
    if (it == NULL)
        return MP_EINVAL;
    struct mp_async *j = &it->job;
    if (result == NULL && j->result_size > 0)
        return MP_EINVAL;
    mp__deadline d;
    if (mp__deadline_init(&d, timeout) != 0)
        return MP_EINVAL;
    if (it->next_item >= j->n)
        return MP_ECLOSED;
    size_t i;
    uint32_t c;
    int rc;
    if (j->kind == MP__JOB_IMAP) {
        i = it->next_item;
        c = (uint32_t)(i / j->chunksize);
        if ((rc = job_wait(j, pred_chunk_final, c, &d)) != 0)
            return rc;
    } else {
        if ((rc = job_wait(j, pred_done_past, it->upos, &d)) != 0)
            return rc;
        c = j->order[it->upos] - 1;
        size_t lo = (size_t)c * j->chunksize;
        size_t len = lo + j->chunksize < j->n ? j->chunksize : j->n - lo;
        i = lo + it->uitem;
        if (++it->uitem == len) {
            it->uitem = 0;
            it->upos++;
        }
    }
    it->next_item++;
    int task;
    rc = item_outcome(j, atomic_load(&j->chunk_st[c]), i, &task);
    if (rc == 0 && j->result_size > 0)
        memcpy(result, j->results + i * j->result_size, j->result_size);
    if (rc == MP_ETASK)
        it->task_error = task;
    if (index != NULL)
        *index = i;
    return rc;
}

MP_EXTERN int mp_imap_task_error(const mp_imap *it)
{
    return it == NULL ? 0 : it->task_error;
}

MP_EXTERN void mp_imap_free(mp_imap *it)
{
    if (it != NULL)
        mp__pool_job_unref(&it->job);
}

MP_EXTERN int mp_async_wait(mp_async *a, double timeout)
{
    if (a == NULL)
        return MP_EINVAL;
    mp__deadline d;
    if (mp__deadline_init(&d, timeout) != 0)
        return MP_EINVAL;
    return job_wait(a, pred_ready, 0, &d);
}

MP_EXTERN int mp_async_get(mp_async *a, void *result, double timeout)
{
    if (a == NULL || (result == NULL && a->result_size > 0 && a->n > 0))
        return MP_EINVAL;
    mp__deadline d;
    if (mp__deadline_init(&d, timeout) != 0)
        return MP_EINVAL;
    int rc = job_wait(a, pred_ready, 0, &d);
    if (rc != 0)
        return rc;
    int code, task;
    mp__pool_job_outcome(a, &code, &task);
    /* A map fills every result it can, even when an item failed. */
    if (code == 0 || a->kind == MP__JOB_MAP)
        collect(a, result);
    return code;
}

MP_EXTERN bool mp_async_ready(const mp_async *a)
{
    return a != NULL && job_ready(a);
}

MP_EXTERN bool mp_async_successful(const mp_async *a)
{
    if (a == NULL || !job_ready(a))
        return false;
    int code, task;
    mp__pool_job_outcome(a, &code, &task);
    return code == 0;
}

MP_EXTERN int mp_async_task_error(const mp_async *a)
{
    if (a == NULL || !job_complete(a))
        return 0;
    int code, task;
    mp__pool_job_outcome(a, &code, &task);
    return task;
}

MP_EXTERN void mp_async_free(mp_async *a)
{
    if (a != NULL)
        mp__pool_job_unref(a);
}
