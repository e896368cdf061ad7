/* test_sync_lock.c - Lock and RLock: exclusion across processes, Python's
 * release rules, timeouts, signals, and recovery from a killed holder. */
/* ctest-timeout: 90 */
#include "mp_test.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>

/* State the tests share with their children, in the shared heap. */
struct shared {
    mp_lock *lock;
    mp_rlock *rlock;
    mp_condition *cond;
    _Atomic int ready;
    long counter;
};

static struct shared *new_shared(void)
{
    struct shared *s = mp_shared_calloc(1, sizeof *s);
    assert_non_null(s);
    return s;
}

static void test_lock_bad_input(void **state)
{
    (void)state;
    mp_lock *l = mp_lock_new();
    assert_non_null(l);
    assert_int_equal(mp_lock_acquire(NULL, 1), MP_EINVAL);
    assert_int_equal(mp_lock_release(NULL), MP_EINVAL);
    assert_int_equal(mp_lock_acquire(l, NAN), MP_EINVAL);
    assert_int_equal(mp_lock_release(l), MP_EVALUE); /* unlocked: nothing changed */
    assert_int_equal(mp_lock_acquire(l, 0), 0);
    assert_int_equal(mp_lock_acquire(l, NAN), MP_EINVAL);
    assert_int_equal(mp_lock_release(l), 0);
    assert_int_equal(mp_lock_release(l), MP_EVALUE);
    mp_lock_free(l);
    mp_lock_free(NULL);

    mp_rlock *r = mp_rlock_new();
    assert_non_null(r);
    assert_int_equal(mp_rlock_acquire(NULL, 1), MP_EINVAL);
    assert_int_equal(mp_rlock_release(NULL), MP_EINVAL);
    assert_int_equal(mp_rlock_acquire(r, NAN), MP_EINVAL);
    assert_int_equal(mp_rlock_release(r), MP_ENOTOWNER);
    mp_rlock_free(r);
    mp_rlock_free(NULL);
}

static int count_child(void *arg)
{
    struct shared *s = arg;
    for (int i = 0; i < 100000; i++) {
        if (mp_lock_acquire(s->lock, 10) != 0)
            return 1;
        s->counter++;
        if (mp_lock_release(s->lock) != 0)
            return 2;
    }
    return 0;
}

static void test_lock_excludes_across_processes(void **state)
{
    (void)state;
    struct shared *s = new_shared();
    s->lock = mp_lock_new();
    pid_t pids[4];
    for (int i = 0; i < 4; i++)
        pids[i] = mpt_fork(count_child, s);
    for (int i = 0; i < 4; i++)
        assert_int_equal(mpt_wait(pids[i]), 0);
    assert_int_equal(s->counter, 400000);
    mp_lock_free(s->lock);
    mp_shared_free(s);
}

/* Holds the lock (or rlock) for the parent, then waits to be killed or
 * told to release. */
static int hold_child(void *arg)
{
    struct shared *s = arg;
    if (s->lock != NULL && mp_lock_acquire(s->lock, 5) != 0)
        return 1;
    if (s->rlock != NULL &&
        (mp_rlock_acquire(s->rlock, 5) != 0 || mp_rlock_acquire(s->rlock, 5) != 0))
        return 1;
    if (s->cond != NULL && mp_condition_acquire(s->cond, 5) != 0)
        return 1;
    atomic_store(&s->ready, 1);
    /* Bounded, so that a failed test never leaves us behind. */
    return mpt_wait_atomic(&s->ready, 2, 20) ? 0 : 9;
}

static void test_lock_acquire_times_out_on_time(void **state)
{
    (void)state;
    struct shared *s = new_shared();
    s->lock = mp_lock_new();
    pid_t pid = mpt_fork(hold_child, s);
    assert_true(mpt_wait_atomic(&s->ready, 1, 10));

    /* No time given: a try, which never sleeps. */
    double t0 = mpt_now();
    mpt_assert_never_sleeps(assert_int_equal(mp_lock_acquire(s->lock, 0), MP_ETIMEDOUT));
    assert_true(mpt_now() - t0 < MPT_SLACK);
    t0 = mpt_now();
    assert_int_equal(mp_lock_acquire(s->lock, 0.3), MP_ETIMEDOUT);
    double el = mpt_now() - t0;
    assert_true(el >= 0.29 && el < 0.3 + MPT_SLACK);
    t0 = mpt_now();
    mpt_assert_never_sleeps(assert_int_equal(mp_lock_acquire(s->lock, -1), MP_ETIMEDOUT));
    assert_true(mpt_now() - t0 < MPT_SLACK);

    atomic_store(&s->ready, 2);
    assert_int_equal(mpt_wait(pid), 0);
    /* The child exited holding the lock; the parent releases it (any
     * process may), then takes it at once. */
    assert_int_equal(mp_lock_release(s->lock), 0);
    assert_int_equal(mp_lock_acquire(s->lock, 0), 0);
    assert_int_equal(mp_lock_release(s->lock), 0);
    mp_lock_free(s->lock);
    mp_shared_free(s);
}

