/* future.c - taking results out: get, wait, wait_any and wait_all,
 * cancel, results of any size, imap_next, and the watch cells wait_any
 * sleeps on.
 *
 * None of these takes the pool lock (but to fail the work of a supervisor
 * found dead, within the caller's deadline). A waiter sleeps only after
 * checking, so a job that finishes while nobody waits costs no system
 * call; it sleeps through the wait layer, whose periodic look also asks
 * whether the supervisor still runs. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mp/error.h"
#include "mp/shared.h"
#include "os/thread.h"
#include "pool/pool.h"
#include "sync/wait.h"

static bool pred_ready(struct mp_async *j, size_t arg)
{
    (void)arg;
    return mp__job_ready(j);
}

static bool pred_chunk_final(struct mp_async *j, size_t c)
{
    return mp__ch_final(atomic_load_explicit(&j->chunk_st[c], memory_order_acquire));
}

static bool pred_done_past(struct mp_async *j, size_t pos)
{
    return atomic_load(&j->ndone) > pos;
}

/* The wait layer's liveness question for a job: a complete job depends on
 * nobody (it may wait for its callbacks only); unfinished work depends on
 * the supervisor. */
static bool job_alive(void *job)
{
    struct mp_async *j = job;
    return mp__job_complete(j) || mp__pool_sup_alive(j->pool);
}

/* Wait until pred(j, arg) holds or d passes: 0 or MP_ETIMEDOUT. The
 * waiter count is raised before the last check, so a committer either
 * sees it and wakes us or committed before the check. A dead supervisor
 * is found by the wait layer after a silent slice, and its work failed. */
static int job_wait(struct mp_async *j, bool (*pred)(struct mp_async *, size_t), size_t arg,
                    const mp__deadline *d)
{
    bool spun = false;
    for (;;) {
        uint32_t seq = atomic_load(&j->seq);
        if (pred(j, arg))
            return 0;
        /* A short task finishes within microseconds: spin briefly before
         * paying for a sleep and a wake-up. */
        if (!spun) {
            spun = true;
            if (mp__spin(&j->seq, seq, d))
                continue;
        }
        atomic_fetch_add(&j->waiters, 1);
        int rc = 0;
        if (!pred(j, arg))
            rc = mp__wait(&j->seq, seq, d, job_alive, j);
        atomic_fetch_sub(&j->waiters, 1);
        if (rc == MP_EOWNERDEAD)
            mp__pool_check_alive(j->pool, d);
        else if (rc == MP_ETIMEDOUT)
            return pred(j, arg) ? 0 : MP_ETIMEDOUT;
    }
}

/* ---- one handle ------------------------------------------------------------ */

MP_EXTERN int mp_async_wait(mp_async *a, double timeout)
{
    if (a == NULL)
        return MP_EINVAL;
    mp__deadline d;
    if (mp__deadline_init(&d, timeout) != 0)
        return MP_EINVAL;
    return job_wait(a, pred_ready, 0, &d);
}

/* Wait up to timeout for a to be ready, then give its outcome in *code:
 * 0, or MP_ETIMEDOUT or MP_EINVAL (a NaN timeout) from the wait. */
static int wait_outcome(mp_async *a, double timeout, int *code)
{
    mp__deadline d;
    if (mp__deadline_init(&d, timeout) != 0)
        return MP_EINVAL;
    int rc = job_wait(a, pred_ready, 0, &d);
    if (rc != 0)
        return rc;
    int task;
    mp__job_outcome(a, code, &task);
    return 0;
}

MP_EXTERN int mp_async_get(mp_async *a, void *result, double timeout)
{
    if (a == NULL || (result == NULL && a->result_size > 0 && a->n > 0))
        return MP_EINVAL;
    int code, rc = wait_outcome(a, timeout, &code);
    if (rc != 0)
        return rc;
    /* A map fills every result it can, even when an item failed. */
    if (code == 0 || a->kind == MP__JOB_MAP)
        mp__job_collect(a, result);
    return code;
}

/* A malloc'd copy of item i's result: the one made with
 * mp_task_result_alloc, else its fixed result_size bytes. With take, the
 * shared block is freed once copied (an imap's single reader). */
