/* qcond.c - the blocking half of the queue's condition variables. */
#include "queue/cond.h"

#include "mp/error.h"

/* A blocked call re-checks this often even without a wake-up. */
#define WAIT_SLICE 0.1

/* Rounds of spinning on seq before sleeping (about a microsecond): the
 * other side often acts that soon, and then nobody pays for a sleep and a
 * wake-up. */
#ifndef SPIN_ROUNDS
#define SPIN_ROUNDS 100
#endif

void mp__qcond_broadcast(mp__qcond *c, _Atomic uint32_t *seq)
{
    c->pending = c->waiters;
    atomic_fetch_add_explicit(seq, 1, memory_order_release);
    mp__futex_wake(seq, INT32_MAX);
}

int mp__qcond_wait(mp__qcond *c, _Atomic uint32_t *seqp, mp__qwait *w, const mp__qlocker *l)
{
    if (!w->started) {
        if (!(w->timeout > 0))
            return MP_ETIMEDOUT;
        mp__deadline_init(&w->d, w->timeout);
        w->started = true;
    }
    uint32_t seq = atomic_load_explicit(seqp, memory_order_acquire);
    if (SPIN_ROUNDS > 0 && !w->spun) {
        w->spun = true;
        c->spinners++;
        l->unlock(l->arg);
        for (int i = 0; i < SPIN_ROUNDS; i++) {
            if (atomic_load_explicit(seqp, memory_order_acquire) != seq)
                break;
            mp__cpu_relax();
        }
        l->lock(l->arg);
        c->spinners--;
        return 0;
    }
    if (mp__deadline_expired(&w->d))
        return MP_ETIMEDOUT;
    c->waiters++;
    l->unlock(l->arg);
    mp__deadline slice = mp__deadline_min(&w->d, WAIT_SLICE);
    (void)mp__futex_wait(seqp, seq, &slice);
    l->lock(l->arg);
    /* A process killed while registered leaves waiters (and maybe
     * pending) one too high for good: later signals may then make a
     * system call for nobody, but never miss a sleeper. */
    c->waiters--;
    if (c->pending > 0)
        c->pending--;
    return 0;
}
