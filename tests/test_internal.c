/* test_internal.c - deadlines, futex wait/wake and liveness checks. */
/* ctest-timeout: 60 */
#include "mp_test.h"

#include <math.h>
#include <stdatomic.h>

#include "os/clock.h"
#include "os/futex.h"
#include "os/alive.h"
#include "os/thread.h"

static void test_deadline_rules(void **state)
{
    (void)state;
    mp__deadline d;
    assert_int_equal(mp__deadline_init(&d, NAN), MP_EINVAL);
    assert_int_equal(mp__deadline_init(&d, 0), 0);
    assert_true(mp__deadline_expired(&d));
    assert_int_equal(mp__deadline_ms(&d), 0);
    assert_int_equal(mp__deadline_init(&d, -5), 0);
    assert_true(mp__deadline_expired(&d));
    assert_int_equal(mp__deadline_init(&d, MP_FOREVER), 0);
    assert_true(d.forever);
    assert_false(mp__deadline_expired(&d));
    assert_int_equal(mp__deadline_ms(&d), -1);
    assert_true(isinf(mp__deadline_remaining(&d)));
    assert_int_equal(mp__deadline_init(&d, 1e300), 0);
    assert_true(d.forever);
    assert_int_equal(mp__deadline_init(&d, 2.5), 0);
    double left = mp__deadline_remaining(&d);
    assert_true(left > 2.4 && left <= 2.5);
    assert_int_equal(mp__deadline_ms(&d), 2500);
}

static void test_futex_wait_times_out_on_time(void **state)
{
    (void)state;
    _Atomic uint32_t word = 0;
    mp__deadline d;
    mp__deadline_init(&d, 0.2);
    double t0 = mpt_now();
    int rc;
    while ((rc = mp__futex_wait(&word, 0, &d)) == 0)
        ;
    double el = mpt_now() - t0;
    assert_int_equal(rc, MP_ETIMEDOUT);
    assert_true(el >= 0.19 && el < 0.6);
    /* An expired deadline never sleeps. */
    mp__deadline_init(&d, 0);
    t0 = mpt_now();
    assert_int_equal(mp__futex_wait(&word, 0, &d), MP_ETIMEDOUT);
    assert_true(mpt_now() - t0 < 0.05);
    /* A changed value returns at once. */
    mp__deadline_init(&d, 5);
    assert_int_equal(mp__futex_wait(&word, 1, &d), 0);
}

static _Atomic uint32_t *shared_word;

static int futex_waiter(void *arg)
{
    (void)arg;
    mp__deadline d;
    mp__deadline_init(&d, 10);
    while (atomic_load(shared_word) == 0)
        if (mp__futex_wait(shared_word, 0, &d) == MP_ETIMEDOUT)
            return 1;
    return 0;
}

static void test_futex_wakes_across_processes(void **state)
{
    (void)state;
    shared_word = mp_shared_calloc(1, sizeof *shared_word);
    pid_t pid = mpt_fork(futex_waiter, NULL);
    usleep(50000);
    atomic_store(shared_word, 1);
    mp__futex_wake(shared_word, 1);
    double t0 = mpt_now();
    assert_int_equal(mpt_wait(pid), 0);
    assert_true(mpt_now() - t0 < 2);
    mp_shared_free((void *)shared_word);
}

static int sleep_forever(void *arg)
{
    (void)arg;
    pause();
    return 0;
}

static void test_liveness_sees_zombies_as_dead(void **state)
{
    (void)state;
    assert_true(mp__tid_alive(getpid()));
    assert_true(mp__tid_alive(mp__tid()));
    assert_int_equal(mp__pid(), getpid());
    pid_t pid = mpt_fork(sleep_forever, NULL);
    assert_true(mp__tid_alive(pid));
    kill(pid, SIGKILL);
    usleep(100000); /* now a zombie: not reaped yet */
    assert_false(mp__tid_alive(pid));
    mpt_wait(pid);
    assert_false(mp__tid_alive(pid));
}

static int report_tid(void *arg)
{
    pid_t parent_tid = *(pid_t *)arg;
    return mp__tid() != parent_tid && mp__tid() == getpid() && mp__pid() == getpid() ? 0 : 1;
}

static void test_cached_ids_refresh_after_fork(void **state)
{
    (void)state;
    pid_t t = mp__tid();
    assert_int_equal(mpt_wait(mpt_fork(report_tid, &t)), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        mpt_test(test_deadline_rules),
        mpt_test(test_futex_wait_times_out_on_time),
        mpt_test(test_futex_wakes_across_processes),
        mpt_test(test_liveness_sees_zombies_as_dead),
        mpt_test(test_cached_ids_refresh_after_fork),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
