/* list.c - mp_list: an array of item references in the shared heap, read
 * without locks, written under one lock, whole after a kill anywhere.
 *
 * Layout. The list points to an array block: its length, its capacity and
 * that many references to items; an item is one shared-heap block holding
 * its length and bytes, never changed once published. Readers validate
 * against the list's retire counter (dict/container.h).
 *
 * Crash safety: every change is one store, made after what it points to is
 * written.
 *   - append: the item is built outside the lock; under it, its reference
 *     goes in the first free slot, then the length grows by one (the
 *     commit). When the array is full, a new one twice as large is filled
 *     (old references, the new one, the length) and published by one store
 *     of the list's array pointer.
 *   - set: the new item's reference replaces the old one (the commit).
 *   - pop of the last item: the length shrinks by one (the commit).
 *   - pop of another item: a new array without it is filled and published
 *     by one store (as Python's list, an O(len) move).
 * What a change unpublished is freed after the retire bump, by the process
 * that unpublished it; a kill can leak the one block in flight, never free
 * anything twice. No count lives outside the array, so a lock taken from a
 * dead holder needs no repair. */
#include "mp/list.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "dict/container.h"
#include "mp/error.h"
#include "mp/shared.h"

#define LIST_MAGIC 0x31307473696c7066ULL /* "fplist01" */
#define ARRAY_MIN  8                     /* slots of a list's first array */

typedef mp__blob item;

typedef struct {
    _Atomic uint64_t len; /* items in use: the commit of an append or a pop */
    uint64_t cap;         /* slots */
    _Atomic(item *) it[]; /* the first len are the items, in order */
} array;
_Static_assert(sizeof(array) == 16, "array header");

struct mp_list {
    uint64_t magic;                        /* LIST_MAGIC while alive */
    void *block;                           /* the shared-heap block holding the list */
    _Alignas(64) mp__lock lock;            /* owner tid; guards every change */
    _Alignas(64) _Atomic uint64_t retired; /* bumped before anything readable is freed */
    _Atomic(array *) arr;                  /* NULL while nothing was ever appended */
};
_Static_assert(offsetof(struct mp_list, retired) % 64 == 0, "readers' words on their own line");

static inline bool valid_list(const mp_list *l)
{
    return l != NULL && l->magic == LIST_MAGIC;
}

/* norm turns Python index i into a position below n; false when out of
 * range. */
static inline bool norm(ptrdiff_t i, uint64_t n, uint64_t *at)
{
    if (i < 0) {
        uint64_t back = (uint64_t)(-(i + 1)) + 1; /* no overflow at PTRDIFF_MIN */
        if (back > n)
            return false;
        *at = n - back;
        return true;
    }
    if ((uint64_t)i >= n)
        return false;
    *at = (uint64_t)i;
    return true;
}

static inline unsigned char *item_bytes(item *it)
{
    return mp__blob_bytes(it);
}

/* array_new makes an array of cap slots holding the first n references of
 * src (which may be NULL when n is 0), leaving out position skip (pass n
 * or more to keep them all). Its length is still 0: the caller sets it
 * before publishing. */
static array *array_new(uint64_t cap, array *src, uint64_t n, uint64_t skip)
{
    if (cap > (SIZE_MAX - sizeof(array)) / sizeof(item *))
        return NULL;
    array *a = mp_shared_malloc(sizeof(array) + cap * sizeof(item *));
    if (a == NULL)
        return NULL;
    atomic_init(&a->len, 0);
    a->cap = cap;
    uint64_t j = 0;
    for (uint64_t i = 0; i < n; i++)
        if (i != skip)
            atomic_init(&a->it[j++], atomic_load_explicit(&src->it[i], memory_order_relaxed));
    return a;
}

/* publish makes a, holding len items, the list's array (the commit) and
 * retires the old one, which it returns for the caller to free. */
static array *publish(mp_list *l, array *a, uint64_t len)
{
    array *old = atomic_load_explicit(&l->arr, memory_order_relaxed);
    atomic_store_explicit(&a->len, len, memory_order_relaxed);
    atomic_store_explicit(&l->arr, a, memory_order_release);
    mp__ct_retire(&l->retired);
    return old;
}

/* lock_current takes the list for a writer within b (a lock taken from a
 * dead holder needs nothing repaired: see the top of this file) and reads
 * its array and length. Returns 0 or MP_ETIMEDOUT. */
static int lock_current(mp_list *l, mp__ct_bound *b, array **a, uint64_t *n)
{
    if (mp__ct_lock(&l->lock, b) == MP_ETIMEDOUT)
        return MP_ETIMEDOUT;
    *a = atomic_load_explicit(&l->arr, memory_order_relaxed);
    *n = *a != NULL ? atomic_load_explicit(&(*a)->len, memory_order_relaxed) : 0;
    return 0;
}

