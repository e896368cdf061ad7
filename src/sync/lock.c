/* lock.c - the futex lock's contended half (bounded spin, sleep through
 * the wait layer, take over from a dead owner) and Python's Lock and RLock
 * on top of it. */
#include <errno.h>
#include <math.h>
#include <stdint.h>

#include "mp/error.h"
#include "mp/shared.h"
#include "mp/sync.h"
#include "os/alive.h"
#include "os/futex.h"
#include "os/log.h"
#include "sync/lock.h"
#include "sync/wait.h"

/* owner_alive is the wait layer's liveness question for a lock: may its
 * current owner still run? */
static bool owner_alive(void *lock)
{
    pid_t owner = mp__lock_owner(lock);
    return owner == 0 || mp__tid_alive(owner);
}

/* try_takeover takes the lock from a dead owner. It returns true when this
 * caller won the CAS; the word is compared whole, so a racing takeover or a
 * racing release makes it fail and the caller simply loops. */
static bool try_takeover(mp__lock *l, uint32_t seen)
{
    pid_t owner = (pid_t)(seen & MP__LOCK_TID);
    if (owner == 0 || mp__tid_alive(owner))
        return false;
    /* Keep the waiters bit: others may sleep behind the dead owner. */
    uint32_t want = (uint32_t)mp__tid() | MP__LOCK_WAITERS;
    if (!atomic_compare_exchange_strong_explicit(&l->word, &seen, want, memory_order_acquire,
                                                 memory_order_relaxed))
        return false;
    mp__log(MP_LOG_WARN, "lock %p: taken over from thread %d, which died holding it", (void *)l,
            (int)owner);
    return true;
}

int mp__lock_acquire_slow(mp__lock *l, const mp__deadline *d)
{
    uint32_t me = (uint32_t)mp__tid();
    uint32_t w;

    if (!d->forever && mp__deadline_expired(d)) {
        /* A try (timeout 0) never sleeps and leaves no waiters bit, but it
         * gives a holder that runs the few microseconds of a spin to let
         * go: libmp's own critical sections are that short, so a try
         * fails only for a holder that is descheduled, stopped or dead
         * (a dead one's lock is taken over). */
        for (int i = 0; i < MP__SPIN_ROUNDS; i++) {
            w = atomic_load_explicit(&l->word, memory_order_relaxed);
            if (w == 0 && atomic_compare_exchange_weak_explicit(
                              &l->word, &w, me, memory_order_acquire, memory_order_relaxed))
                return 0;
            mp__cpu_relax();
        }
        w = atomic_load_explicit(&l->word, memory_order_relaxed);
        return try_takeover(l, w) ? MP_EOWNERDEAD : MP_ETIMEDOUT;
    }

    /* Once we have slept, others may sleep too, so the lock is taken with
     * the waiters bit set (at worst one spare wake at the release). */
    uint32_t taken = me;
    bool spun = false;
    for (;;) {
        w = atomic_load_explicit(&l->word, memory_order_relaxed);
        if (w == 0) {
            if (atomic_compare_exchange_weak_explicit(&l->word, &w, taken, memory_order_acquire,
                                                      memory_order_relaxed))
                return 0;
            continue;
        }
        /* Spin once, and only while nobody sleeps: a holder's critical
         * section on another core is usually over within the spin. */
        if (!spun && !(w & MP__LOCK_WAITERS)) {
            spun = true;
            if (mp__spin_busy(&l->word, w, d))
                continue;
        }
        if (!(w & MP__LOCK_WAITERS)) {
            if (!atomic_compare_exchange_weak_explicit(&l->word, &w, w | MP__LOCK_WAITERS,
                                                       memory_order_relaxed, memory_order_relaxed))
                continue;
            w |= MP__LOCK_WAITERS;
        }
        taken = me | MP__LOCK_WAITERS;
        int rc = mp__wait(&l->word, w, d, owner_alive, l);
        if (rc == MP_EOWNERDEAD) {
            if (try_takeover(l, w))
                return MP_EOWNERDEAD;
        } else if (rc == MP_ETIMEDOUT) {
            /* Last chance: the owner may have released meanwhile. */
            w = 0;
            if (atomic_compare_exchange_strong_explicit(&l->word, &w, taken, memory_order_acquire,
                                                        memory_order_relaxed))
                return 0;
            return MP_ETIMEDOUT;
        }
    }
}

