/* test_sync_barrier.c - Barrier across processes: indexes, rounds,
 * timeouts and abort breaking it for all, reset, killed parties. */
/* ctest-timeout: 90 */
#include "mp_test.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>

#define ROUNDS 5

struct shared {
    mp_barrier *b;
    _Atomic int arrived;
    _Atomic int seen[ROUNDS][4]; /* how often each index came out, per round */
};

static struct shared *new_shared(unsigned parties)
{
    struct shared *s = mp_shared_calloc(1, sizeof *s);
    assert_non_null(s);
    s->b = mp_barrier_new(parties);
    assert_non_null(s->b);
    return s;
}

static void free_shared(struct shared *s)
{
    mp_barrier_free(s->b);
    mp_shared_free(s);
}

static void test_barrier_bad_input(void **state)
{
    (void)state;
    errno = 0;
    assert_null(mp_barrier_new(0));
    assert_int_equal(errno, EINVAL);
    assert_int_equal(mp_barrier_wait(NULL, 0), MP_EINVAL);
    assert_int_equal(mp_barrier_abort(NULL), MP_EINVAL);
    assert_int_equal(mp_barrier_reset(NULL), MP_EINVAL);
    assert_int_equal(mp_barrier_parties(NULL), MP_EINVAL);
    assert_int_equal(mp_barrier_n_waiting(NULL), MP_EINVAL);
    assert_false(mp_barrier_broken(NULL));
    mp_barrier_free(NULL);

    mp_barrier *b = mp_barrier_new(3);
    assert_int_equal(mp_barrier_parties(b), 3);
    assert_int_equal(mp_barrier_n_waiting(b), 0);
    assert_false(mp_barrier_broken(b));
    assert_int_equal(mp_barrier_wait(b, NAN), MP_EINVAL);
    assert_int_equal(mp_barrier_n_waiting(b), 0); /* nothing changed */
    assert_false(mp_barrier_broken(b));
    mp_barrier_free(b);

    /* One party: never waits. */
    b = mp_barrier_new(1);
    assert_int_equal(mp_barrier_wait(b, 0), 0);
    assert_int_equal(mp_barrier_wait(b, 0), 0);
    mp_barrier_free(b);
}

static int party(void *arg)
{
    struct shared *s = arg;
    for (int r = 0; r < ROUNDS; r++) {
        int i = mp_barrier_wait(s->b, 10);
        if (i < 0 || i > 3)
            return 1;
        atomic_fetch_add(&s->seen[r][i], 1);
    }
    return 0;
}

static void test_barrier_gives_each_party_an_index(void **state)
{
    (void)state;
    struct shared *s = new_shared(4);
    pid_t pids[4];
    for (int i = 0; i < 4; i++)
        pids[i] = mpt_fork(party, s);
    for (int i = 0; i < 4; i++)
        assert_int_equal(mpt_wait(pids[i]), 0);
    for (int r = 0; r < ROUNDS; r++)
        for (int i = 0; i < 4; i++)
            assert_int_equal(atomic_load(&s->seen[r][i]), 1);
    assert_int_equal(mp_barrier_n_waiting(s->b), 0);
    assert_false(mp_barrier_broken(s->b));
    free_shared(s);
}

/* Waits once with a long timeout; exit 0 when it got MP_EBROKEN. */
static int broken_party(void *arg)
{
    struct shared *s = arg;
    atomic_fetch_add(&s->arrived, 1);
    return mp_barrier_wait(s->b, 10) == MP_EBROKEN ? 0 : 1;
}

struct waiting_count {
    struct shared *s;
    int n;
};

static bool n_waiting(void *arg)
{
    struct waiting_count *w = arg;
    return mp_barrier_n_waiting(w->s->b) >= w->n;
}

static void wait_waiting(struct shared *s, int n)
{
    assert_true(mpt_until(n_waiting, &(struct waiting_count){s, n}, 10));
    assert_int_equal(mp_barrier_n_waiting(s->b), n);
}

