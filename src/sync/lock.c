/* lock.c - Lock and RLock: libmp's futex lock (internal/lock.h) behind
 * Python's names and rules. */
#include <errno.h>
#include <math.h>

#include "os/clock.h"
#include "sync/lock.h"
#include "mp/error.h"
#include "mp/shared.h"
#include "mp/sync.h"

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