static int copy_result(struct mp_async *j, size_t i, bool take, void **out, size_t *len)
{
    struct mp__result *r = mp__job_result_find(j, i);
    const void *src = r != NULL ? (const void *)(r + 1) : j->results + i * j->result_size;
    size_t n = r != NULL ? r->len : j->result_size;
    void *m = malloc(n > 0 ? n : 1);
    if (m == NULL)
        return MP_ENOMEM;
    if (n > 0)
        memcpy(m, src, n);
    if (r != NULL && take)
        mp__job_result_take(j, i);
    *out = m;
    *len = n;
    return 0;
}

MP_EXTERN int mp_async_get_alloc(mp_async *a, void **result, size_t *len, double timeout)
{
    if (a == NULL || result == NULL || len == NULL || a->n != 1)
        return MP_EINVAL;
    *result = NULL;
    *len = 0;
    int code, rc = wait_outcome(a, timeout, &code);
    if (rc != 0)
        return rc;
    return code != 0 ? code : copy_result(a, 0, false, result, len);
}

MP_EXTERN bool mp_async_ready(const mp_async *a)
{
    return a != NULL && mp__job_ready(a);
}

MP_EXTERN bool mp_async_successful(const mp_async *a)
{
    if (a == NULL || !mp__job_ready(a))
        return false;
    int code, task;
    mp__job_outcome((mp_async *)a, &code, &task); /* fills a cache only */
    return code == 0;
}

MP_EXTERN int mp_async_task_error(const mp_async *a)
{
    if (a == NULL || !mp__job_complete(a))
        return 0;
    int code, task;
    mp__job_outcome((mp_async *)a, &code, &task);
    return task;
}

MP_EXTERN void mp_async_free(mp_async *a)
{
    if (a != NULL)
        mp__job_unref(a);
}

/* ---- cancel ---------------------------------------------------------------- */

MP_EXTERN int mp_async_cancel(mp_async *a)
{
    if (a == NULL)
        return MP_EINVAL;
    /* Callbacks belong to the creating process (they run there). */
    if (a->has_cb && mp__pid() != a->pool->creator)
        return MP_ESTATE;
    /* Each chunk nobody claimed yet: a claim is a CAS from PENDING too,
     * so exactly one of the two wins and a cancelled chunk never runs. */
    uint32_t won = 0;
    for (uint32_t c = 0; c < a->nchunks; c++) {
        uint32_t pend = MP__CH_PENDING;
        if (atomic_load_explicit(&a->chunk_st[c], memory_order_relaxed) == pend &&
            atomic_compare_exchange_strong(&a->chunk_st[c], &pend, MP__CH_CANCELLED))
            won++;
    }
    if (won == 0)
        return atomic_load(&a->cancelled) ? MP_OK : MP_ESTATE;
    atomic_store(&a->cancelled, 1);
    atomic_fetch_add(&a->ncancelled, won); /* seq_cst: pairs with the committers' count */
    if (mp__job_try_complete(a))
        mp__job_completed_wake(a);
    return MP_OK;
}

MP_EXTERN bool mp_async_cancelled(const mp_async *a)
{
    return a != NULL && atomic_load(&a->cancelled) != 0;
}

/* ---- watch cells and wait_any --------------------------------------------- */

static __thread struct mp__watch *tls_watch;
static pthread_key_t watch_key;
static pthread_once_t watch_once = PTHREAD_ONCE_INIT;

/* At thread exit the thread's reference goes; a job still holding the
 * cell (its waiter returned, the job not yet ready) frees it later. A
 * forked child's thread carries its parent's cell until its first
 * wait_any: that one is not the child's to drop. */
static void watch_exit(void *cell)
{
    struct mp__watch *w = cell;
    if (w->tid == mp__tid())
        mp__watch_unref(w);
}

static void make_watch_key(void)
{
    if (pthread_key_create(&watch_key, watch_exit) != 0)
        watch_key = (pthread_key_t)-1;
}

/* The calling thread's cell, made at its first wait_any; NULL with errno
 * ENOMEM. */
static struct mp__watch *watch_self(void)
{
    pid_t me = mp__tid();
    struct mp__watch *w = tls_watch;
    if (w == NULL || w->tid != me) {
        w = mp_shared_calloc(1, sizeof *w);
        if (w == NULL)
            return NULL;
        w->tid = me;
        atomic_store(&w->refs, 1);
        tls_watch = w;
        pthread_once(&watch_once, make_watch_key);
        if (watch_key != (pthread_key_t)-1)
            pthread_setspecific(watch_key, w);
    }
    return w;
}

