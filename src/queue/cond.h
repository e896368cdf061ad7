/* qcond.h - the queue's condition variables: counts guarded by the
 * queue's lock, a futex word apart from them, and one blocking call's
 * wait state (timeout, spin, sleep in slices).
 *
 * The futex word (seq) sits apart from the counts, so that spinners
 * reading it do not pull the lock's cache line away from the process
 * working under it. A signal bumps seq only when someone watches it, and
 * wakes a sleeper only when one sleeps without a wake-up already on its
 * way (pending): a put that follows another before the woken getter has
 * run makes no system call. */
#ifndef MP_INTERNAL_QCOND_H
#define MP_INTERNAL_QCOND_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "os/clock.h"
#include "os/futex.h"

/* A condition's counts; the caller's lock guards them. */
typedef struct {
    uint32_t waiters;  /* sleepers registered (woken ones until they relock) */
    uint32_t pending;  /* wake-ups sent to sleepers that have not relocked yet */
    uint32_t spinners; /* callers spinning on seq before they sleep */
} mp__qcond;

/* One blocking call's wait: the timeout, turned into a deadline at the
 * first wait so that an uncontended call never reads the clock. */
typedef struct {
    double timeout; /* as given; NaN has been refused */
    bool started;   /* deadline set */
    bool spun;      /* the spin before the first sleep is done */
    mp__deadline d; /* valid once started */
} mp__qwait;

/* How mp__qcond_wait drops and retakes the caller's lock. */
typedef struct {
    void (*lock)(void *arg);
    void (*unlock)(void *arg);
    void *arg;
} mp__qlocker;

static inline mp__qwait mp__qwait_init(double timeout)
{
    return (mp__qwait){.timeout = timeout};
}

/* mp__qcond_signal signals c once, with the lock held: returns how many
 * sleepers to wake (0 or 1) with mp__qcond_wake once it is released. */
static inline int mp__qcond_signal(mp__qcond *c, _Atomic uint32_t *seq)
{
    if (c->waiters > c->pending) {
        c->pending++;
        atomic_fetch_add_explicit(seq, 1, memory_order_release);
        return 1;
    }
    if (c->spinners != 0)
        atomic_fetch_add_explicit(seq, 1, memory_order_release);
    return 0;
}

/* mp__qcond_wake wakes n sleepers on seq (no system call for 0). */
static inline void mp__qcond_wake(_Atomic uint32_t *seq, unsigned n)
{
    if (n > 0)
        mp__futex_wake(seq, n > INT32_MAX ? INT32_MAX : (int)n);
}

/* mp__qcond_broadcast wakes every sleeper on c (the lock is held). */
void mp__qcond_broadcast(mp__qcond *c, _Atomic uint32_t *seq);

/* mp__qcond_wait waits on c with the lock held on entry and on return:
 * first a short spin, then sleeps of at most a slice (a process killed
 * between its commit and its wake-up may have swallowed ours). Returns 0
 * when the caller should re-check its condition, MP_ETIMEDOUT when the
 * time is up (the caller checked its condition after the last wait). */
int mp__qcond_wait(mp__qcond *c, _Atomic uint32_t *seq, mp__qwait *w, const mp__qlocker *l);

#endif