/* The wakes this thread deferred to its next release. Thread-local: the
 * thread that notified is the one that releases, in the common case; the
 * others are covered by the sleepers' slices (see lock.h). Beyond
 * DEFER_MAX a wake is sent at once: correct, merely less smooth. A forked
 * child inherits its parent thread's list: sent again, they are spurious
 * wake-ups, harmless. */
#define DEFER_MAX 64
static __thread uint32_t n_deferred;
static __thread _Atomic uint32_t *deferred[DEFER_MAX];

void mp__lock_defer_wake(mp__lock *l, _Atomic uint32_t *addr)
{
    if (n_deferred == DEFER_MAX) {
        mp__futex_wake(addr, 1);
        return;
    }
    deferred[n_deferred++] = addr;
    /* Only the holder sets this bit, so a load avoids a needless atomic
     * write when it is already there. */
    if (!(atomic_load_explicit(&l->word, memory_order_relaxed) & MP__LOCK_WAKES))
        atomic_fetch_or_explicit(&l->word, MP__LOCK_WAKES, memory_order_relaxed);
}

/* The lock is free already: whoever we wake finds it so. */
void mp__lock_release_slow(mp__lock *l, uint32_t old)
{
    if (old & MP__LOCK_WAITERS)
        mp__futex_wake(&l->word, 1);
    if (old & MP__LOCK_WAKES) {
        uint32_t n = n_deferred;
        n_deferred = 0;
        for (uint32_t i = 0; i < n; i++)
            mp__futex_wake(deferred[i], 1);
    }
}

int mp__lock_hold(mp__lock *l)
{
    mp__deadline forever = {.forever = true};
    return mp__lock_acquire(l, &forever);
}

/* acquire_timed is the slow half shared by both kinds: the fast CAS failed,
 * so the deadline (a clock read) is worth computing now. */
static int acquire_timed(mp__lock *l, double timeout)
{
    mp__deadline d;
    if (mp__deadline_init(&d, timeout) != 0)
        return MP_EINVAL;
    return mp__lock_acquire_slow(l, &d);
}

mp_lock *mp_lock_new(void)
{
    mp_lock *l = mp_shared_malloc(sizeof *l);
    if (l == NULL)
        return NULL;
    mp__lock_init(&l->l);
    return l;
}

int mp_lock_acquire(mp_lock *l, double timeout)
{
    if (l == NULL || isnan(timeout))
        return MP_EINVAL;
    /* Uncontended: one CAS, no clock read, no system call. */
    if (mp__lock_tryacquire(&l->l))
        return 0;
    return acquire_timed(&l->l, timeout);
}

int mp_lock_release(mp_lock *l)
{
    if (l == NULL)
        return MP_EINVAL;
    /* Any thread of any process may release (Python's Lock), so the owner
     * is not checked; a dead owner's lock is simply unlocked. */
    return mp__lock_release(&l->l);
}

void mp_lock_free(mp_lock *l)
{
    mp_shared_free(l);
}

mp_rlock *mp_rlock_new(void)
{
    mp_rlock *r = mp_shared_malloc(sizeof *r);
    if (r == NULL)
        return NULL;
    mp__lock_init(&r->l);
    r->count = 0;
    return r;
}

int mp_rlock_acquire(mp_rlock *r, double timeout)
{
    if (r == NULL || isnan(timeout))
        return MP_EINVAL;
    /* The owner is a kernel tid, unique across processes, so "same process
     * and same thread" is one comparison. Only the owner writes count. */
    if (mp__lock_mine(&r->l)) {
        if (r->count == UINT32_MAX)
            return -EOVERFLOW;
        r->count++;
        return 0;
    }
    int rc = mp__lock_tryacquire(&r->l) ? 0 : acquire_timed(&r->l, timeout);
    if (rc == 0 || rc == MP_EOWNERDEAD)
        r->count = 1; /* a dead owner's depth dies with it */
    return rc;
}

int mp_rlock_release(mp_rlock *r)
{
    if (r == NULL)
        return MP_EINVAL;
    if (!mp__lock_mine(&r->l))
        return MP_ENOTOWNER;
    if (--r->count > 0)
        return 0;
    return mp__lock_release(&r->l);
}

void mp_rlock_free(mp_rlock *r)
{
    mp_shared_free(r);
}
