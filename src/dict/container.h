/* container.h - what mp_dict and mp_list share: reads that never wait
 * (validated against a retire counter), and writers bounded by a deadline.
 *
 * Readers. A container's memory is reached through pointers that writers
 * replace (a new table, a new copy of a value) and whose old targets they
 * then free. A reader takes no lock: it notes the part's retire counter,
 * follows the pointers, copies what it needs, and checks that the counter
 * has not moved. A writer bumps the counter after it unpublishes a block
 * and before it frees it, so an unchanged counter proves that nothing the
 * reader went through was freed while it read: what it copied is what was
 * published. A changed one means: start again. Reading freed memory is
 * harmless here, since a freed block stays inside the shared heap's
 * mapping; what a reader must never do is trust a pointer or a length read
 * from freed memory to address more memory. So the counter is checked
 * (mp__ct_valid) after each pointer or length is read and before it is
 * used. Writes that free nothing (an append, an insert, an 8-byte value
 * overwritten in place with one atomic store) do not bump it, so readers
 * are not disturbed by them.
 *
 * A writer stopped half-way holds nothing a reader needs: it has not
 * published, or it has. Only when one reader fails MP__CT_READ_TRIES
 * times in a row (writers keep freeing under it) does it queue on the
 * writers' lock for at most one wait slice, so it cannot starve; if that
 * slice runs out, the holder is not writing (it is stopped) and the next
 * lock-free try succeeds.
 *
 * Writers take the part's lock (sync/lock.h) within a deadline; the first
 * try is one CAS, and the deadline (a clock read) is computed only when
 * it fails. A holder that died is taken over (MP_EOWNERDEAD) and the new
 * holder repairs what the dead one may have left half-counted. */
#ifndef MP_DICT_CONTAINER_H
#define MP_DICT_CONTAINER_H

#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "mp/error.h"
#include "mp/shared.h"

#include "os/clock.h"
#include "os/fence.h"
#include "sync/lock.h"
#include "sync/wait.h"

/* Lock-free tries a reader makes before it queues on the writers' lock.
 * A try fails only when a writer freed memory during it (a read takes
 * well under a microsecond), so a few failures in a row mean writers are
 * churning that very part; then waiting one turn is cheaper than more
 * tries. */
#define MP__CT_READ_TRIES 8

/* mp__ct_begin starts a validated read: the retire counter now. */
static inline uint64_t mp__ct_begin(_Atomic uint64_t *retired)
{
    return atomic_load_explicit(retired, memory_order_acquire);
}

/* mp__ct_valid tells whether nothing was freed since mp__ct_begin
 * returned seen: every read before this call is then trustworthy. */
static inline bool mp__ct_valid(_Atomic uint64_t *retired, uint64_t seen)
{
    mp__fence(memory_order_acquire);
    return atomic_load_explicit(retired, memory_order_relaxed) == seen;
}

/* mp__ct_retire announces that memory readers may be in is about to be
 * freed: call it after unpublishing, before freeing. An atomic add, so
 * writers holding different locks may retire at once. No fence is needed
 * before the free: the heap hands a freed block to its next owner through
 * a release of its own, which this bump precedes, so whoever writes into
 * the block writes after it. */
static inline void mp__ct_retire(_Atomic uint64_t *retired)
{
    atomic_fetch_add_explicit(retired, 1, memory_order_release);
}

/* A writer's bound: the timeout, and its deadline once one is needed. */
typedef struct {
    double timeout; /* seconds, as the caller gave them */
    bool started;   /* d is set */
    mp__deadline d; /* fixed at the first wait */
} mp__ct_bound;

/* mp__ct_bound_of makes a bound of timeout seconds. The caller has
 * checked that timeout is not NaN. */
static inline mp__ct_bound mp__ct_bound_of(double timeout)
{
    mp__ct_bound b;
    b.timeout = timeout;
    b.started = false;
    return b;
}

/* mp__ct_lock takes l for a writer within the bound: 0, MP_EOWNERDEAD
 * (taken; the previous holder died holding it), or MP_ETIMEDOUT. */
static inline int mp__ct_lock(mp__lock *l, mp__ct_bound *b)
{
    if (mp__lock_tryacquire(l))
        return 0;
    if (!b->started) {
        (void)mp__deadline_init(&b->d, b->timeout); /* not NaN: checked by the caller */
        b->started = true;
    }
    return mp__lock_acquire_slow(l, &b->d);
}

