/* test_sync_condition.c - Condition across processes and threads: exact
 * notify counts, timeouts, wait_for, ownership rules, killed waiters. */
/* ctest-timeout: 90 */
#include "mp_test.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>

struct shared {
    mp_condition *c;
    _Atomic int waiting; /* waiters queued (counted under the lock) */
    _Atomic int woke;    /* waiters that returned 0 from wait */
    _Atomic int timed;   /* waiters that returned MP_ETIMEDOUT */
    int value;           /* the state guarded by the lock */
    mp_lock *lock;       /* the condition's plain lock, where a test needs it */
};

static struct shared *new_shared(mp_lock *lock)
{
    struct shared *s = mp_shared_calloc(1, sizeof *s);
    assert_non_null(s);
    s->c = mp_condition_new(lock);
    assert_non_null(s->c);
    return s;
}

static void free_shared(struct shared *s)
{
    mp_condition_free(s->c);
    mp_shared_free(s);
}

/* wait_queued tells (under the lock) whether n waiters are queued:
 * each counts itself with the lock held, just before wait queues it. */
static bool wait_queued(struct shared *s, int n)
{
    if (!mpt_wait_atomic(&s->waiting, n, 10))
        return false;
    /* Once we get the lock, the last of them has released it in wait. */
    mp_condition_acquire(s->c, MP_FOREVER);
    mp_condition_release(s->c);
    return true;
}

static int waiter_child(void *arg)
{
    struct shared *s = arg;
    if (mp_condition_acquire(s->c, 5) != 0)
        return 1;
    atomic_fetch_add(&s->waiting, 1);
    int rc = mp_condition_wait(s->c, 10);
    if (rc == 0)
        atomic_fetch_add(&s->woke, 1);
    if (mp_condition_release(s->c) != 0)
        return 2;
    return rc == 0 ? 0 : 3;
}

static void test_condition_bad_input_and_ownership(void **state)
{
    (void)state;
    assert_int_equal(mp_condition_acquire(NULL, 0), MP_EINVAL);
    assert_int_equal(mp_condition_release(NULL), MP_EINVAL);
    assert_int_equal(mp_condition_wait(NULL, 0), MP_EINVAL);
    assert_int_equal(mp_condition_notify(NULL, 1), MP_EINVAL);
    assert_int_equal(mp_condition_notify_all(NULL), MP_EINVAL);
    assert_int_equal(mp_condition_wait_for(NULL, NULL, NULL, 0), MP_EINVAL);
    mp_condition_free(NULL);

    mp_lock *l = mp_lock_new();
    mp_condition *cs[2] = {mp_condition_new(NULL), mp_condition_new(l)};
    for (int i = 0; i < 2; i++) {
        mp_condition *c = cs[i];
        /* Not held: waiting or notifying is a state error. */
        assert_int_equal(mp_condition_wait(c, 0), MP_ESTATE);
        assert_int_equal(mp_condition_notify(c, 1), MP_ESTATE);
        assert_int_equal(mp_condition_notify_all(c), MP_ESTATE);
        assert_int_equal(mp_condition_release(c), i == 0 ? MP_ENOTOWNER : MP_EVALUE);
        assert_int_equal(mp_condition_acquire(c, 0), 0);
        assert_int_equal(mp_condition_wait(c, NAN), MP_EINVAL);
        assert_int_equal(mp_condition_notify(c, -1), MP_EINVAL);
        assert_int_equal(mp_condition_notify(c, 0), 0);
        assert_int_equal(mp_condition_notify(c, 5), 0); /* nobody waits: fine */
        assert_int_equal(mp_condition_wait_for(c, NULL, NULL, 0), MP_EINVAL);
        double t0 = mpt_now();
        assert_int_equal(mp_condition_wait(c, 0.3), MP_ETIMEDOUT);
        double el = mpt_now() - t0;
        assert_true(el >= 0.29 && el < 0.3 + MPT_SLACK);
        /* Held again after the wait. */
        assert_int_equal(mp_condition_notify(c, 1), 0);
        assert_int_equal(mp_condition_release(c), 0);
        assert_int_equal(mp_condition_notify(c, 1), MP_ESTATE);
    }
    mp_condition_free(cs[0]);
    mp_condition_free(cs[1]);
    mp_lock_free(l);
}