/* Register w in a free slot of j: false when all are taken (j is then
 * watched by the periodic look only). */
static bool watch_add(struct mp_async *j, struct mp__watch *w)
{
    for (int k = 0; k < MP__WATCH_SLOTS; k++) {
        if (atomic_load_explicit(&j->watch[k], memory_order_relaxed) != NULL)
            continue;
        atomic_fetch_add(&w->refs, 1);
        struct mp__watch *none = NULL;
        if (atomic_compare_exchange_strong(&j->watch[k], &none, w))
            return true;
        atomic_fetch_sub(&w->refs, 1); /* never the last: we hold ours */
    }
    return false;
}

/* Take w out of j's slots unless the job's readiness took it first. */
static void watch_remove(struct mp_async *j, struct mp__watch *w)
{
    for (int k = 0; k < MP__WATCH_SLOTS; k++) {
        struct mp__watch *mine = w;
        if (atomic_compare_exchange_strong(&j->watch[k], &mine, NULL)) {
            mp__watch_unref(w);
            return;
        }
    }
}

/* The lowest index of a ready handle, or n. */
static size_t first_ready(mp_async *const *hs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (hs[i] != NULL && mp__job_ready(hs[i]))
            return i;
    return n;
}

/* After a silent slice: fail the work of any dead supervisor among the
 * pools of handles not yet ready (each pool asked once in a run). */
static void check_pools(mp_async *const *hs, size_t n, const mp__deadline *d)
{
    mp_pool *last = NULL;
    for (size_t i = 0; i < n; i++) {
        if (hs[i] == NULL || mp__job_complete(hs[i]) || hs[i]->pool == last)
            continue;
        last = hs[i]->pool;
        if (!mp__pool_sup_alive(last))
            mp__pool_check_alive(last, d);
    }
}

/* Sleep on the thread's watch cell, registered with every handle, until
 * one is ready or d passes: its index, or n. */
static size_t watch_wait(mp_async *const *hs, size_t n, struct mp__watch *w, const mp__deadline *d)
{
    atomic_store(&w->word, 0);
    for (size_t i = 0; i < n; i++) {
        if (hs[i] == NULL)
            continue;
        /* Our reference: a handle freed by another thread meanwhile
         * stays valid until we are done with it. */
        atomic_fetch_add(&hs[i]->refs, 1);
        watch_add(hs[i], w);
    }
    size_t at;
    for (;;) {
        /* After the registration (seq_cst): a job made ready before it
         * is seen here, one made ready after it finds our cell. */
        if ((at = first_ready(hs, n)) < n)
            break;
        int rc = mp__wait(&w->word, 0, d, NULL, NULL);
        if (rc == MP_ETIMEDOUT) {
            at = first_ready(hs, n);
            break;
        }
        if (atomic_load(&w->word) != 0)
            atomic_store(&w->word, 0); /* then look again */
        else
            check_pools(hs, n, d);
    }
    for (size_t i = 0; i < n; i++) {
        if (hs[i] == NULL)
            continue;
        watch_remove(hs[i], w);
        mp__job_unref(hs[i]);
    }
    return at;
}

MP_EXTERN int mp_async_wait_any(mp_async *const *handles, size_t n, double timeout, size_t *index)
{
    if (handles == NULL && n > 0)
        return MP_EINVAL;
    mp__deadline d;
    if (mp__deadline_init(&d, timeout) != 0)
        return MP_EINVAL;
    size_t live = 0, one = 0;
    for (size_t i = 0; i < n; i++)
        if (handles[i] != NULL) {
            live++;
            one = i;
        }
    if (live == 0)
        return MP_EINVAL;
    size_t at = first_ready(handles, n);
    if (at == n && live == 1) {
        /* One handle: its own futex, no registration. */
        if (job_wait(handles[one], pred_ready, 0, &d) == 0)
            at = one;
    } else if (at == n && !(!d.forever && mp__deadline_expired(&d))) {
        struct mp__watch *w = watch_self();
        if (w == NULL)
            return MP_ENOMEM;
        at = watch_wait(handles, n, w, &d);
    }
    if (at == n)
        return MP_ETIMEDOUT;
    if (index != NULL)
        *index = at;
    return MP_OK;
}

