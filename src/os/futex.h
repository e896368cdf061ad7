/* futex.h - the one wait/wake primitive under every blocking call.
 *
 * Linux only (futex(2)). A POSIX port would replace this file with a
 * process-shared mutex + condition variable per wait address. The futexes
 * are shared (no FUTEX_PRIVATE_FLAG): they live in memory that several
 * processes map. */
#ifndef MP_INTERNAL_FUTEX_H
#define MP_INTERNAL_FUTEX_H

#include <stdatomic.h>
#include <stdint.h>

#include "os/clock.h"

/* mp__futex_wait sleeps while *addr == expected, until woken or the
 * deadline passes. Returns 0 when woken, when *addr differed, or after a
 * signal (the caller re-checks its condition and calls again), and
 * MP_ETIMEDOUT once the deadline has passed. A deadline that has already
 * passed returns MP_ETIMEDOUT without sleeping. */
int mp__futex_wait(_Atomic uint32_t *addr, uint32_t expected, const mp__deadline *d);

/* mp__futex_wake wakes at most n sleepers on addr (INT32_MAX: all) and
 * returns how many it woke. */
int mp__futex_wake(_Atomic uint32_t *addr, int n);

/* mp__cpu_relax tells the CPU we are spinning. */
static inline void mp__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#endif
