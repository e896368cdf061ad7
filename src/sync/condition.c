/* condition.c - Condition: libmp's own condition variable, a FIFO list of
 * per-thread wait nodes under the condition's lock.
 *
 * Not glibc's process-shared pthread_cond_t: after a waiter is killed
 * inside pthread_cond_wait, later signals and the destroy can hang (glibc
 * bug 21422, see DESIGN.md). Here each waiter sleeps on the futex word of
 * its own node, so notify(n) picks exactly whom it wakes: at most n, and at
 * least min(n, waiting); a waiter that was killed is found dead and passed
 * over, so it never swallows a notify. */
#include <errno.h>
#include <math.h>

#include "os/clock.h"
#include "os/log.h"
#include "sync/lock.h"
#include "sync/waiter.h"
#include "mp/error.h"
#include "mp/shared.h"
#include "mp/sync.h"

/* The outcome a notify writes in a waiter's node. */
#define NOTIFIED 1u

struct mp_condition {
    mp_lock *user;        /* the lock given to mp_condition_new, or NULL */
    struct mp_rlock own;  /* the condition's own recursive lock when user is NULL */
    mp__waitlist waiters; /* sleeping threads, oldest first; guarded by the lock */
};

/* base returns the futex lock underneath, whichever kind it is. */
static mp__lock *base(mp_condition *c)
{
    return c->user != NULL ? &c->user->l : &c->own.l;
}

mp_condition *mp_condition_new(mp_lock *lock)
{
    mp_condition *c = mp_shared_malloc(sizeof *c);
    if (c == NULL)
        return NULL;
    c->user = lock;
    mp__lock_init(&c->own.l);
    c->own.count = 0;
    mp__waitlist_init(&c->waiters);
    return c;
}

/* takeover_noted passes an acquire's result through, and logs a take-over
 * from a dead holder with the condition's name on it (lock.c's own line
 * names only the lock). */
static int takeover_noted(mp_condition *c, int rc)
{
    if (rc == MP_EOWNERDEAD)
        mp__log(MP_LOG_WARN, "condition %p: its lock %p was taken over from a dead holder",
                (void *)c, (void *)base(c));
    return rc;
}

int mp_condition_acquire(mp_condition *c, double timeout)
{
    if (c == NULL)
        return MP_EINVAL;
    return takeover_noted(c, c->user != NULL ? mp_lock_acquire(c->user, timeout)
                                             : mp_rlock_acquire(&c->own, timeout));
}

int mp_condition_release(mp_condition *c)
{
    if (c == NULL)
        return MP_EINVAL;
    return c->user != NULL ? mp_lock_release(c->user) : mp_rlock_release(&c->own);
}

/* The list is only touched by the lock's holder. Should a holder die in
 * the middle of a list update, the next one finds the list whole: the
 * update is done or not done (waiter.h says how). A notify that dies
 * with its notifier is lost: its waiter times out. */

int mp_condition_wait(mp_condition *c, double timeout)
{
    if (c == NULL)
        return MP_EINVAL;
    mp__deadline d;
    if (mp__deadline_init(&d, timeout) != 0)
        return MP_EINVAL;
    mp__lock *l = base(c);
    if (!mp__lock_mine(l))
        return MP_ESTATE;
    mp__waiter *me = mp__waiter_self();
    if (me == NULL)
        return -errno;
    mp__waitlist_push(&c->waiters, me);

    /* Release every level of the recursive lock, as Python does, and
     * restore them after. Queued first, released second: a notify that
     * follows the release finds us in the list, so none is lost. */
    uint32_t depth = c->own.count;
    if (c->user == NULL)
        c->own.count = 0;
    mp__lock_release(l);

    /* The sleep is sliced: a notify defers our wake to its release of
     * the lock, which a notifier killed in between never does. */
    uint32_t outcome = mp__waiter_sleep(me, &d);

    /* Python re-takes the lock whatever happened, without a timeout. */
    int rc = takeover_noted(c, mp__lock_hold(l));
    if (c->user == NULL)
        c->own.count = depth;
    if (outcome == 0 && atomic_load_explicit(&me->word, memory_order_acquire) == 0) {
        /* Timed out, and no notify reached us before we got the lock back
         * (one that did counts: it chose us, so we report woken). */
        mp__waitlist_remove(&c->waiters, me);
        return rc == MP_EOWNERDEAD ? rc : MP_ETIMEDOUT;
    }
    return rc;
}

int mp_condition_wait_for(mp_condition *c, bool (*pred)(void *arg), void *arg, double timeout)
{
    if (c == NULL || pred == NULL)
        return MP_EINVAL;
    mp__deadline d;
    if (mp__deadline_init(&d, timeout) != 0)
        return MP_EINVAL;
    if (!mp__lock_mine(base(c)))
        return MP_ESTATE;
    for (;;) {
        if (pred(arg))
            return 0;
        if (!d.forever && mp__deadline_expired(&d))
            return MP_ETIMEDOUT;
        int rc = mp_condition_wait(c, d.forever ? MP_FOREVER : mp__deadline_remaining(&d));
        if (rc != 0 && rc != MP_ETIMEDOUT)
            return rc;
    }
}

int mp_condition_notify(mp_condition *c, int n)
{
    if (c == NULL || n < 0)
        return MP_EINVAL;
    if (!mp__lock_mine(base(c)))
        return MP_ESTATE;
    /* Exact counting relies on holding the lock: a woken waiter cannot
     * leave wait (it must re-take the lock) while we walk the list, so a
     * waiter that looks dead to the liveness check really died waiting.
     * Wait morphing: the wakes go out when we release the lock (any
     * release, mp_lock_release of a lock given to mp_condition_new too),
     * so a waiter does not wake only to find the lock still held by us
     * and sleep again on it: one wake-up per hand-off, not two. */
    mp__waitlist_notify(&c->waiters, n, NOTIFIED, base(c));
    return 0;
}

int mp_condition_notify_all(mp_condition *c)
{
    return mp_condition_notify(c, INT32_MAX);
}

void mp_condition_free(mp_condition *c)
{
    mp_shared_free(c);
}