/* The manager pattern: a child acquires, the parent releases. */
static void test_lock_released_by_another_process(void **state)
{
    (void)state;
    struct shared *s = new_shared();
    s->lock = mp_lock_new();
    assert_int_equal(mp_lock_acquire(s->lock, 0), 0);
    pid_t pid = mpt_fork(hold_child, s);
    /* The child waits for us: asleep in its acquire, and still so after it
     * has looked again (the wait layer's periodic look). */
    assert_true(mpt_wait_asleep(pid, 10));
    assert_true(mpt_wait_asleep_again(pid, 10));
    assert_int_equal(atomic_load(&s->ready), 0);
    assert_int_equal(mp_lock_release(s->lock), 0);
    assert_true(mpt_wait_atomic(&s->ready, 1, 10)); /* now the child holds it */
    assert_int_equal(mp_lock_acquire(s->lock, 0), MP_ETIMEDOUT);
    assert_int_equal(mp_lock_release(s->lock), 0); /* the child's hold, released by us */
    assert_int_equal(mp_lock_acquire(s->lock, 0), 0);
    assert_int_equal(mp_lock_release(s->lock), 0);
    assert_int_equal(mp_lock_release(s->lock), MP_EVALUE);
    atomic_store(&s->ready, 2);
    assert_int_equal(mpt_wait(pid), 0);
    mp_lock_free(s->lock);
    mp_shared_free(s);
}

static void *release_thread(void *arg)
{
    return (void *)(intptr_t)mp_lock_release(arg);
}

static void test_lock_released_by_another_thread(void **state)
{
    (void)state;
    mp_lock *l = mp_lock_new();
    assert_int_equal(mp_lock_acquire(l, 0), 0);
    pthread_t t;
    void *rc;
    pthread_create(&t, NULL, release_thread, l);
    pthread_join(t, &rc);
    assert_int_equal((intptr_t)rc, 0);
    assert_int_equal(mp_lock_acquire(l, 0), 0);
    assert_int_equal(mp_lock_release(l), 0);
    mp_lock_free(l);
}

/* kill_holder forks hold_child, waits until it holds, SIGKILLs it and
 * returns its pid unreaped (a zombie). */
static pid_t kill_holder(struct shared *s)
{
    pid_t pid = mpt_fork(hold_child, s);
    assert_true(mpt_wait_atomic(&s->ready, 1, 10));
    kill(pid, SIGKILL);
    return pid;
}

static void test_lock_dead_holder_gives_ownerdead(void **state)
{
    (void)state;
    struct shared *s = new_shared();
    s->lock = mp_lock_new();
    pid_t pid = kill_holder(s);
    double t0 = mpt_now();
    assert_int_equal(mp_lock_acquire(s->lock, 5), MP_EOWNERDEAD);
    assert_true(mpt_now() - t0 < 0.2 + MPT_SLACK);
    assert_int_equal(mpt_count_zombies(), 1); /* recovered before the reap */
    /* Held by us now, plainly. */
    assert_int_equal(mp_lock_acquire(s->lock, 0), MP_ETIMEDOUT);
    assert_int_equal(mp_lock_release(s->lock), 0);
    assert_int_equal(mp_lock_acquire(s->lock, 0), 0);
    assert_int_equal(mp_lock_release(s->lock), 0);
    assert_int_equal(mpt_wait(pid), 128 + SIGKILL);

    /* A try-acquire recovers too, and so does a plain release. */
    atomic_store(&s->ready, 0);
    pid = kill_holder(s);
    assert_true(mpt_wait_zombie(10));
    assert_int_equal(mp_lock_acquire(s->lock, 0), MP_EOWNERDEAD);
    assert_int_equal(mp_lock_release(s->lock), 0);
    assert_int_equal(mpt_wait(pid), 128 + SIGKILL);

    atomic_store(&s->ready, 0);
    pid = kill_holder(s);
    assert_int_equal(mpt_wait(pid), 128 + SIGKILL);
    assert_int_equal(mp_lock_release(s->lock), 0);
    assert_int_equal(mp_lock_acquire(s->lock, 0), 0);
    assert_int_equal(mp_lock_release(s->lock), 0);
    mp_lock_free(s->lock);
    mp_shared_free(s);
}

