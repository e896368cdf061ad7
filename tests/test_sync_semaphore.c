/* test_sync_semaphore.c - Semaphore, BoundedSemaphore and Event across
 * processes: values, bounds, timeouts, producer/consumer, wake-ups. */
/* ctest-timeout: 90 */
#include "mp_test.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <semaphore.h>
#include <stdatomic.h>

static void test_semaphore_bad_input(void **state)
{
    (void)state;
    errno = 0;
    assert_null(mp_semaphore_new((unsigned)SEM_VALUE_MAX + 1u));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(mp_bounded_semaphore_new(UINT_MAX));
    assert_int_equal(errno, EINVAL);
    assert_int_equal(mp_semaphore_acquire(NULL, 0), MP_EINVAL);
    assert_int_equal(mp_semaphore_release(NULL), MP_EINVAL);
    assert_int_equal(mp_semaphore_get_value(NULL), MP_EINVAL);
    mp_semaphore_free(NULL);

    mp_semaphore *s = mp_semaphore_new(SEM_VALUE_MAX);
    assert_non_null(s);
    assert_int_equal(mp_semaphore_get_value(s), SEM_VALUE_MAX);
    assert_int_equal(mp_semaphore_release(s), -EOVERFLOW);
    assert_int_equal(mp_semaphore_get_value(s), SEM_VALUE_MAX);
    assert_int_equal(mp_semaphore_acquire(s, NAN), MP_EINVAL);
    assert_int_equal(mp_semaphore_get_value(s), SEM_VALUE_MAX);
    mp_semaphore_free(s);
}

static void test_semaphore_counts(void **state)
{
    (void)state;
    mp_semaphore *s = mp_semaphore_new(2);
    assert_int_equal(mp_semaphore_get_value(s), 2);
    assert_int_equal(mp_semaphore_acquire(s, 0), 0);
    assert_int_equal(mp_semaphore_acquire(s, 0), 0);
    assert_int_equal(mp_semaphore_get_value(s), 0);
    assert_int_equal(mp_semaphore_acquire(s, 0), MP_ETIMEDOUT);
    /* Unbounded: released past the initial value. */
    for (int i = 0; i < 5; i++)
        assert_int_equal(mp_semaphore_release(s), 0);
    assert_int_equal(mp_semaphore_get_value(s), 5);
    mp_semaphore_free(s);
}

static void test_bounded_semaphore_refuses_over_release(void **state)
{
    (void)state;
    mp_semaphore *s = mp_bounded_semaphore_new(2);
    assert_int_equal(mp_semaphore_release(s), MP_EVALUE);
    assert_int_equal(mp_semaphore_get_value(s), 2);
    assert_int_equal(mp_semaphore_acquire(s, 0), 0);
    assert_int_equal(mp_semaphore_release(s), 0);
    assert_int_equal(mp_semaphore_release(s), MP_EVALUE);
    assert_int_equal(mp_semaphore_get_value(s), 2);
    mp_semaphore_free(s);

    s = mp_bounded_semaphore_new(0);
    assert_int_equal(mp_semaphore_release(s), MP_EVALUE);
    mp_semaphore_free(s);
}

static void test_semaphore_acquire_times_out_on_time(void **state)
{
    (void)state;
    mp_semaphore *s = mp_semaphore_new(0);
    double t0 = mpt_now();
    assert_int_equal(mp_semaphore_acquire(s, 0.3), MP_ETIMEDOUT);
    double el = mpt_now() - t0;
    assert_true(el >= 0.29 && el < 0.3 + MPT_SLACK);

    mpt_alarms_start(50000);
    t0 = mpt_now();
    assert_int_equal(mp_semaphore_acquire(s, 0.5), MP_ETIMEDOUT);
    el = mpt_now() - t0;
    mpt_alarms_stop();
    assert_true(el >= 0.49 && el < 0.5 + MPT_SLACK);
    assert_true(mpt_alarms_count() >= 5);
    assert_int_equal(mp_semaphore_get_value(s), 0);
    mp_semaphore_free(s);
}

/* Producer/consumer through a two-slot ring, Python's classic:
 * empty = Semaphore(2), full = Semaphore(0), a lock on the indexes. */
#define RING  2
#define ITEMS 10000

struct ring {
    mp_semaphore *empty, *full;
    mp_lock *lock;
    int slot[RING];
    int head, tail;
    int seen[2 * ITEMS]; /* how often each item was consumed */
};

static int produce_range(struct ring *r, int first)
{
    for (int i = first; i < first + ITEMS; i++) {
        if (mp_semaphore_acquire(r->empty, 10) != 0)
            return 1;
        mp_lock_acquire(r->lock, MP_FOREVER);
        r->slot[r->tail] = i;
        r->tail = (r->tail + 1) % RING;
        mp_lock_release(r->lock);
        if (mp_semaphore_release(r->full) != 0)
            return 2;
    }
    return 0;
}

static int producer_low(void *arg)
{
    return produce_range(arg, 0);
}

static int producer_high(void *arg)
{
    return produce_range(arg, ITEMS);
}

static int consumer(void *arg)
{
    struct ring *r = arg;
    for (int i = 0; i < ITEMS; i++) {
        if (mp_semaphore_acquire(r->full, 10) != 0)
            return 1;
        mp_lock_acquire(r->lock, MP_FOREVER);
        int item = r->slot[r->head];
        r->head = (r->head + 1) % RING;
        mp_lock_release(r->lock);
        if (item < 0 || item >= 2 * ITEMS)
            return 2;
        atomic_fetch_add((_Atomic int *)&r->seen[item], 1);
        if (mp_semaphore_release(r->empty) != 0)
            return 3;
    }
    return 0;
}

