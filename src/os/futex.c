/* futex.c - futex(2) wait and wake with absolute monotonic deadlines. */
#include "os/futex.h"

#include <errno.h>
#include <linux/futex.h>
#include <limits.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mp/error.h"
#include "os/panic.h"

int mp__futex_wait(_Atomic uint32_t *addr, uint32_t expected, const mp__deadline *d)
{
    if (!d->forever && mp__deadline_expired(d))
        return MP_ETIMEDOUT;
    /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time, so a retry
     * after EINTR never stretches the wait. */
    long rc = syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_BITSET, expected,
                      d->forever ? NULL : &d->at, NULL, FUTEX_BITSET_MATCH_ANY);
    if (rc == 0)
        return 0;
    switch (errno) {
    case EAGAIN:
    case EINTR:
        return 0;
    case ETIMEDOUT:
        return MP_ETIMEDOUT;
    default:
        mp__panic("futex wait failed: errno %d", errno);
    }
}

int mp__futex_wake(_Atomic uint32_t *addr, int n)
{
    long rc = syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE, n, NULL, NULL, 0);
    if (rc < 0)
        mp__panic("futex wake failed: errno %d", errno);
    return (int)rc;
}
