/* wait.c - spin, sleep in slices, check liveness: the one wait (wait.h). */
#include "sync/wait.h"

#include <stdint.h>

#include "mp/error.h"
#include "os/alive.h"
#include "os/futex.h"

bool mp__spin(_Atomic uint32_t *word, uint32_t seen, const mp__deadline *d)
{
    if (d != NULL && !d->forever && mp__deadline_remaining(d) < MP__SPIN_BUDGET)
        return atomic_load_explicit(word, memory_order_acquire) != seen;
    for (int i = 0; i < MP__SPIN_ROUNDS; i++) {
        if (atomic_load_explicit(word, memory_order_acquire) != seen)
            return true;
        mp__cpu_relax();
    }
    return atomic_load_explicit(word, memory_order_acquire) != seen;
}

bool mp__spin_until(bool (*ready)(void *arg), void *arg, const mp__deadline *d)
{
    if (d != NULL && !d->forever && mp__deadline_remaining(d) < MP__SPIN_BUDGET)
        return ready(arg);
    for (int i = 0; i < MP__SPIN_ROUNDS; i++) {
        if (ready(arg))
            return true;
        mp__cpu_relax();
    }
    return ready(arg);
}

int mp__wait(_Atomic uint32_t *word, uint32_t seen, const mp__deadline *d, mp__alive_fn alive,
             void *arg)
{
    mp__deadline slice = mp__deadline_min(d, MP__WAIT_SLICE);
    if (mp__futex_wait(word, seen, &slice) != MP_ETIMEDOUT)
        return 0; /* woken, changed, or a signal */
    if (atomic_load_explicit(word, memory_order_acquire) != seen)
        return 0;
    /* The slice or the whole wait ran out in silence. The liveness check
     * comes first even when the deadline is up, so that a caller that
     * would time out still learns of a death (a lock is then taken over
     * instead of reported busy). */
    if (alive != NULL && !alive(arg))
        return MP_EOWNERDEAD;
    return mp__deadline_expired(d) ? MP_ETIMEDOUT : 0;
}

int mp__poll(bool (*done)(void *arg), void *arg, const mp__deadline *d)
{
    for (;;) {
        if (done(arg))
            return 0;
        if (mp__deadline_expired(d))
            return MP_ETIMEDOUT;
        double left = mp__deadline_remaining(d);
        mp__sleep(left < MP__POLL_INTERVAL ? left : MP__POLL_INTERVAL);
    }
}

bool mp__alive_tid(void *tid)
{
    return mp__tid_alive((pid_t)(intptr_t)tid);
}