static void test_rlock_recursion(void **state)
{
    (void)state;
    mp_rlock *r = mp_rlock_new();
    for (int i = 0; i < 3; i++)
        assert_int_equal(mp_rlock_acquire(r, 0), 0);
    assert_int_equal(mp_rlock_release(r), 0);
    assert_int_equal(mp_rlock_release(r), 0);
    assert_int_equal(mp_rlock_acquire(r, 0), 0);
    assert_int_equal(mp_rlock_release(r), 0);
    assert_int_equal(mp_rlock_release(r), 0);
    assert_int_equal(mp_rlock_release(r), MP_ENOTOWNER);
    mp_rlock_free(r);
}

/* Child: releasing the parent's rlock fails, and it cannot take it. */
static int rlock_foreign_child(void *arg)
{
    struct shared *s = arg;
    if (mp_rlock_release(s->rlock) != MP_ENOTOWNER)
        return 1;
    if (mp_rlock_acquire(s->rlock, 0.1) != MP_ETIMEDOUT)
        return 2;
    return 0;
}

static void *rlock_foreign_thread(void *arg)
{
    mp_rlock *r = arg;
    intptr_t rc = 0;
    if (mp_rlock_release(r) != MP_ENOTOWNER)
        rc = 1;
    else if (mp_rlock_acquire(r, 0) != MP_ETIMEDOUT)
        rc = 2;
    return (void *)rc;
}

static void test_rlock_release_by_non_owner_fails(void **state)
{
    (void)state;
    struct shared *s = new_shared();
    s->rlock = mp_rlock_new();
    assert_int_equal(mp_rlock_acquire(s->rlock, 0), 0);
    assert_int_equal(mp_rlock_acquire(s->rlock, 0), 0);
    /* A forked child is another process: it does not own the rlock. */
    assert_int_equal(mpt_wait(mpt_fork(rlock_foreign_child, s)), 0);
    pthread_t t;
    void *rc;
    pthread_create(&t, NULL, rlock_foreign_thread, s->rlock);
    pthread_join(t, &rc);
    assert_int_equal((intptr_t)rc, 0);
    /* Still held twice by us. */
    assert_int_equal(mp_rlock_release(s->rlock), 0);
    assert_int_equal(mp_rlock_release(s->rlock), 0);
    assert_int_equal(mp_rlock_release(s->rlock), MP_ENOTOWNER);
    mp_rlock_free(s->rlock);
    mp_shared_free(s);
}

static void test_rlock_dead_owner_gives_ownerdead(void **state)
{
    (void)state;
    struct shared *s = new_shared();
    s->rlock = mp_rlock_new();
    pid_t pid = kill_holder(s); /* held twice when killed */
    double t0 = mpt_now();
    assert_int_equal(mp_rlock_acquire(s->rlock, 5), MP_EOWNERDEAD);
    assert_true(mpt_now() - t0 < 0.2 + MPT_SLACK);
    assert_int_equal(mpt_count_zombies(), 1);
    /* Ours at depth 1: one release frees it. */
    assert_int_equal(mp_rlock_release(s->rlock), 0);
    assert_int_equal(mp_rlock_release(s->rlock), MP_ENOTOWNER);
    assert_int_equal(mpt_wait(pid), 128 + SIGKILL);
    mp_rlock_free(s->rlock);
    mp_shared_free(s);
}

static void test_condition_lock_dead_holder_gives_ownerdead(void **state)
{
    (void)state;
    struct shared *s = new_shared();
    /* The condition's own recursive lock... */
    s->cond = mp_condition_new(NULL);
    pid_t pid = kill_holder(s);
    double t0 = mpt_now();
    assert_int_equal(mp_condition_acquire(s->cond, 5), MP_EOWNERDEAD);
    assert_true(mpt_now() - t0 < 0.2 + MPT_SLACK);
    assert_int_equal(mp_condition_notify_all(s->cond), 0); /* held by us */
    assert_int_equal(mp_condition_release(s->cond), 0);
    assert_int_equal(mpt_wait(pid), 128 + SIGKILL);
    mp_condition_free(s->cond);

    /* ...and a lock given to it. */
    mp_lock *l = mp_lock_new();
    s->cond = mp_condition_new(l);
    atomic_store(&s->ready, 0);
    pid = kill_holder(s);
    t0 = mpt_now();
    assert_int_equal(mp_condition_acquire(s->cond, 5), MP_EOWNERDEAD);
    assert_true(mpt_now() - t0 < 0.2 + MPT_SLACK);
    assert_int_equal(mp_condition_release(s->cond), 0);
    assert_int_equal(mpt_wait(pid), 128 + SIGKILL);
    mp_condition_free(s->cond);
    mp_lock_free(l);
    mp_shared_free(s);
}

