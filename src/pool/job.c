/* job.c - a job block: its memory and references, chunk outcomes,
 * completion and the wake-ups it sends, results of any size, and watch
 * cells. The bottom of the pool: nothing here takes the pool lock.
 *
 * References. A job is freed when its last reference goes: the user's
 * handle, the run queue's (from the push until the job is unlinked), one
 * per claimed chunk (until its commit is released), and the callback
 * thread's (until its callbacks ran). Nothing touches a job after
 * dropping its own reference. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mp/error.h"
#include "mp/shared.h"
#include "os/futex.h"
#include "os/thread.h"
#include "pool/pool.h"

static size_t round16(size_t x)
{
    return (x + 15) & ~(size_t)15;
}

void *mp__pool_alloc(size_t size)
{
    /* The heap aligns a block of 64 bytes or more to 64. */
    return mp_shared_malloc(size < 64 ? 64 : size);
}

void mp__pool_unref(mp_pool *p)
{
    if (atomic_fetch_sub(&p->refs, 1) != 1)
        return;
    mp_shared_free(atomic_exchange(&p->spare, NULL));
    mp_shared_free(p);
}

/* A block for a job of size bytes (64-aligned): the pool's spare when it
 * is big enough, else a new one. Small jobs come from the heap's size
 * classes, which are cheap and leave the spare to the next big map. */
static void *job_alloc(mp_pool *p, size_t size)
{
    void *b = size >= MP__SPARE_MIN ? atomic_exchange(&p->spare, NULL) : NULL;
    if (b != NULL && mp_shared_usable_size(b) >= size)
        return b;
    mp_shared_free(b);
    return mp__pool_alloc(size);
}

/* Python's default: ceil(n / (4 * workers)). The workers of a cluster
 * are on other machines too (p->spread). */
static size_t default_chunksize(const mp_pool *p, size_t n)
{
    int workers = p->spread > 0 ? p->spread : p->nworkers;
    size_t per = (size_t)(workers > 0 ? workers : 1) * 4;
    size_t cs = n / per + (n % per != 0);
    return cs == 0 ? 1 : cs;
}

struct mp_async *mp__job_new(mp_pool *p, size_t hdr_size, int kind, mp_task_fn fn, const void *args,
                             size_t n, size_t arg_size, size_t result_size, size_t chunksize)
{
    if (chunksize == 0)
        chunksize = default_chunksize(p, n);
    /* Chunk numbers are 32-bit; more chunks than that only happen with
     * absurd inputs, so grow the chunks instead. */
    if (n / chunksize >= UINT32_MAX - 1)
        chunksize = n / (UINT32_MAX - 2) + 1;
    size_t nchunks = n / chunksize + (n % chunksize != 0);
    /* Small results the size of the arguments overwrite them in place:
     * the argument pages are already faulted in by the copy, while a
     * separate result array costs a fresh shared page per 4 KiB. */
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
    size_t big_off = round16(order_off + nchunks * sizeof(uint32_t));
    size_t args_off = round16(big_off + nchunks * sizeof(void *));
    size_t res_off = in_place ? args_off : round16(args_off + args_bytes);
    size_t status_off = round16(in_place ? args_off + args_bytes : res_off + res_bytes);
    size_t total = status_off + status_bytes;

    char *m = job_alloc(p, total);
    if (m == NULL)
        return NULL;
    /* Only the header and the per-chunk words need zeroes; results and
     * codes are written before they are read, so their pages stay
     * untouched until a worker writes them. */
    memset(m, 0, args_off);
    struct mp_async *j = (struct mp_async *)m;
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
    j->big = (struct mp__result * _Atomic *)(m + big_off);
    j->args = arg_size ? m + args_off : NULL;
    j->results = result_size ? m + res_off : NULL;
    j->status = (int32_t *)(m + status_off);
    j->owner_tid = mp__tid();
    if (args_bytes >= MP__PIPELINE_MIN && nchunks >= 2) {
        atomic_store(&j->ready, 0); /* copied in by the submitter once queued */
    } else {
        if (args_bytes)
            memcpy(j->args, args, args_bytes);
        atomic_store(&j->ready, (uint32_t)nchunks);
    }
    atomic_store(&j->refs, 1u + (nchunks > 0));
    atomic_fetch_add(&p->refs, 1);
    return j;
}