MP_EXTERN int mp_async_wait_all(mp_async *const *handles, size_t n, double timeout)
{
    if (handles == NULL && n > 0)
        return MP_EINVAL;
    mp__deadline d;
    if (mp__deadline_init(&d, timeout) != 0)
        return MP_EINVAL;
    /* One sleep per handle not yet ready, each until the common deadline. */
    for (size_t i = 0; i < n; i++) {
        if (handles[i] == NULL)
            continue;
        int rc = job_wait(handles[i], pred_ready, 0, &d);
        if (rc != 0)
            return rc;
    }
    return MP_OK;
}

/* ---- imap ------------------------------------------------------------------- */

/* Wait up to timeout for the next item of an imap and find it (chunk and
 * index) without consuming it: 0, MP_ETIMEDOUT, MP_EINVAL (NaN timeout),
 * or MP_ECLOSED once every item was handed out. */
static int imap_peek(mp_imap *it, double timeout, size_t *item, uint32_t *chunk)
{
    struct mp_async *j = &it->job;
    mp__deadline d;
    if (mp__deadline_init(&d, timeout) != 0)
        return MP_EINVAL;
    if (it->next_item >= j->n)
        return MP_ECLOSED;
    int rc;
    if (j->kind == MP__JOB_IMAP) {
        *item = it->next_item;
        *chunk = (uint32_t)(*item / j->chunksize);
        return job_wait(j, pred_chunk_final, *chunk, &d);
    }
    if ((rc = job_wait(j, pred_done_past, it->upos, &d)) != 0)
        return rc;
    *chunk = j->order[it->upos] - 1;
    *item = (size_t)*chunk * j->chunksize + it->uitem;
    return 0;
}

/* Consume the item imap_peek found; returns its outcome. */
static int imap_advance(mp_imap *it, size_t i, uint32_t c)
{
    struct mp_async *j = &it->job;
    if (j->kind == MP__JOB_IMAP_UNORDERED) {
        size_t lo, hi;
        mp__job_item_range(j, c, &lo, &hi);
        if (++it->uitem == hi - lo) {
            it->uitem = 0;
            it->upos++;
        }
    }
    it->next_item++;
    int task;
    int code = mp__job_item_outcome(j, atomic_load(&j->chunk_st[c]), i, &task);
    if (code == MP_ETASK)
        it->task_error = task;
    return code;
}

MP_EXTERN int mp_imap_next(mp_imap *it, void *result, size_t *index, double timeout)
{
    if (it == NULL || (result == NULL && it->job.result_size > 0))
        return MP_EINVAL;
    size_t i;
    uint32_t c;
    int rc = imap_peek(it, timeout, &i, &c);
    if (rc != 0)
        return rc;
    struct mp_async *j = &it->job;
    int code = imap_advance(it, i, c);
    if (code == 0 && j->result_size > 0)
        memcpy(result, j->results + i * j->result_size, j->result_size);
    if (index != NULL)
        *index = i;
    return code;
}

MP_EXTERN int mp_imap_next_alloc(mp_imap *it, void **result, size_t *len, size_t *index,
                                 double timeout)
{
    if (it == NULL || result == NULL || len == NULL)
        return MP_EINVAL;
    *result = NULL;
    *len = 0;
    size_t i;
    uint32_t c;
    int rc = imap_peek(it, timeout, &i, &c);
    if (rc != 0)
        return rc;
    int task;
    int code = mp__job_item_outcome(&it->job, atomic_load(&it->job.chunk_st[c]), i, &task);
    /* The copy first: when it fails for memory the item stays. */
    if (code == 0 && (rc = copy_result(&it->job, i, true, result, len)) != 0)
        return rc;
    imap_advance(it, i, c);
    if (index != NULL)
        *index = i;
    return code;
}

MP_EXTERN int mp_imap_task_error(const mp_imap *it)
{
    return it == NULL ? 0 : it->task_error;
}

MP_EXTERN void mp_imap_free(mp_imap *it)
{
    if (it != NULL)
        mp__job_unref(&it->job);
}