/* A lock made after the child started reaches it as a pointer in a pipe. */
static int pipe_fd[2];

static int late_lock_child(void *arg)
{
    (void)arg;
    struct shared *s;
    if (read(pipe_fd[0], &s, sizeof s) != sizeof s)
        return 1;
    if (mp_lock_acquire(s->lock, 0) != MP_ETIMEDOUT) /* the parent holds it */
        return 2;
    if (mp_lock_acquire(s->lock, 5) != 0)
        return 3;
    s->counter = 42;
    return mp_lock_release(s->lock) == 0 ? 0 : 4;
}

static void test_lock_made_after_fork_reaches_child(void **state)
{
    (void)state;
    assert_int_equal(pipe(pipe_fd), 0);
    pid_t pid = mpt_fork(late_lock_child, NULL);
    struct shared *s = new_shared();
    s->lock = mp_lock_new();
    assert_int_equal(mp_lock_acquire(s->lock, 0), 0);
    assert_int_equal(write(pipe_fd[1], &s, sizeof s), (ssize_t)sizeof s);
    /* The child has read the pointer, found the lock held and sleeps in
     * its blocking acquire: only then is it released. */
    assert_true(mpt_wait_asleep(pid, 10));
    assert_int_equal(mp_lock_release(s->lock), 0);
    assert_int_equal(mpt_wait(pid), 0);
    assert_int_equal(mp_lock_acquire(s->lock, 0), 0);
    assert_int_equal(s->counter, 42);
    assert_int_equal(mp_lock_release(s->lock), 0);
    close(pipe_fd[0]);
    close(pipe_fd[1]);
    mp_lock_free(s->lock);
    mp_shared_free(s);
}

static void test_lock_timeouts_survive_signals(void **state)
{
    (void)state;
    mp_lock *l = mp_lock_new();
    mp_rlock *r = mp_rlock_new();
    assert_int_equal(mp_lock_acquire(l, 0), 0);
    struct shared *s = new_shared();
    s->rlock = r;
    pid_t pid = mpt_fork(hold_child, s);
    assert_true(mpt_wait_atomic(&s->ready, 1, 10));

    mpt_alarms_start(50000);
    double t0 = mpt_now();
    assert_int_equal(mp_lock_acquire(l, 0.5), MP_ETIMEDOUT); /* not recursive */
    double el = mpt_now() - t0;
    assert_true(el >= 0.49 && el < 0.5 + MPT_SLACK);
    t0 = mpt_now();
    assert_int_equal(mp_rlock_acquire(r, 0.5), MP_ETIMEDOUT);
    el = mpt_now() - t0;
    mpt_alarms_stop();
    assert_true(el >= 0.49 && el < 0.5 + MPT_SLACK);
    assert_true(mpt_alarms_count() >= 5);

    atomic_store(&s->ready, 2);
    assert_int_equal(mpt_wait(pid), 0);
    assert_int_equal(mp_lock_release(l), 0);
    mp_lock_free(l);
    mp_rlock_free(r);
    mp_shared_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        mpt_test(test_lock_bad_input),
        mpt_test(test_lock_excludes_across_processes),
        mpt_test(test_lock_acquire_times_out_on_time),
        mpt_test(test_lock_released_by_another_process),
        mpt_test(test_lock_released_by_another_thread),
        mpt_test(test_lock_dead_holder_gives_ownerdead),
        mpt_test(test_rlock_recursion),
        mpt_test(test_rlock_release_by_non_owner_fails),
        mpt_test(test_rlock_dead_owner_gives_ownerdead),
        mpt_test(test_condition_lock_dead_holder_gives_ownerdead),
        mpt_test(test_lock_made_after_fork_reaches_child),
        mpt_test(test_lock_timeouts_survive_signals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
