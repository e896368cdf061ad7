/* test_internal.c - deadlines, futex wait/wake and liveness checks. */
/* ctest-timeout: 60 */
#include "mp_test.h"

#include <math.h>
#include <stdatomic.h>

#include "os/clock.h"
#include "os/futex.h"
#include "os/alive.h"
#include "os/thread.h"
#include "sync/waiter.h"

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
    double t0 = mpt_now();
    assert_int_equal(mp__deadline_init(&d, 2.5), 0);
    double before = mp__deadline_remaining(&d);
    int ms = mp__deadline_ms(&d);
    double after = mp__deadline_remaining(&d);
    double el = mpt_now() - t0;
    /* What is left is 2.5 s less the time since the init, give or take a
     * rounding of the clock; a loaded machine may take that time. */
    assert_true(before <= 2.5 && before >= 2.5 - el - 1e-6);
    /* Milliseconds rounded up, between the remainders read around. */
    assert_true(ms <= 2500 && ms >= (int)ceil(after * 1e3) && ms <= (int)ceil(before * 1e3));
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
    assert_true(el >= 0.19 && el < 0.2 + MPT_SLACK);
    /* An expired deadline never sleeps: not once (a preemption on a busy
     * machine is no sleep of ours), and returns at once. */
    mp__deadline_init(&d, 0);
    t0 = mpt_now();
    mpt_assert_never_sleeps(assert_int_equal(mp__futex_wait(&word, 0, &d), MP_ETIMEDOUT));
    assert_true(mpt_now() - t0 < MPT_SLACK);
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

/* The waiter is asleep in the kernel, in its futex wait, before the wake:
 * the wake itself ends its wait (it would time out after 10 s), not a
 * change it could have seen before ever sleeping. */
static void test_futex_wakes_across_processes(void **state)
{
    (void)state;
    shared_word = mp_shared_calloc(1, sizeof *shared_word);
    pid_t pid = mpt_fork(futex_waiter, NULL);
    assert_true(mpt_wait_asleep(pid, 10));
    atomic_store(shared_word, 1);
    double t0 = mpt_now();
    mp__futex_wake(shared_word, 1);
    assert_int_equal(mpt_wait(pid), 0);
    assert_true(mpt_now() - t0 < MPT_SLACK);
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
    assert_true(mpt_wait_zombie(10)); /* dead, not reaped yet */
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

/* chain lists the list's nodes from the head, checking each prev. */
static int chain(const mp__waitlist *list, mp__waiter **out, int max)
{
    int n = 0;
    const mp__waiter *prev = NULL;
    for (mp__waiter *w = list->head; w != NULL && n < max; w = w->next) {
        assert_ptr_equal(w->prev, prev);
        out[n++] = w;
        prev = w;
    }
    assert_ptr_equal(list->tail, prev);
    return n;
}

/* A holder killed in the middle of a list update leaves it half done; the
 * next holder must find every waiter it did not take out. Each half-done
 * state below is what the stores of waiter.c leave at a kill point. */
static void test_waitlist_heals_after_a_holder_died_mid_update(void **state)
{
    (void)state;
    mp__waiter a = {.tid = 1}, b = {.tid = 2}, c = {.tid = 3}, d = {.tid = 4}, e = {.tid = 5},
               f = {.tid = 6};
    mp__waitlist list;
    mp__waitlist_init(&list);
    mp__waitlist_push(&list, &a);
    mp__waitlist_push(&list, &b);
    mp__waitlist_push(&list, &c);
    mp__waitlist_push(&list, &d);

    /* Killed removing b, after the store that takes it out of the chain:
     * c->prev still names b. */
    list.busy = 1;
    a.next = &c;
    /* c's own thread times out and unlinks c: with the stale prev it
     * would write b->next and leave a pointing at c, cutting d off. */
    mp__waitlist_remove(&list, &c);
    mp__waiter *got[8];
    assert_int_equal(chain(&list, got, 8), 2);
    assert_ptr_equal(got[0], &a);
    assert_ptr_equal(got[1], &d);

    /* Killed pushing e, after linking it and before moving the tail. */
    list.busy = 1;
    e.next = NULL;
    e.prev = &d;
    d.next = &e;
    mp__waitlist_push(&list, &f);
    assert_int_equal(chain(&list, got, 8), 4);
    assert_ptr_equal(got[2], &e);
    assert_ptr_equal(got[3], &f);
    assert_true(mp__waitlist_contains(&list, &e));
    /* b still names its old neighbours, but is out of the list; its
     * thread, timing out, removes it without touching the others. */
    assert_false(mp__waitlist_contains(&list, &b));
    mp__waitlist_remove(&list, &b);
    assert_int_equal(chain(&list, got, 8), 4);

    /* Killed notifying a, after unlinking it and before its outcome:
     * the next holder finishes that notify (a would otherwise sleep out
     * its timeout, out of the list), then notifies the rest in order. */
    list.busy = 1;
    list.outcome = 9;
    list.taking_gen = atomic_load(&a.gen);
    list.taking = &a;
    list.head = &d;
    assert_int_equal(mp__waitlist_wake(&list, 3, 7), 3);
    assert_int_equal(atomic_load(&a.word), 9);
    assert_int_equal(atomic_load(&d.word), 7);
    assert_int_equal(atomic_load(&e.word), 7);
    assert_int_equal(atomic_load(&f.word), 7);
    assert_null(list.head);
    assert_null(list.tail);
    assert_null(list.taking);

    /* The same, but b's thread has since moved on to another wait (a new
     * generation): that wait must not get the old notify. */
    mp__waitlist_push(&list, &c);
    list.busy = 1;
    list.outcome = 9;
    list.taking_gen = atomic_load(&b.gen);
    list.taking = &b;
    atomic_fetch_add(&b.gen, 1);
    mp__waitlist_remove(&list, &c);
    assert_int_equal(atomic_load(&b.word), 0);
    assert_null(list.head);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        mpt_test(test_deadline_rules),
        mpt_test(test_futex_wait_times_out_on_time),
        mpt_test(test_futex_wakes_across_processes),
        mpt_test(test_liveness_sees_zombies_as_dead),
        mpt_test(test_cached_ids_refresh_after_fork),
        mpt_test(test_waitlist_heals_after_a_holder_died_mid_update),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
