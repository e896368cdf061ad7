/* barrier.c - Barrier (threading.Barrier across processes): parties meet,
 * each gets its arrival index, and a timeout or abort breaks it for all.
 *
 * Python's Barrier drains: a new round waits until every party of the last
 * one has left wait(). A party killed on its way out would block that
 * forever, so this barrier has no draining phase: the party that completes
 * a round writes every sleeper its outcome in its own wait node
 * (internal/waiter.h) and starts the next round at once. A sleeper reads
 * its outcome from its node, however late it runs, so rounds never mix. A
 * party killed while it sleeps has already been counted: it still counts
 * as arrived. */
#include <errno.h>
#include <math.h>

#include "os/clock.h"
#include "sync/lock.h"
#include "sync/waiter.h"
#include "mp/error.h"
#include "mp/shared.h"
#include "mp/sync.h"

/* Outcomes written in a sleeper's node. */
#define PASSED 1u
#define BROKEN 2u

struct mp_barrier {
    mp__lock lock;           /* guards everything below */
    uint32_t parties;        /* parties per round, >= 1 */
    _Atomic uint32_t count;  /* parties arrived in this round (read unlocked by n_waiting) */
    _Atomic uint32_t broken; /* 1 after a timeout or abort, until reset */
    mp__waitlist sleepers;   /* parties of this round waiting for the last one */
};

/* end_round wakes every sleeper with outcome and starts a fresh round. */
static void end_round(mp_barrier *b, uint32_t outcome)
{
    atomic_store(&b->count, 0);
    mp__waitlist_wake(&b->sleepers, INT32_MAX, outcome);
}

/* break_locked breaks the barrier: every sleeper returns MP_EBROKEN. */
static void break_locked(mp_barrier *b)
{
    atomic_store(&b->broken, 1);
    end_round(b, BROKEN);
}

/* hold takes the barrier's lock. A party that died holding it was in the
 * middle of a short update (maybe waking a round's sleepers): its state
 * cannot be trusted, so the barrier is broken, which wakes whoever is still
 * queued and tells everyone through MP_EBROKEN; mp_barrier_reset repairs. */
static void hold(mp_barrier *b)
{
    if (mp__lock_hold(&b->lock) == MP_EOWNERDEAD)
        break_locked(b);
}

mp_barrier *mp_barrier_new(unsigned parties)
{
    if (parties == 0 || parties > INT32_MAX) {
        errno = EINVAL;
        return NULL;
    }
    mp_barrier *b = mp_shared_malloc(sizeof *b);
    if (b == NULL)
        return NULL;
    mp__lock_init(&b->lock);
    b->parties = parties;
    atomic_init(&b->count, 0);
    atomic_init(&b->broken, 0);
    mp__waitlist_init(&b->sleepers);
    return b;
}

int mp_barrier_wait(mp_barrier *b, double timeout)
{
    if (b == NULL)
        return MP_EINVAL;
    mp__deadline d;
    if (mp__deadline_init(&d, timeout) != 0)
        return MP_EINVAL;
    mp__waiter *me = mp__waiter_self();
    if (me == NULL)
        return -errno;

    /* The lock is held for a few stores; a party stopped inside them must
     * not hold us past our deadline: that breaks the barrier as a
     * timeout would. */
    int rc = mp__lock_acquire(&b->lock, &d);
    if (rc == MP_ETIMEDOUT) {
        atomic_store(&b->broken, 1);
        return MP_EBROKEN;
    }
    if (rc == MP_EOWNERDEAD)
        break_locked(b);
    if (atomic_load(&b->broken)) {
        mp__lock_release(&b->lock);
        return MP_EBROKEN;
    }
    uint32_t index = atomic_load(&b->count);
    atomic_store(&b->count, index + 1);
    if (index + 1 == b->parties) {
        end_round(b, PASSED);
        mp__lock_release(&b->lock);
        return (int)index;
    }
    mp__waitlist_push(&b->sleepers, me);
    mp__lock_release(&b->lock);

    uint32_t outcome = mp__waiter_sleep(me, &d);
    if (outcome == 0) {
        /* Our time is up: a try of the lock (a running holder gets a
         * spin). Behind a stopped holder we cannot unlink our node: it is
         * abandoned in the list, and the barrier broken. */
        rc = mp__lock_acquire(&b->lock, &d);
        if (rc == MP_ETIMEDOUT) {
            mp__waiter_abandon(me);
            atomic_store(&b->broken, 1);
            return MP_EBROKEN;
        }
        if (rc == MP_EOWNERDEAD)
            break_locked(b);
        outcome = atomic_load_explicit(&me->word, memory_order_acquire);
        if (outcome == 0) {
            /* Our time ran out before the round ended: as in Python, that
             * breaks the barrier for every party, us included. */
            mp__waitlist_remove(&b->sleepers, me); /* if still there */
            break_locked(b);
            outcome = BROKEN;
        }
        mp__lock_release(&b->lock);
    }
    return outcome == PASSED ? (int)index : MP_EBROKEN;
}

int mp_barrier_abort(mp_barrier *b)
{
    if (b == NULL)
        return MP_EINVAL;
    hold(b);
    break_locked(b);
    mp__lock_release(&b->lock);
    return 0;
}

int mp_barrier_reset(mp_barrier *b)
{
    if (b == NULL)
        return MP_EINVAL;
    hold(b);
    /* Parties waiting in the round being reset return MP_EBROKEN, as in
     * Python; the barrier is whole again for whoever comes next. */
    end_round(b, BROKEN);
    atomic_store(&b->broken, 0);
    mp__lock_release(&b->lock);
    return 0;
}

bool mp_barrier_broken(const mp_barrier *b)
{
    return b != NULL && atomic_load(&b->broken) != 0;
}

int mp_barrier_parties(const mp_barrier *b)
{
    if (b == NULL)
        return MP_EINVAL;
    return (int)b->parties;
}

int mp_barrier_n_waiting(const mp_barrier *b)
{
    if (b == NULL)
        return MP_EINVAL;
    return atomic_load(&b->broken) ? 0 : (int)atomic_load(&b->count);
}

void mp_barrier_free(mp_barrier *b)
{
    mp_shared_free(b);
}
