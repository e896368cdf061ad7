/* clock.c - deadline arithmetic for every blocking call. */
#include "os/clock.h"

#include <errno.h>
#include <limits.h>
#include <math.h>

#include "mp/error.h"

/* Timeouts beyond this are treated as forever: about 31 years, far from
 * any time_t overflow. */
#define MP__MAX_TIMEOUT 1e9

static struct timespec ts_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts;
}

static struct timespec ts_add(struct timespec ts, double seconds)
{
    double whole = floor(seconds);
    ts.tv_sec += (time_t)whole;
    ts.tv_nsec += (long)((seconds - whole) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec += 1;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

int mp__deadline_init(mp__deadline *d, double timeout)
{
    if (isnan(timeout))
        return MP_EINVAL;
    if (timeout > MP__MAX_TIMEOUT) {
        d->forever = true;
        d->at.tv_sec = 0;
        d->at.tv_nsec = 0;
        return 0;
    }
    d->forever = false;
    d->at = ts_add(ts_now(), timeout > 0 ? timeout : 0);
    return 0;
}

double mp__deadline_remaining(const mp__deadline *d)
{
    if (d->forever)
        return INFINITY;
    struct timespec now = ts_now();
    double left = (double)(d->at.tv_sec - now.tv_sec) + (double)(d->at.tv_nsec - now.tv_nsec) / 1e9;
    return left > 0 ? left : 0;
}

bool mp__deadline_expired(const mp__deadline *d)
{
    if (d->forever)
        return false;
    struct timespec now = ts_now();
    return now.tv_sec > d->at.tv_sec ||
           (now.tv_sec == d->at.tv_sec && now.tv_nsec >= d->at.tv_nsec);
}

int mp__deadline_ms(const mp__deadline *d)
{
    if (d->forever)
        return -1;
    double ms = ceil(mp__deadline_remaining(d) * 1e3);
    return ms >= (double)INT_MAX ? INT_MAX : (int)ms;
}

mp__deadline mp__deadline_min(const mp__deadline *d, double seconds)
{
    mp__deadline soon = {.at = ts_add(ts_now(), seconds), .forever = false};
    if (d->forever)
        return soon;
    if (soon.at.tv_sec < d->at.tv_sec ||
        (soon.at.tv_sec == d->at.tv_sec && soon.at.tv_nsec < d->at.tv_nsec))
        return soon;
    return *d;
}

double mp__now(void)
{
    struct timespec ts = ts_now();
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void mp__sleep(double seconds)
{
    if (!(seconds > 0))
        return;
    struct timespec at = ts_add(ts_now(), seconds);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL) == EINTR)
        ;
}
