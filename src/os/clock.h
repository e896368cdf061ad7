/* clock.h - deadlines on CLOCK_MONOTONIC from Python-style double timeouts. */
#ifndef MP_INTERNAL_CLOCK_H
#define MP_INTERNAL_CLOCK_H

#include <stdbool.h>
#include <time.h>

/* A deadline is fixed once, at the start of a blocking call, so that
 * retries after EINTR or spurious wake-ups never extend the wait. */
typedef struct {
    struct timespec at; /* absolute CLOCK_MONOTONIC time; unused when forever */
    bool forever;       /* MP_FOREVER (or a timeout too large to represent) */
} mp__deadline;

/* mp__deadline_init sets d from a timeout in seconds: INFINITY (MP_FOREVER)
 * never expires, 0 and negative values have already expired, NaN is
 * MP_EINVAL (d is then left untouched). Returns 0 or MP_EINVAL. */
int mp__deadline_init(mp__deadline *d, double timeout);

/* mp__deadline_expired is true once the deadline has passed. */
bool mp__deadline_expired(const mp__deadline *d);

/* mp__deadline_remaining returns the seconds left (>= 0), INFINITY when
 * forever. */
double mp__deadline_remaining(const mp__deadline *d);

/* mp__deadline_ms returns the milliseconds left rounded up, for poll(2):
 * -1 when forever, 0 when expired, capped at INT_MAX. */
int mp__deadline_ms(const mp__deadline *d);

/* mp__deadline_min returns the earlier of d and now + seconds, for waits
 * that must wake up now and then (liveness checks). */
mp__deadline mp__deadline_min(const mp__deadline *d, double seconds);

/* mp__now returns CLOCK_MONOTONIC in seconds. */
double mp__now(void);

/* mp__sleep sleeps for the given seconds, restarting after signals. */
void mp__sleep(double seconds);

#endif
