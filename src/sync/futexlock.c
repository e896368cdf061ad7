/* lock.c - the contended half of libmp's futex lock: bounded spin, sleep
 * in slices, take over from a dead owner. */
#include "sync/lock.h"

#include "os/futex.h"

/* Spins before sleeping: long enough to ride out a holder's short critical
 * section on another core, short enough to cost well under a microsecond. */
#define SPIN_LIMIT 100

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
    return atomic_compare_exchange_strong_explicit(&l->word, &seen, want, memory_order_acquire,
                                                   memory_order_relaxed);
}

int mp__lock_acquire_slow(mp__lock *l, const mp__deadline *d)
{
    uint32_t me = (uint32_t)mp__tid();
    uint32_t w;

    if (!d->forever && mp__deadline_expired(d)) {
        /* Try once (timeout 0): no spin, no waiters bit left behind. */
        w = atomic_load_explicit(&l->word, memory_order_relaxed);
        if (w == 0 && atomic_compare_exchange_strong_explicit(
                          &l->word, &w, me, memory_order_acquire, memory_order_relaxed))
            return 0;
        return try_takeover(l, w) ? MP_EOWNERDEAD : MP_ETIMEDOUT;
    }

    for (int i = 0; i < SPIN_LIMIT; i++) {
        w = atomic_load_explicit(&l->word, memory_order_relaxed);
        if (w == 0 && atomic_compare_exchange_weak_explicit(&l->word, &w, me, memory_order_acquire,
                                                            memory_order_relaxed))
            return 0;
        if (w & MP__LOCK_WAITERS)
            break; /* others already sleep: queue behind them */
        mp__cpu_relax();
    }

    for (;;) {
        w = atomic_load_explicit(&l->word, memory_order_relaxed);
        if (w == 0) {
            /* We cannot know whether others still sleep, so the lock is
             * taken with the waiters bit set: at worst one spare wake. */
            if (atomic_compare_exchange_weak_explicit(&l->word, &w, me | MP__LOCK_WAITERS,
                                                      memory_order_acquire, memory_order_relaxed))
                return 0;
            continue;
        }
        if (!(w & MP__LOCK_WAITERS)) {
            if (!atomic_compare_exchange_weak_explicit(&l->word, &w, w | MP__LOCK_WAITERS,
                                                       memory_order_relaxed, memory_order_relaxed))
                continue;
            w |= MP__LOCK_WAITERS;
        }
        mp__deadline slice = mp__deadline_min(d, MP__LOCK_SLICE);
        if (mp__futex_wait(&l->word, w, &slice) != MP_ETIMEDOUT)
            continue; /* woken, word changed, or a signal: look again */
        /* A slice (or the whole wait) ran out with the word unchanged:
         * the owner may be dead. Checked also when the caller's deadline
         * is up, so that even a try-acquire recovers a dead owner's lock. */
        w = atomic_load_explicit(&l->word, memory_order_relaxed);
        if (try_takeover(l, w))
            return MP_EOWNERDEAD;
        if (mp__deadline_expired(d)) {
            /* Last chance: the owner may have released meanwhile. */
            w = 0;
            if (atomic_compare_exchange_strong_explicit(&l->word, &w, me | MP__LOCK_WAITERS,
                                                        memory_order_acquire, memory_order_relaxed))
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