/* Child holding the condition's plain lock: the parent may not wait on or
 * notify it (it does not hold it), even though it could release it. */
static int hold_until_told(void *arg)
{
    struct shared *s = arg;
    if (mp_condition_acquire(s->c, 5) != 0)
        return 1;
    atomic_store(&s->waiting, 1);
    return mpt_wait_atomic(&s->woke, 1, 10) ? 0 : 9;
}

static void test_condition_held_by_another_process_is_not_ours(void **state)
{
    (void)state;
    mp_lock *l = mp_lock_new();
    struct shared *s = new_shared(l);
    pid_t pid = mpt_fork(hold_until_told, s);
    assert_true(mpt_wait_atomic(&s->waiting, 1, 10));
    assert_int_equal(mp_condition_wait(s->c, 0), MP_ESTATE);
    assert_int_equal(mp_condition_notify(s->c, 1), MP_ESTATE);
    atomic_store(&s->woke, 1);
    assert_int_equal(mpt_wait(pid), 0);
    free_shared(s);
    mp_lock_free(l);
}

static void test_condition_notify_wakes_exactly_n(void **state)
{
    (void)state;
    struct shared *s = new_shared(NULL);
    pid_t pids[4];
    for (int i = 0; i < 4; i++)
        pids[i] = mpt_fork(waiter_child, s);
    assert_true(wait_queued(s, 4));
    /* Nobody wakes unprompted: each waiter has run since (its periodic
     * look) and gone back to sleep without returning. */
    assert_int_equal(mpt_wait_settled(pids, 4, 10), 0);
    assert_int_equal(atomic_load(&s->woke), 0);

    assert_int_equal(mp_condition_acquire(s->c, 1), 0);
    assert_int_equal(mp_condition_notify(s->c, 2), 0);
    assert_int_equal(mp_condition_release(s->c), 0);
    assert_true(mpt_wait_atomic(&s->woke, 2, 10));
    /* And no more than 2: the two woken ones end, the other two have run
     * since and sleep again, still waiting. */
    assert_int_equal(mpt_wait_settled(pids, 4, 10), 2);
    assert_int_equal(atomic_load(&s->woke), 2);

    assert_int_equal(mp_condition_acquire(s->c, 1), 0);
    assert_int_equal(mp_condition_notify_all(s->c), 0);
    assert_int_equal(mp_condition_release(s->c), 0);
    double t0 = mpt_now();
    for (int i = 0; i < 4; i++)
        assert_int_equal(mpt_wait(pids[i]), 0);
    assert_true(mpt_now() - t0 < MPT_SLACK);
    assert_int_equal(atomic_load(&s->woke), 4);
    free_shared(s);
}

/* A waiter killed inside wait neither hangs the others nor takes a notify
 * meant for a live waiter. The first waiter queued is the one killed. */
static void test_condition_killed_waiter_swallows_no_notify(void **state)
{
    (void)state;
    struct shared *s = new_shared(NULL);
    pid_t doomed = mpt_fork(waiter_child, s);
    assert_true(wait_queued(s, 1));
    pid_t live[2] = {mpt_fork(waiter_child, s), 0};
    assert_true(wait_queued(s, 2));
    kill(doomed, SIGKILL);
    assert_true(mpt_wait_zombie(10)); /* dead, not reaped */

    assert_int_equal(mp_condition_acquire(s->c, 1), 0);
    assert_int_equal(mp_condition_notify(s->c, 1), 0);
    assert_int_equal(mp_condition_release(s->c), 0);
    double t0 = mpt_now();
    assert_int_equal(mpt_wait(live[0]), 0);
    assert_true(mpt_now() - t0 < MPT_SLACK);

    /* notify_all with a dead waiter left behind, and one more live. */
    live[1] = mpt_fork(waiter_child, s);
    assert_true(wait_queued(s, 3));
    pid_t doomed2 = mpt_fork(waiter_child, s);
    assert_true(wait_queued(s, 4));
    kill(doomed2, SIGKILL);
    assert_int_equal(mpt_wait(doomed2), 128 + SIGKILL); /* this one reaped */
    t0 = mpt_now();
    assert_int_equal(mp_condition_acquire(s->c, 1), 0);
    assert_int_equal(mp_condition_notify_all(s->c), 0);
    assert_int_equal(mp_condition_release(s->c), 0);
    assert_int_equal(mpt_wait(live[1]), 0);
    assert_true(mpt_now() - t0 < MPT_SLACK);
    assert_int_equal(mpt_wait(doomed), 128 + SIGKILL);
    assert_int_equal(atomic_load(&s->woke), 2);
    free_shared(s);
}

