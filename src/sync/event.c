/* event.c - Event: a flag in shared memory that waiters sleep on. */
#include <math.h>
#include <stdatomic.h>

#include "os/clock.h"
#include "os/futex.h"
#include "sync/wait.h"
#include "mp/error.h"
#include "mp/shared.h"
#include "mp/sync.h"

/* The whole state is one futex word:
 *   bit 0       the flag
 *   bit 1       someone may sleep: set() must wake
 *   bits 2..31  how many times set() raised the flag (wrapping)
 * The count lets a waiter that slept through a set() quickly followed by
 * clear() still return 0, as threading.Event does: the flag was set during
 * its wait, even if it is down again by the time the waiter runs. */
#define FLAG    1u
#define WAITERS 2u
#define GEN_ONE 4u

struct mp_event {
    _Atomic uint32_t word; /* see above */
};

mp_event *mp_event_new(void)
{
    mp_event *e = mp_shared_malloc(sizeof *e);
    if (e == NULL)
        return NULL;
    atomic_init(&e->word, 0);
    return e;
}

int mp_event_set(mp_event *e)
{
    if (e == NULL)
        return MP_EINVAL;
    uint32_t w = atomic_load_explicit(&e->word, memory_order_relaxed);
    do {
        if (w & FLAG)
            return 0; /* already set: nothing to publish, nobody to wake */
    } while (!atomic_compare_exchange_weak(&e->word, &w, ((w & ~WAITERS) + GEN_ONE) | FLAG));
    /* The waiters bit is cleared with the set: sleepers all wake now, and
     * any that must sleep again announce themselves afresh. */
    if (w & WAITERS)
        mp__futex_wake(&e->word, INT32_MAX);
    return 0;
}

int mp_event_clear(mp_event *e)
{
    if (e == NULL)
        return MP_EINVAL;
    atomic_fetch_and(&e->word, ~FLAG);
    return 0;
}

bool mp_event_is_set(const mp_event *e)
{
    return e != NULL && (atomic_load(&e->word) & FLAG);
}

int mp_event_wait(mp_event *e, double timeout)
{
    if (e == NULL || isnan(timeout))
        return MP_EINVAL;
    uint32_t w = atomic_load(&e->word);
    if (w & FLAG)
        return 0; /* set: no clock read */
    mp__deadline d;
    mp__deadline_init(&d, timeout);
    uint32_t gen = w & ~(FLAG | WAITERS);
    for (;;) {
        if ((w & FLAG) || (w & ~(FLAG | WAITERS)) != gen)
            return 0;
        if (!(w & WAITERS)) {
            if (!atomic_compare_exchange_weak(&e->word, &w, w | WAITERS))
                continue;
            w |= WAITERS;
        }
        if (mp__wait(&e->word, w, &d, NULL, NULL) == MP_ETIMEDOUT) {
            w = atomic_load(&e->word);
            if ((w & FLAG) || (w & ~(FLAG | WAITERS)) != gen)
                return 0;
            return MP_ETIMEDOUT;
        }
        w = atomic_load(&e->word);
    }
}

void mp_event_free(mp_event *e)
{
    mp_shared_free(e);
}
