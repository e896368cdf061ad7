/* lock.h - libmp's one lock: a futex word holding the owner's kernel
 * thread id; any process may release it, and a dead owner is taken over.
 *
 * Why not a robust process-shared pthread mutex: Python's Lock may be
 * released by any thread or process (a child acquires, the parent
 * releases), and a robust mutex refuses an unlock by a non-owner (EPERM);
 * nor does a pthread mutex take a deadline for every internal use. Here
 * the word holds the owner's kernel tid (globally unique while the thread
 * lives) plus a waiters bit; the kernel knows nothing of the owner, so
 * liveness is checked by the waiters themselves, through the wait layer
 * (sync/wait.h): a contended waiter sleeps in slices and, after a slice
 * that brought no wake-up, asks whether the owner still runs
 * (os/alive.h: never "dead" without proof). If not, it takes the lock
 * over with a CAS and reports MP_EOWNERDEAD. A stopped owner is alive:
 * waiters wait for it until their own deadline, never longer.
 *
 * Every structure guarded by one of these locks must be whole, or
 * repairable by the next holder, whatever instruction its holder died at:
 * MP_EOWNERDEAD hands the repair to whoever takes the lock over. */
#ifndef MP_SYNC_LOCK_H
#define MP_SYNC_LOCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "mp/error.h"

#include "os/clock.h"
#include "os/thread.h"

/* The word: 0 = unlocked, else owner tid | MP__LOCK_WAITERS when a waiter
 * may sleep on it | MP__LOCK_WAKES when the holder deferred wake-ups to
 * its release (mp__lock_defer_wake). A tid is below pid_max <= 2^22, so
 * bits 30 and 31 are free. */
#define MP__LOCK_WAITERS 0x80000000u
#define MP__LOCK_WAKES   0x40000000u
#define MP__LOCK_TID     0x3fffffffu

typedef struct {
    _Atomic uint32_t word; /* owner tid | waiters bit; 0 when free */
} mp__lock;

/* mp__lock_init makes l unlocked. */
static inline void mp__lock_init(mp__lock *l)
{
    atomic_init(&l->word, 0);
}

int mp__lock_acquire_slow(mp__lock *l, const mp__deadline *d);

/* mp__lock_tryacquire takes a free lock with one CAS, no system call. */
static inline bool mp__lock_tryacquire(mp__lock *l)
{
    uint32_t expected = 0;
    return atomic_compare_exchange_strong_explicit(&l->word, &expected, (uint32_t)mp__tid(),
                                                   memory_order_acquire, memory_order_relaxed);
}

/* mp__lock_acquire takes the lock before the deadline. Returns 0,
 * MP_ETIMEDOUT, or MP_EOWNERDEAD (taken: the previous owner died holding
 * it; whatever it guarded may be half-updated). */
static inline int mp__lock_acquire(mp__lock *l, const mp__deadline *d)
{
    if (mp__lock_tryacquire(l))
        return 0;
    return mp__lock_acquire_slow(l, d);
}

void mp__lock_release_slow(mp__lock *l, uint32_t old);

/* mp__lock_release unlocks, whoever holds it: one exchange, and futex
 * wakes only when a waiter announced itself or the holder deferred some
 * (mp__lock_defer_wake). Returns 0, or MP_EVALUE when the lock was not
 * held (then nothing changed). */
static inline int mp__lock_release(mp__lock *l)
{
    /* A load first, so that releasing a free lock does not write (and
     * never wipes a waiters bit: a free lock has none). */
    if (atomic_load_explicit(&l->word, memory_order_relaxed) == 0)
        return MP_EVALUE;
    uint32_t old = atomic_exchange_explicit(&l->word, 0, memory_order_release);
    if (old == 0)
        return MP_EVALUE; /* another releaser won the race */
    if (old & (MP__LOCK_WAITERS | MP__LOCK_WAKES))
        mp__lock_release_slow(l, old);
    return 0;
}

/* mp__lock_defer_wake puts off a futex wake of addr (one waiter) until
 * the calling thread next releases a lock: l, which it must hold, or any
 * other one that carries deferred wakes. A condition uses it so that the
 * waiter it notifies wakes to a free lock, instead of waking, finding the
 * lock still held by the notifier and sleeping again on the lock.
 *
 * The wakes are kept per thread, so a release of l by another thread or
 * process does not send them, nor does a holder that dies before its
 * release: whoever sleeps on addr must wake now and then by itself and
 * re-check (a waiter sleeps in slices of MP__WAIT_SLICE). Sending a
 * deferred wake late, after the word at addr was reused, costs at most a
 * spurious wake-up, which every futex sleeper tolerates. */
void mp__lock_defer_wake(mp__lock *l, _Atomic uint32_t *addr);

/* mp__lock_owner returns the owner's tid, 0 when free. */
static inline pid_t mp__lock_owner(const mp__lock *l)
{
    return (pid_t)(atomic_load_explicit(&l->word, memory_order_relaxed) & MP__LOCK_TID);
}

/* mp__lock_mine tells whether the calling thread holds l. */
static inline bool mp__lock_mine(const mp__lock *l)
{
    return mp__lock_owner(l) == mp__tid();
}

/* mp__lock_hold takes l with no deadline, for internal bookkeeping that
 * has no caller waiting on a timeout (a pool worker, the supervisor):
 * returns 0 or MP_EOWNERDEAD like mp__lock_acquire. A call with a timeout
 * uses mp__lock_acquire with its deadline instead. */
int mp__lock_hold(mp__lock *l);

/* The public lock objects, shared with condition.c. Both live in the
 * shared heap. */
struct mp_lock {
    mp__lock l; /* owner tid | waiters bit */
};

struct mp_rlock {
    mp__lock l;     /* owner tid (process and thread in one id) | waiters bit */
    uint32_t count; /* recursion depth; written only by the owner */
};
_Static_assert(sizeof(struct mp_rlock) == 8, "rlock layout");

#endif