/* A timed-out waiter takes itself off the list: a later notify(1) goes to
 * the live waiter behind it. */
static int short_waiter_child(void *arg)
{
    struct shared *s = arg;
    if (mp_condition_acquire(s->c, 5) != 0)
        return 1;
    atomic_fetch_add(&s->waiting, 1);
    int rc = mp_condition_wait(s->c, 0.2);
    if (rc == MP_ETIMEDOUT)
        atomic_fetch_add(&s->timed, 1);
    mp_condition_release(s->c);
    return rc == MP_ETIMEDOUT ? 0 : 1;
}

static void test_condition_timed_out_waiter_leaves_queue(void **state)
{
    (void)state;
    struct shared *s = new_shared(NULL);
    pid_t early = mpt_fork(short_waiter_child, s);
    assert_true(wait_queued(s, 1));
    pid_t later = mpt_fork(waiter_child, s);
    assert_true(wait_queued(s, 2));
    assert_int_equal(mpt_wait(early), 0);
    assert_int_equal(mp_condition_acquire(s->c, 1), 0);
    assert_int_equal(mp_condition_notify(s->c, 1), 0);
    assert_int_equal(mp_condition_release(s->c), 0);
    assert_int_equal(mpt_wait(later), 0);
    assert_int_equal(atomic_load(&s->woke), 1);
    assert_int_equal(atomic_load(&s->timed), 1);
    free_shared(s);
}

static int ready_checks; /* calls of value_is_ready, in the parent */

static bool value_is_ready(void *arg)
{
    ready_checks++;
    return ((struct shared *)arg)->value == 7;
}

/* Sets 5, 6, then 7, notifying each time. Its first acquire waits for the
 * parent's wait_for to let go of the lock; after each set it waits until
 * the parent has run and sleeps again, so the parent sees every value. */
static int setter_child(void *arg)
{
    struct shared *s = arg;
    pid_t parent = getppid();
    for (int v = 5; v <= 7; v++) {
        mp_condition_acquire(s->c, MP_FOREVER);
        s->value = v;
        mp_condition_notify_all(s->c);
        mp_condition_release(s->c);
        if (v < 7 && !mpt_wait_asleep_again(parent, 10))
            return 1;
    }
    return 0;
}

static void test_condition_wait_for_predicate(void **state)
{
    (void)state;
    struct shared *s = new_shared(NULL);
    assert_int_equal(mp_condition_wait_for(s->c, value_is_ready, s, 1), MP_ESTATE);
    assert_int_equal(mp_condition_acquire(s->c, 0), 0);
    assert_int_equal(mp_condition_wait_for(s->c, value_is_ready, s, NAN), MP_EINVAL);
    double t0 = mpt_now();
    assert_int_equal(mp_condition_wait_for(s->c, value_is_ready, s, 0.3), MP_ETIMEDOUT);
    double el = mpt_now() - t0;
    assert_true(el >= 0.29 && el < 0.3 + MPT_SLACK);

    pid_t pid = mpt_fork(setter_child, s);
    ready_checks = 0;
    assert_int_equal(mp_condition_wait_for(s->c, value_is_ready, s, 5), 0);
    assert_int_equal(s->value, 7);
    assert_true(ready_checks >= 4); /* 0, 5 and 6 were not ready, 7 was */
    /* True already: returns at once, even with no time given. */
    assert_int_equal(mp_condition_wait_for(s->c, value_is_ready, s, 0), 0);
    assert_int_equal(mp_condition_release(s->c), 0);
    assert_int_equal(mpt_wait(pid), 0);
    free_shared(s);
}

/* wait releases every level of the condition's own RLock (another
 * process gets the lock meanwhile) and restores them. */
static int bump_child(void *arg)
{
    struct shared *s = arg;
    if (mp_condition_acquire(s->c, 5) != 0)
        return 1;
    s->value = 99;
    mp_condition_notify(s->c, 1);
    return mp_condition_release(s->c) == 0 ? 0 : 2;
}

