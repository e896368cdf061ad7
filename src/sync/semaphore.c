/* semaphore.c - Semaphore and BoundedSemaphore: a counter in shared memory
 * with a futex, no owner, any process may release. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <semaphore.h>
#include <stdatomic.h>

#include "os/clock.h"
#include "os/futex.h"
#include "sync/wait.h"
#include "mp/error.h"
#include "mp/shared.h"
#include "mp/sync.h"

/* The value and the sleeper count sit on one cache line: every call reads
 * both. Keeping them apart would not help, as acquire writes the value and
 * release reads the sleepers right after writing it. */
struct mp_semaphore {
    _Atomic uint32_t value;   /* current count; futex word for sleepers */
    _Atomic uint32_t waiters; /* threads sleeping (or about to) on value; one killed
                                 while waiting stays counted, which only costs each
                                 later release a spare futex wake */
    uint32_t bound;           /* release fails past this; UINT32_MAX when unbounded */
    uint32_t pad;
};
_Static_assert(sizeof(struct mp_semaphore) == 16, "semaphore layout");

/* Python's limit (sem_post fails with EOVERFLOW past it). */
#define VALUE_MAX ((uint32_t)SEM_VALUE_MAX)

static mp_semaphore *semaphore_new(unsigned value, uint32_t bound)
{
    if (value > VALUE_MAX) {
        errno = EINVAL;
        return NULL;
    }
    mp_semaphore *s = mp_shared_malloc(sizeof *s);
    if (s == NULL)
        return NULL;
    atomic_init(&s->value, value);
    atomic_init(&s->waiters, 0);
    s->bound = bound;
    s->pad = 0;
    return s;
}

mp_semaphore *mp_semaphore_new(unsigned value)
{
    return semaphore_new(value, UINT32_MAX);
}

mp_semaphore *mp_bounded_semaphore_new(unsigned value)
{
    return semaphore_new(value, value);
}

/* try_take decrements a positive value with a CAS. */
static inline bool try_take(mp_semaphore *s)
{
    uint32_t v = atomic_load_explicit(&s->value, memory_order_relaxed);
    while (v > 0)
        if (atomic_compare_exchange_weak_explicit(&s->value, &v, v - 1, memory_order_acquire,
                                                  memory_order_relaxed))
            return true;
    return false;
}

int mp_semaphore_acquire(mp_semaphore *s, double timeout)
{
    if (s == NULL || isnan(timeout))
        return MP_EINVAL;
    if (try_take(s))
        return 0;
    mp__deadline d;
    mp__deadline_init(&d, timeout);
    /* Announce ourselves before the last look at the value: release bumps
     * the value, then reads waiters (both seq_cst), so either it sees us
     * and wakes, or we see its value and never sleep. */
    if (mp__spin_busy(&s->value, 0, &d) && try_take(s))
        return 0;
    atomic_fetch_add(&s->waiters, 1);
    int rc = 0;
    while (!try_take(s)) {
        if (mp__wait(&s->value, 0, &d, NULL, NULL) == MP_ETIMEDOUT) {
            rc = try_take(s) ? 0 : MP_ETIMEDOUT;
            break;
        }
    }
    atomic_fetch_sub(&s->waiters, 1);
    return rc;
}

int mp_semaphore_release(mp_semaphore *s)
{
    if (s == NULL)
        return MP_EINVAL;
    uint32_t v = atomic_load_explicit(&s->value, memory_order_relaxed);
    do {
        if (v >= s->bound)
            return MP_EVALUE; /* BoundedSemaphore released too many times */
        if (v >= VALUE_MAX)
            return -EOVERFLOW; /* as sem_post */
    } while (!atomic_compare_exchange_weak(&s->value, &v, v + 1));
    if (atomic_load(&s->waiters) > 0)
        mp__futex_wake(&s->value, 1);
    return 0;
}

int mp_semaphore_get_value(const mp_semaphore *s)
{
    if (s == NULL)
        return MP_EINVAL;
    return (int)atomic_load_explicit(&s->value, memory_order_relaxed);
}

void mp_semaphore_free(mp_semaphore *s)
{
    mp_shared_free(s);
}