/* lock_at is lock_current for item i: 0 (held, *at = its position),
 * MP_ETIMEDOUT, or MP_ERANGE (i is out of range; released again). */
static int lock_at(mp_list *l, ptrdiff_t i, mp__ct_bound *b, array **a, uint64_t *n, uint64_t *at)
{
    if (lock_current(l, b, a, n) != 0)
        return MP_ETIMEDOUT;
    if (norm(i, *n, at))
        return 0;
    mp__ct_unlock(&l->lock);
    return MP_ERANGE;
}

/* ---- reading without the lock ----------------------------------------------- */

/* One read: of item i, copied into buf (copy) or a malloc'd block. */
typedef struct {
    mp_list *l;
    ptrdiff_t i;
    bool alloc; /* copy into a malloc'd block (buf), else into buf */
    void *buf;  /* the caller's buffer, or the malloc'd copy */
    size_t cap; /* the caller's buffer size */
    size_t len; /* the item's length */
} reader;

static void no_repair(void *arg)
{
    (void)arg;
}

/* read_attempt is one try of a read (mp__ct_read): every pointer and
 * length is validated before it is followed. */
static int read_attempt(void *arg, uint64_t seen)
{
    reader *r = arg;
    _Atomic uint64_t *retired = &r->l->retired;
    array *a = atomic_load_explicit(&r->l->arr, memory_order_acquire);
    uint64_t n = a != NULL ? atomic_load_explicit(&a->len, memory_order_acquire) : 0;
    if (!mp__ct_valid(retired, seen))
        return MP__CT_RETRY;
    uint64_t at;
    if (!norm(r->i, n, &at))
        return MP_ERANGE;
    item *it = atomic_load_explicit(&a->it[at], memory_order_acquire);
    if (!mp__ct_valid(retired, seen))
        return MP__CT_RETRY;
    uint64_t len = it->len;
    if (!mp__ct_valid(retired, seen))
        return MP__CT_RETRY;
    r->len = len;
    if (r->alloc) {
        free(r->buf); /* an earlier try's copy */
        r->buf = malloc(len > 0 ? len : 1);
        if (r->buf == NULL)
            return MP_ENOMEM;
    } else if (len > r->cap) {
        return MP_EMSGSIZE;
    }
    if (len > 0)
        memcpy(r->buf, item_bytes(it), len);
    return 0;
}

static int read_item(reader *r)
{
    return mp__ct_read(&r->l->lock, &r->l->retired, read_attempt, no_repair, r);
}

/* ---- the API ------------------------------------------------------------------ */