static void test_barrier_timeout_breaks_it_for_all(void **state)
{
    (void)state;
    struct shared *s = new_shared(3);
    pid_t pid = mpt_fork(broken_party, s);
    wait_waiting(s, 1);
    double t0 = mpt_now();
    assert_int_equal(mp_barrier_wait(s->b, 0.3), MP_EBROKEN); /* only 2 of 3 came */
    double el = mpt_now() - t0;
    assert_true(el >= 0.29 && el < 0.3 + MPT_SLACK);
    assert_int_equal(mpt_wait(pid), 0); /* the other party was broken too */
    assert_true(mp_barrier_broken(s->b));
    assert_int_equal(mp_barrier_n_waiting(s->b), 0);
    /* Broken until reset: a new wait fails at once, never asleep. */
    t0 = mpt_now();
    mpt_assert_never_sleeps(assert_int_equal(mp_barrier_wait(s->b, 5), MP_EBROKEN));
    assert_true(mpt_now() - t0 < MPT_SLACK);

    assert_int_equal(mp_barrier_reset(s->b), 0);
    assert_false(mp_barrier_broken(s->b));
    pid_t pids[2] = {mpt_fork(party, s), mpt_fork(party, s)};
    for (int r = 0; r < ROUNDS; r++) {
        int i = mp_barrier_wait(s->b, 10);
        assert_true(i >= 0 && i < 3);
        atomic_fetch_add(&s->seen[r][i], 1);
    }
    for (int i = 0; i < 2; i++)
        assert_int_equal(mpt_wait(pids[i]), 0);
    for (int r = 0; r < ROUNDS; r++)
        for (int i = 0; i < 3; i++)
            assert_int_equal(atomic_load(&s->seen[r][i]), 1);
    free_shared(s);
}

static void test_barrier_abort_and_reset_break_waiters(void **state)
{
    (void)state;
    struct shared *s = new_shared(4);
    pid_t pids[2] = {mpt_fork(broken_party, s), mpt_fork(broken_party, s)};
    wait_waiting(s, 2);
    double t0 = mpt_now();
    assert_int_equal(mp_barrier_abort(s->b), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(mpt_wait(pids[i]), 0);
    assert_true(mpt_now() - t0 < MPT_SLACK); /* woken, not timed out after 10 s */
    assert_true(mp_barrier_broken(s->b));
    assert_int_equal(mp_barrier_wait(s->b, 0), MP_EBROKEN);
    assert_int_equal(mp_barrier_reset(s->b), 0);
    assert_false(mp_barrier_broken(s->b));

    /* Reset while parties wait: they are broken, the barrier is not. */
    pids[0] = mpt_fork(broken_party, s);
    wait_waiting(s, 1);
    assert_int_equal(mp_barrier_reset(s->b), 0);
    assert_int_equal(mpt_wait(pids[0]), 0);
    assert_false(mp_barrier_broken(s->b));
    assert_int_equal(mp_barrier_n_waiting(s->b), 0);
    free_shared(s);
}

/* Waits once; exit status = the index, 100 on error. */
static int once_party(void *arg)
{
    struct shared *s = arg;
    int i = mp_barrier_wait(s->b, 10);
    return i >= 0 ? i : 100;
}

/* A party killed while it waits still counts as arrived. */
static void test_barrier_killed_party_counts_as_arrived(void **state)
{
    (void)state;
    struct shared *s = new_shared(3);
    pid_t doomed = mpt_fork(once_party, s);
    wait_waiting(s, 1);
    kill(doomed, SIGKILL);
    assert_true(mpt_wait_zombie(10));
    pid_t pid = mpt_fork(once_party, s);
    wait_waiting(s, 2);
    int mine = mp_barrier_wait(s->b, 5);
    assert_int_equal(mine, 2); /* the third to arrive: the dead party was first */
    assert_int_equal(mpt_wait(pid), 1);
    assert_int_equal(mpt_wait(doomed), 128 + SIGKILL);
    assert_false(mp_barrier_broken(s->b));
    assert_int_equal(mp_barrier_n_waiting(s->b), 0);
    free_shared(s);
}

static void test_barrier_timeout_survives_signals(void **state)
{
    (void)state;
    struct shared *s = new_shared(2);
    mpt_alarms_start(50000);
    double t0 = mpt_now();
    int rc = mp_barrier_wait(s->b, 0.5);
    double el = mpt_now() - t0;
    mpt_alarms_stop();
    assert_int_equal(rc, MP_EBROKEN);
    assert_true(el >= 0.49 && el < 0.5 + MPT_SLACK);
    assert_true(mpt_alarms_count() >= 5);
    free_shared(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        mpt_test(test_barrier_bad_input),
        mpt_test(test_barrier_gives_each_party_an_index),
        mpt_test(test_barrier_timeout_breaks_it_for_all),
        mpt_test(test_barrier_abort_and_reset_break_waiters),
        mpt_test(test_barrier_killed_party_counts_as_arrived),
        mpt_test(test_barrier_timeout_survives_signals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