/* mp__ct_lock_reader takes l for a reader that failed too often: waits at
 * most one wait slice. 0 or MP_EOWNERDEAD when taken, MP_ETIMEDOUT when
 * the holder kept it (then it is not writing, so read without it). */
static inline int mp__ct_lock_reader(mp__lock *l)
{
    if (mp__lock_tryacquire(l))
        return 0;
    mp__deadline d;
    (void)mp__deadline_init(&d, MP__WAIT_SLICE);
    return mp__lock_acquire_slow(l, &d);
}

static inline void mp__ct_unlock(mp__lock *l)
{
    (void)mp__lock_release(l);
}

/* An attempt's result that means: freed memory was read, try again. Not
 * 0 and not an MP_E* code. */
#define MP__CT_RETRY 1

/* mp__ct_read runs attempt(arg, seen) until it gives a result that holds:
 * a lock-free attempt's result stands only when nothing was retired
 * during it (mp__ct_valid), and an attempt returns MP__CT_RETRY as soon as
 * it finds that something was. After MP__CT_READ_TRIES failed attempts in
 * a row, it takes the lock for the next one (mp__ct_lock_reader), calling
 * repair(arg) first when the lock came from a dead holder. Returns the
 * attempt's result. Always inlined, so that the attempt is too: a read
 * is a few loads, and an indirect call would cost as much. */
__attribute__((always_inline)) static inline int
mp__ct_read(mp__lock *lock, _Atomic uint64_t *retired, int (*attempt)(void *arg, uint64_t seen),
            void (*repair)(void *arg), void *arg)
{
    for (int tries = 0;; tries++) {
        bool held = false;
        if (tries >= MP__CT_READ_TRIES) {
            int rc = mp__ct_lock_reader(lock);
            if (rc == MP_ETIMEDOUT) {
                tries = 0; /* the holder is not writing: lock-free tries succeed */
            } else {
                held = true;
                if (rc == MP_EOWNERDEAD)
                    repair(arg);
            }
        }
        uint64_t seen = mp__ct_begin(retired);
        int rc = attempt(arg, seen);
        bool ok = rc != MP__CT_RETRY && mp__ct_valid(retired, seen);
        if (held)
            mp__ct_unlock(lock);
        if (ok)
            return rc;
    }
}

/* An immutable byte string in the shared heap: an item, a value or a long
 * key, published by one pointer store and never changed. */
typedef struct {
    uint64_t len; /* bytes */
    uint64_t pad; /* keeps the bytes 16-byte aligned */
    /* the bytes */
} mp__blob;
_Static_assert(sizeof(mp__blob) == 16, "blob header");

static inline unsigned char *mp__blob_bytes(const mp__blob *b)
{
    return (unsigned char *)(uintptr_t)(b + 1);
}

/* mp__blob_new copies len bytes into a new blob; NULL when the heap cannot
 * hold it. */
static inline mp__blob *mp__blob_new(const void *p, size_t len)
{
    if (len > SIZE_MAX - sizeof(mp__blob))
        return NULL;
    mp__blob *b = (mp__blob *)mp_shared_malloc(sizeof(mp__blob) + len);
    if (b == NULL)
        return NULL;
    b->len = len;
    b->pad = 0;
    if (len > 0)
        memcpy(mp__blob_bytes(b), p, len);
    return b;
}

/* mp__ct_alloc_line allocates size zeroed bytes of shared heap starting
 * on a cache line (the heap aligns blocks of 64 bytes or more to 64) and
 * stores the block to free in *block (the same pointer). NULL when the
 * heap is full. */
static inline void *mp__ct_alloc_line(size_t size, void **block)
{
    void *b = mp_shared_calloc(1, size < 64 ? 64 : size);
    *block = b;
    return b;
}

/* mp__ct_load8 and mp__ct_store8 read and write an 8-byte value in place
 * as one atomic word (the address is 8-byte aligned): a reader never sees
 * half of a store. */
static inline uint64_t mp__ct_load8(const void *p)
{
    return atomic_load_explicit((_Atomic uint64_t *)(uintptr_t)p, memory_order_acquire);
}

static inline void mp__ct_store8(void *p, uint64_t v)
{
    atomic_store_explicit((_Atomic uint64_t *)p, v, memory_order_release);
}

/* mp__ct_bump adds one to a counter only the lock holder writes, which
 * lock-free readers load. */
static inline void mp__ct_bump(_Atomic uint64_t *c)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                          memory_order_release);
}

#endif