static void test_semaphores_move_items_between_processes(void **state)
{
    (void)state;
    struct ring *r = mp_shared_calloc(1, sizeof *r);
    r->empty = mp_semaphore_new(RING);
    r->full = mp_semaphore_new(0);
    r->lock = mp_lock_new();
    pid_t pids[4] = {mpt_fork(producer_low, r), mpt_fork(producer_high, r), mpt_fork(consumer, r),
                     mpt_fork(consumer, r)};
    for (int i = 0; i < 4; i++)
        assert_int_equal(mpt_wait(pids[i]), 0);
    for (int i = 0; i < 2 * ITEMS; i++)
        assert_int_equal(r->seen[i], 1);
    assert_int_equal(mp_semaphore_get_value(r->empty), RING);
    assert_int_equal(mp_semaphore_get_value(r->full), 0);
    mp_semaphore_free(r->empty);
    mp_semaphore_free(r->full);
    mp_lock_free(r->lock);
    mp_shared_free(r);
}

static void test_event_set_clear_wait(void **state)
{
    (void)state;
    assert_int_equal(mp_event_set(NULL), MP_EINVAL);
    assert_int_equal(mp_event_clear(NULL), MP_EINVAL);
    assert_int_equal(mp_event_wait(NULL, 0), MP_EINVAL);
    assert_false(mp_event_is_set(NULL));
    mp_event_free(NULL);

    mp_event *e = mp_event_new();
    assert_false(mp_event_is_set(e));
    assert_int_equal(mp_event_wait(e, NAN), MP_EINVAL);
    assert_int_equal(mp_event_wait(e, 0), MP_ETIMEDOUT);
    double t0 = mpt_now();
    assert_int_equal(mp_event_wait(e, 0.3), MP_ETIMEDOUT);
    double el = mpt_now() - t0;
    assert_true(el >= 0.29 && el < 0.3 + MPT_SLACK);
    assert_int_equal(mp_event_set(e), 0);
    assert_true(mp_event_is_set(e));
    assert_int_equal(mp_event_set(e), 0);
    assert_int_equal(mp_event_wait(e, 0), 0);
    assert_int_equal(mp_event_wait(e, MP_FOREVER), 0);
    assert_int_equal(mp_event_clear(e), 0);
    assert_false(mp_event_is_set(e));
    assert_int_equal(mp_event_wait(e, 0), MP_ETIMEDOUT);

    mpt_alarms_start(50000);
    t0 = mpt_now();
    assert_int_equal(mp_event_wait(e, 0.5), MP_ETIMEDOUT);
    el = mpt_now() - t0;
    mpt_alarms_stop();
    assert_true(el >= 0.49 && el < 0.5 + MPT_SLACK);
    mp_event_free(e);
}

struct ev {
    mp_event *e;
    _Atomic int waiting;
    _Atomic int woke;
};

static int event_child(void *arg)
{
    struct ev *v = arg;
    atomic_fetch_add(&v->waiting, 1);
    int rc = mp_event_wait(v->e, 10);
    atomic_fetch_add(&v->woke, 1);
    return rc == 0 ? 0 : 1;
}

static void test_event_set_wakes_waiters_in_other_processes(void **state)
{
    (void)state;
    struct ev *v = mp_shared_calloc(1, sizeof *v);
    v->e = mp_event_new();
    pid_t pids[3];
    for (int i = 0; i < 3; i++)
        pids[i] = mpt_fork(event_child, v);
    assert_true(mpt_wait_atomic(&v->waiting, 3, 10));
    /* Nobody wakes before the set: each waiter has run since (its
     * periodic look) and sleeps again, none ended. */
    assert_int_equal(mpt_wait_settled(pids, 3, 10), 0);
    assert_int_equal(atomic_load(&v->woke), 0);
    double t0 = mpt_now();
    assert_int_equal(mp_event_set(v->e), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(mpt_wait(pids[i]), 0);
    assert_true(mpt_now() - t0 < MPT_SLACK); /* woken, not timed out after 10 s */
    mp_event_free(v->e);
    mp_shared_free(v);
}

/* A set quickly undone by a clear still ends the waits it overlapped, as
 * threading.Event: the flag was set while they waited. */
static void test_event_wait_sees_a_set_undone_by_clear(void **state)
{
    (void)state;
    struct ev *v = mp_shared_calloc(1, sizeof *v);
    v->e = mp_event_new();
    pid_t pid = mpt_fork(event_child, v);
    assert_true(mpt_wait_atomic(&v->waiting, 1, 10));
    assert_true(mpt_wait_asleep(pid, 10)); /* in its wait before the set */
    mp_event_set(v->e);
    mp_event_clear(v->e);
    assert_int_equal(mpt_wait(pid), 0);
    assert_false(mp_event_is_set(v->e));
    mp_event_free(v->e);
    mp_shared_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        mpt_test(test_semaphore_bad_input),
        mpt_test(test_semaphore_counts),
        mpt_test(test_bounded_semaphore_refuses_over_release),
        mpt_test(test_semaphore_acquire_times_out_on_time),
        mpt_test(test_semaphores_move_items_between_processes),
        mpt_test(test_event_set_clear_wait),
        mpt_test(test_event_set_wakes_waiters_in_other_processes),
        mpt_test(test_event_wait_sees_a_set_undone_by_clear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