MP_EXTERN mp_list *mp_list_new(void)
{
    void *block;
    mp_list *l = mp__ct_alloc_line(sizeof(mp_list), &block);
    if (l == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    l->block = block;
    mp__lock_init(&l->lock);
    l->magic = LIST_MAGIC;
    return l;
}

MP_EXTERN void mp_list_free(mp_list *l)
{
    if (!valid_list(l))
        return;
    array *a = atomic_load_explicit(&l->arr, memory_order_relaxed);
    if (a != NULL) {
        uint64_t n = atomic_load_explicit(&a->len, memory_order_relaxed);
        for (uint64_t i = 0; i < n; i++)
            mp_shared_free(atomic_load_explicit(&a->it[i], memory_order_relaxed));
        mp_shared_free(a);
    }
    l->magic = 0;
    mp_shared_free(l->block);
}

MP_EXTERN int mp_list_append_timed(mp_list *l, const void *val, size_t len, double timeout)
{
    if (!valid_list(l) || (val == NULL && len > 0) || isnan(timeout))
        return MP_EINVAL;
    item *it = mp__blob_new(val, len);
    if (it == NULL)
        return MP_ENOMEM;
    mp__ct_bound b = mp__ct_bound_of(timeout);
    array *a, *old = NULL;
    uint64_t n;
    if (lock_current(l, &b, &a, &n) != 0) {
        mp_shared_free(it);
        return MP_ETIMEDOUT;
    }
    if (a != NULL && n < a->cap) {
        atomic_store_explicit(&a->it[n], it, memory_order_relaxed);
        atomic_store_explicit(&a->len, n + 1, memory_order_release); /* the commit */
    } else {
        array *g = array_new(a != NULL ? 2 * a->cap : ARRAY_MIN, a, n, n);
        if (g == NULL) {
            mp__ct_unlock(&l->lock);
            mp_shared_free(it);
            return MP_ENOMEM;
        }
        atomic_init(&g->it[n], it);
        old = publish(l, g, n + 1); /* the commit */
    }
    mp__ct_unlock(&l->lock);
    mp_shared_free(old);
    return 0;
}

MP_EXTERN int mp_list_append(mp_list *l, const void *val, size_t len)
{
    return mp_list_append_timed(l, val, len, MP_LIST_TIMEOUT);
}

MP_EXTERN int mp_list_set_timed(mp_list *l, ptrdiff_t i, const void *val, size_t len,
                                double timeout)
{
    if (!valid_list(l) || (val == NULL && len > 0) || isnan(timeout))
        return MP_EINVAL;
    item *it = mp__blob_new(val, len);
    if (it == NULL)
        return MP_ENOMEM;
    mp__ct_bound b = mp__ct_bound_of(timeout);
    array *a;
    uint64_t n, at;
    int rc = lock_at(l, i, &b, &a, &n, &at);
    if (rc != 0) {
        mp_shared_free(it);
        return rc;
    }
    item *old = atomic_load_explicit(&a->it[at], memory_order_relaxed);
    atomic_store_explicit(&a->it[at], it, memory_order_release); /* the commit */
    mp__ct_retire(&l->retired);
    mp__ct_unlock(&l->lock);
    mp_shared_free(old);
    return 0;
}

MP_EXTERN int mp_list_set(mp_list *l, ptrdiff_t i, const void *val, size_t len)
{
    return mp_list_set_timed(l, i, val, len, MP_LIST_TIMEOUT);
}

MP_EXTERN int mp_list_pop_timed(mp_list *l, ptrdiff_t i, void *buf, size_t cap, size_t *len,
                                double timeout)
{
    if (!valid_list(l) || len == NULL || (buf == NULL && cap > 0) || isnan(timeout))
        return MP_EINVAL;
    mp__ct_bound b = mp__ct_bound_of(timeout);
    array *a;
    uint64_t n, at;
    int rc = lock_at(l, i, &b, &a, &n, &at);
    if (rc != 0)
        return rc;
    item *it = atomic_load_explicit(&a->it[at], memory_order_relaxed);
    *len = it->len;
    if (it->len > cap) {
        mp__ct_unlock(&l->lock);
        return MP_EMSGSIZE;
    }
    array *old = NULL;
    if (at == n - 1) {
        atomic_store_explicit(&a->len, n - 1, memory_order_release); /* the commit */
        mp__ct_retire(&l->retired);
    } else {
        uint64_t c = ARRAY_MIN;
        while (c < n)
            c <<= 1;
        array *g = array_new(c, a, n, at);
        if (g == NULL) {
            mp__ct_unlock(&l->lock);
            return MP_ENOMEM;
        }
        old = publish(l, g, n - 1); /* the commit */
    }
    mp__ct_unlock(&l->lock);
    /* Unpublished: no one else reaches it any more, so copy outside the
     * lock. */
    if (it->len > 0)
        memcpy(buf, item_bytes(it), it->len);
    mp_shared_free(it);
    mp_shared_free(old);
    return 0;
}

MP_EXTERN int mp_list_pop(mp_list *l, ptrdiff_t i, void *buf, size_t cap, size_t *len)
{
    return mp_list_pop_timed(l, i, buf, cap, len, MP_LIST_TIMEOUT);
}

MP_EXTERN int mp_list_get(mp_list *l, ptrdiff_t i, void *buf, size_t cap, size_t *len)
{
    if (!valid_list(l) || len == NULL || (buf == NULL && cap > 0))
        return MP_EINVAL;
    reader r = {l, i, false, buf, cap, 0};
    int rc = read_item(&r);
    if (rc == 0 || rc == MP_EMSGSIZE)
        *len = r.len;
    return rc;
}

MP_EXTERN int mp_list_get_alloc(mp_list *l, ptrdiff_t i, void **val, size_t *len)
{
    if (!valid_list(l) || val == NULL || len == NULL)
        return MP_EINVAL;
    reader r = {l, i, true, NULL, 0, 0};
    int rc = read_item(&r);
    if (rc != 0) {
        free(r.buf); /* a failed try's copy */
        return rc;
    }
    *val = r.buf;
    *len = r.len;
    return 0;
}

/* len_attempt is one try of mp_list_len: the length of the array that
 * was current, if it was not freed meanwhile. */
static int len_attempt(void *arg, uint64_t seen)
{
    reader *r = arg;
    array *a = atomic_load_explicit(&r->l->arr, memory_order_acquire);
    r->len = a != NULL ? (size_t)atomic_load_explicit(&a->len, memory_order_acquire) : 0;
    return mp__ct_valid(&r->l->retired, seen) ? 0 : MP__CT_RETRY;
}

MP_EXTERN size_t mp_list_len(mp_list *l)
{
    if (!valid_list(l))
        return 0;
    reader r = {l, 0, false, NULL, 0, 0};
    (void)mp__ct_read(&l->lock, &l->retired, len_attempt, no_repair, &r);
    return r.len;
}