void mp__job_unref(struct mp_async *j)
{
    if (atomic_fetch_sub(&j->refs, 1) != 1)
        return;
    mp_pool *p = j->pool;
    /* Cells left by waiters killed while registered. */
    for (int k = 0; k < MP__WATCH_SLOTS; k++) {
        struct mp__watch *w = atomic_load_explicit(&j->watch[k], memory_order_relaxed);
        if (w != NULL)
            mp__watch_unref(w);
    }
    for (uint32_t c = 0; atomic_load(&j->any_big) && c < j->nchunks; c++)
        if (atomic_load_explicit(&j->big[c], memory_order_relaxed) != NULL)
            mp__job_results_drop(j, c);
    void *b = j;
    if (mp_shared_usable_size(b) >= MP__SPARE_MIN)
        b = atomic_exchange(&p->spare, b);
    mp_shared_free(b);
    mp__pool_unref(p);
}

void mp__job_item_range(const struct mp_async *j, uint32_t c, size_t *lo, size_t *hi)
{
    *lo = (size_t)c * j->chunksize;
    *hi = *lo + j->chunksize < j->n ? *lo + j->chunksize : j->n;
}

bool mp__job_complete(const struct mp_async *j)
{
    return atomic_load(&j->completed) != 0;
}

bool mp__job_ready(const struct mp_async *j)
{
    return mp__job_complete(j) && (!j->has_cb || atomic_load(&j->cb_state) == MP__CB_DONE);
}

void mp__job_cb_push(struct mp_async *j)
{
    mp_pool *p = j->pool;
    struct mp_async *h = atomic_load(&p->cb_head);
    do
        atomic_store_explicit(&j->cb_next, h, memory_order_relaxed);
    while (!atomic_compare_exchange_weak(&p->cb_head, &h, j));
}

bool mp__job_try_complete(struct mp_async *j)
{
    /* Committers count under the lock, cancellers without it; each adds
     * its own count first and reads the other's after (seq_cst), so at
     * least one of them sees the full sum, and the CAS picks one. */
    if (atomic_load(&j->ndone) + atomic_load(&j->ncancelled) != j->nchunks)
        return false;
    uint32_t none = 0;
    if (!atomic_compare_exchange_strong(&j->completed, &none, (uint32_t)mp__tid()))
        return false;
    if (j->has_cb)
        mp__job_cb_push(j);
    return true;
}

void mp__job_ready_notify(struct mp_async *j)
{
    atomic_fetch_add(&j->seq, 1);
    if (atomic_load(&j->waiters) > 0)
        mp__futex_wake(&j->seq, INT32_MAX);
    /* The job is ready (a seq_cst store before this), so a watcher either
     * registered before our exchange, and is woken, or checks readiness
     * after its registration and sees it. */
    for (int k = 0; k < MP__WATCH_SLOTS; k++) {
        /* seq_cst, as the watcher's registration: see above. */
        if (atomic_load(&j->watch[k]) == NULL)
            continue;
        struct mp__watch *w = atomic_exchange(&j->watch[k], NULL);
        if (w == NULL)
            continue;
        atomic_store(&w->word, 1);
        mp__futex_wake(&w->word, 1);
        mp__watch_unref(w);
    }
}

void mp__job_completed_wake(struct mp_async *j)
{
    if (!j->has_cb) {
        mp__job_ready_notify(j);
        return;
    }
    /* Chunk waiters (none for apply and map, but harmless) and the
     * callback thread, which makes the job ready once the callbacks ran. */
    mp__job_chunk_wake(j);
    mp_pool *p = j->pool;
    atomic_fetch_add(&p->cb_seq, 1);
    if (atomic_load(&p->cb_waiting) > 0)
        mp__futex_wake(&p->cb_seq, 1);
}