static void test_condition_wait_releases_all_rlock_levels(void **state)
{
    (void)state;
    struct shared *s = new_shared(NULL);
    for (int i = 0; i < 3; i++)
        assert_int_equal(mp_condition_acquire(s->c, 0), 0);
    pid_t pid = mpt_fork(bump_child, s);
    assert_int_equal(mp_condition_wait(s->c, 5), 0);
    assert_int_equal(s->value, 99);
    assert_int_equal(mpt_wait(pid), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(mp_condition_release(s->c), 0);
    assert_int_equal(mp_condition_release(s->c), MP_ENOTOWNER);
    free_shared(s);
}

/* Takes the lock while the parent waits, and dies holding it. */
static int die_holding_child(void *arg)
{
    struct shared *s = arg;
    if (mp_condition_acquire(s->c, 5) != 0)
        return 1;
    raise(SIGKILL);
    return 2;
}

static void test_condition_wait_takes_lock_back_from_dead_holder(void **state)
{
    (void)state;
    struct shared *s = new_shared(NULL);
    assert_int_equal(mp_condition_acquire(s->c, 0), 0);
    pid_t pid = mpt_fork(die_holding_child, s);
    double t0 = mpt_now();
    assert_int_equal(mp_condition_wait(s->c, 0.3), MP_EOWNERDEAD);
    double el = mpt_now() - t0;
    assert_true(el >= 0.29 && el < 0.3 + MPT_SLACK);
    /* Held by us again, at our depth. */
    assert_int_equal(mp_condition_notify(s->c, 1), 0);
    assert_int_equal(mp_condition_release(s->c), 0);
    assert_int_equal(mp_condition_release(s->c), MP_ENOTOWNER);
    assert_int_equal(mpt_wait(pid), 128 + SIGKILL);
    free_shared(s);
}

/* A waiter thread, and its kernel thread id once it runs. */
struct waiter_thread_arg {
    struct shared *s;
    _Atomic pid_t tid;
};

static void *waiter_thread(void *arg)
{
    struct waiter_thread_arg *w = arg;
    atomic_store(&w->tid, gettid());
    return (void *)(intptr_t)waiter_child(w->s);
}

static void test_condition_between_threads(void **state)
{
    (void)state;
    mp_lock *l = mp_lock_new();
    struct shared *s = new_shared(l);
    pthread_t t[3];
    struct waiter_thread_arg w[3];
    for (int i = 0; i < 3; i++) {
        w[i] = (struct waiter_thread_arg){.s = s};
        pthread_create(&t[i], NULL, waiter_thread, &w[i]);
    }
    assert_true(wait_queued(s, 3));
    mp_condition_acquire(s->c, 1);
    mp_condition_notify(s->c, 1);
    mp_condition_release(s->c);
    assert_true(mpt_wait_atomic(&s->woke, 1, 10));
    /* One thread woken: it ends; the other two have run since and wait. */
    pid_t tids[3];
    for (int i = 0; i < 3; i++)
        tids[i] = atomic_load(&w[i].tid);
    assert_int_equal(mpt_wait_settled(tids, 3, 10), 1);
    assert_int_equal(atomic_load(&s->woke), 1);
    mp_condition_acquire(s->c, 1);
    mp_condition_notify_all(s->c);
    mp_condition_release(s->c);
    for (int i = 0; i < 3; i++) {
        void *rc;
        pthread_join(t[i], &rc);
        assert_int_equal((intptr_t)rc, 0);
    }
    free_shared(s);
    mp_lock_free(l);
}

/* A notify's wake goes out with the notifier's release, whichever call
 * releases: each side of a ping-pong flips the turn, notifies and lets go
 * with mp_lock_release (a plain lock) or mp_condition_release (the own
 * RLock, two levels deep). Were a wake left to the waiter's periodic
 * re-check (0.1 s), 60 hand-offs would take 6 s. */
struct pingpong {
    mp_condition *c;
    mp_lock *lock;   /* the condition's lock, or NULL for its own */
    _Atomic int turn; /* whose move: 0 parent, 1 child; under the lock */
    _Atomic int waits; /* hand-offs where the receiver was asleep in wait */
};

enum { HANDOFFS = 60 };

static int pingpong_side(struct pingpong *p, int me)
{
    for (int i = 0; i < HANDOFFS / 2; i++) {
        if (mp_condition_acquire(p->c, 5) != 0)
            return 1;
        if (p->lock == NULL && mp_condition_acquire(p->c, 5) != 0)
            return 1;
        while (atomic_load(&p->turn) != me) {
            atomic_fetch_add(&p->waits, 1);
            if (mp_condition_wait(p->c, 5) != 0)
                return 2;
        }
        atomic_store(&p->turn, !me);
        if (mp_condition_notify(p->c, 1) != 0)
            return 3;
        if (p->lock != NULL) {
            if (mp_lock_release(p->lock) != 0)
                return 4;
        } else if (mp_condition_release(p->c) != 0 || mp_condition_release(p->c) != 0) {
            return 4;
        }
    }
    return 0;
}

static int pingpong_child(void *arg)
{
    return pingpong_side(arg, 1);
}

static void test_condition_wake_goes_out_with_any_release(void **state)
{
    (void)state;
    for (int own = 0; own < 2; own++) {
        struct pingpong *p = mp_shared_calloc(1, sizeof *p);
        assert_non_null(p);
        p->lock = own ? NULL : mp_lock_new();
        p->c = mp_condition_new(p->lock);
        assert_non_null(p->c);
        double t0 = mpt_now();
        pid_t pid = mpt_fork(pingpong_child, p);
        assert_int_equal(pingpong_side(p, 0), 0);
        assert_int_equal(mpt_wait(pid), 0);
        double el = mpt_now() - t0;
        assert_true(atomic_load(&p->waits) > 0);
        assert_true(el < 3.0); /* half what periodic re-checks would take */
        mp_condition_free(p->c);
        mp_lock_free(p->lock);
        mp_shared_free(p);
    }
}

/* A notifier that holds on to the lock: the waiter returns (notified)
 * only once the lock is released, however long that takes. */
static void test_condition_notified_waiter_waits_for_the_release(void **state)
{
    (void)state;
    struct shared *s = new_shared(NULL);
    pid_t pid = mpt_fork(waiter_child, s);
    assert_true(wait_queued(s, 1));
    assert_int_equal(mp_condition_acquire(s->c, 1), 0);
    assert_int_equal(mp_condition_notify(s->c, 1), 0);
    /* The waiter has run since the notify (its periodic look) and sleeps
     * again: it does not return while we hold the lock. */
    assert_true(mpt_wait_asleep_again(pid, 10));
    assert_int_equal(atomic_load(&s->woke), 0);
    assert_int_equal(mp_condition_release(s->c), 0);
    double t0 = mpt_now();
    assert_int_equal(mpt_wait(pid), 0);
    assert_true(mpt_now() - t0 < MPT_SLACK);
    assert_int_equal(atomic_load(&s->woke), 1);
    free_shared(s);
}

/* Notifies and dies before releasing the lock. */
static int notify_and_die_child(void *arg)
{
    struct shared *s = arg;
    if (mp_condition_acquire(s->c, 5) != 0)
        return 1;
    mp_condition_notify(s->c, 1);
    raise(SIGKILL);
    return 2;
}

/* A notifier killed between its notify and its release never sends the
 * wake it deferred to the release: the waiter still wakes, takes the dead
 * holder's lock back and says so, within the 0.2 s of the death rule. */
static void test_condition_notifier_killed_before_release(void **state)
{
    (void)state;
    mp_lock *l = mp_lock_new();
    for (int own = 0; own < 2; own++) {
        struct shared *s = new_shared(own ? NULL : l);
        assert_int_equal(mp_condition_acquire(s->c, 0), 0);
        pid_t pid = mpt_fork(notify_and_die_child, s);
        double t0 = mpt_now();
        assert_int_equal(mp_condition_wait(s->c, 10), MP_EOWNERDEAD);
        assert_true(mpt_now() - t0 < 0.2 + MPT_SLACK);
        assert_int_equal(mpt_wait(pid), 128 + SIGKILL);
        assert_int_equal(mp_condition_release(s->c), 0);
        free_shared(s);
    }
    mp_lock_free(l);
}

/* Releases the condition's plain lock, which the parent holds, once told
 * (Python lets any process release a Lock). Started before the parent's
 * notify, so it knows nothing of it. */
static int release_child(void *arg)
{
    struct shared *s = arg;
    if (!mpt_wait_atomic(&s->timed, 1, 10))
        return 9;
    return mp_lock_release(s->lock) == 0 ? 0 : 1;
}

/* The notifier leaves the release of its plain lock to another process:
 * the notified waiter is not lost, and wakes promptly. */
static void test_condition_lock_released_by_another_process(void **state)
{
    (void)state;
    mp_lock *l = mp_lock_new();
    struct shared *s = new_shared(l);
    s->lock = l;
    pid_t waiter = mpt_fork(waiter_child, s);
    pid_t releaser = mpt_fork(release_child, s);
    assert_true(wait_queued(s, 1));
    assert_int_equal(mp_condition_acquire(s->c, 1), 0);
    assert_int_equal(mp_condition_notify(s->c, 1), 0);
    double t0 = mpt_now();
    atomic_store(&s->timed, 1); /* the releaser's cue */
    assert_int_equal(mpt_wait(releaser), 0);
    assert_int_equal(mpt_wait(waiter), 0);
    assert_true(mpt_now() - t0 < 0.2 + MPT_SLACK);
    assert_int_equal(atomic_load(&s->woke), 1);
    /* Our own next release (the deferred wake is still ours to send, now
     * spurious) disturbs nobody. */
    assert_int_equal(mp_condition_acquire(s->c, 1), 0);
    assert_int_equal(mp_condition_release(s->c), 0);
    free_shared(s);
    mp_lock_free(l);
}

/* notify_all wakes every waiter, more than a thread keeps deferred. */
static void test_condition_notify_all_wakes_many_threads(void **state)
{
    (void)state;
    enum { N = 80 };
    struct shared *s = new_shared(NULL);
    pthread_t t[N];
    static struct waiter_thread_arg w[N];
    for (int i = 0; i < N; i++) {
        w[i] = (struct waiter_thread_arg){.s = s};
        assert_int_equal(pthread_create(&t[i], NULL, waiter_thread, &w[i]), 0);
    }
    assert_true(wait_queued(s, N));
    assert_int_equal(mp_condition_acquire(s->c, 1), 0);
    assert_int_equal(mp_condition_notify_all(s->c), 0);
    assert_int_equal(mp_condition_release(s->c), 0);
    double t0 = mpt_now();
    for (int i = 0; i < N; i++) {
        void *rc;
        pthread_join(t[i], &rc);
        assert_int_equal((intptr_t)rc, 0);
    }
    assert_true(mpt_now() - t0 < 3.0);
    assert_int_equal(atomic_load(&s->woke), N);
    free_shared(s);
}

static void test_condition_wait_survives_signals(void **state)
{
    (void)state;
    struct shared *s = new_shared(NULL);
    mpt_alarms_start(50000);

    mp_condition_acquire(s->c, 0);
    double t0 = mpt_now();
    int rc = mp_condition_wait(s->c, 0.5);
    double el = mpt_now() - t0;
    mpt_alarms_stop();
    assert_int_equal(rc, MP_ETIMEDOUT);
    assert_true(el >= 0.49 && el < 0.5 + MPT_SLACK);
    assert_true(mpt_alarms_count() >= 5);
    assert_int_equal(mp_condition_release(s->c), 0);
    free_shared(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        mpt_test(test_condition_bad_input_and_ownership),
        mpt_test(test_condition_held_by_another_process_is_not_ours),
        mpt_test(test_condition_notify_wakes_exactly_n),
        mpt_test(test_condition_killed_waiter_swallows_no_notify),
        mpt_test(test_condition_timed_out_waiter_leaves_queue),
        mpt_test(test_condition_wait_for_predicate),
        mpt_test(test_condition_wait_releases_all_rlock_levels),
        mpt_test(test_condition_wait_takes_lock_back_from_dead_holder),
        mpt_test(test_condition_between_threads),
        mpt_test(test_condition_wait_survives_signals),
        mpt_test(test_condition_wake_goes_out_with_any_release),
        mpt_test(test_condition_notified_waiter_waits_for_the_release),
        mpt_test(test_condition_notifier_killed_before_release),
        mpt_test(test_condition_lock_released_by_another_process),
        mpt_test(test_condition_notify_all_wakes_many_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