void mp__job_chunk_wake(struct mp_async *j)
{
    atomic_fetch_add(&j->seq, 1);
    if (atomic_load(&j->waiters) > 0)
        mp__futex_wake(&j->seq, INT32_MAX);
}

int mp__job_item_outcome(const struct mp_async *j, uint32_t st, size_t i, int *task)
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
    case MP__CH_CANCELLED:
        return MP_ECANCELED;
    case MP__CH_TIMEDOUT:
        return MP_ETIMEDOUT;
    case MP__CH_BROKEN:
        return MP_EBROKEN;
    default:
        return MP_ECLOSED;
    }
}

void mp__job_outcome(struct mp_async *j, int *code, int *task)
{
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
        size_t lo, hi;
        mp__job_item_range(j, c, &lo, &hi);
        for (size_t i = lo; i < hi && *code == 0; i++)
            *code = mp__job_item_outcome(j, st, i, task);
    }
    /* A cache: every reader computes the same value. */
    atomic_store(&j->outcome, *code);
    atomic_store(&j->outcome_task, *task);
    atomic_store(&j->outcome_known, 1);
}

void mp__job_collect(const struct mp_async *j, void *out)
{
    size_t rs = j->result_size;
    if (rs == 0 || out == NULL)
        return;
    for (uint32_t c = 0; c < j->nchunks; c++) {
        uint32_t st = atomic_load(&j->chunk_st[c]);
        size_t lo, hi;
        mp__job_item_range(j, c, &lo, &hi);
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

void *mp__job_result_put(struct mp_async *j, uint32_t c, size_t i, size_t size)
{
    if (size > SIZE_MAX - sizeof(struct mp__result)) {
        errno = ENOMEM;
        return NULL;
    }
    struct mp__result *r = mp_shared_malloc(sizeof *r + size);
    if (r == NULL)
        return NULL;
    atomic_store_explicit(&j->any_big, 1, memory_order_relaxed);
    struct mp__result *head = atomic_load_explicit(&j->big[c], memory_order_relaxed);
    r->next = head;
    r->item = i;
    r->len = size;
    atomic_store_explicit(&j->big[c], r, memory_order_release);
    /* A second result for the same item replaces the first: unlink it
     * (one store; nobody reads the list while its chunk runs). */
    for (struct mp__result *prev = r, *x = r->next; x != NULL; prev = x, x = x->next)
        if (x->item == i) {
            prev->next = x->next;
            mp_shared_free(x);
            break;
        }
    return r + 1;
}

struct mp__result *mp__job_result_find(struct mp_async *j, size_t i)
{
    struct mp__result *r = atomic_load_explicit(&j->big[i / j->chunksize], memory_order_acquire);
    while (r != NULL && r->item != i)
        r = r->next;
    return r;
}

void mp__job_result_take(struct mp_async *j, size_t i)
{
    struct mp__result *_Atomic *head = &j->big[i / j->chunksize];
    struct mp__result *r = atomic_load(head);
    if (r != NULL && r->item == i) {
        atomic_store(head, r->next);
        mp_shared_free(r);
        return;
    }
    for (struct mp__result *prev = r; r != NULL; prev = r, r = r->next)
        if (r->item == i) {
            prev->next = r->next;
            mp_shared_free(r);
            return;
        }
}

void mp__job_results_drop(struct mp_async *j, uint32_t c)
{
    struct mp__result *r = atomic_exchange(&j->big[c], NULL);
    while (r != NULL) {
        struct mp__result *next = r->next;
        mp_shared_free(r);
        r = next;
    }
}

void mp__watch_unref(struct mp__watch *w)
{
    if (atomic_fetch_sub(&w->refs, 1) == 1)
        mp_shared_free(w);
}
