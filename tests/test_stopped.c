/* test_stopped.c - a process stopped (SIGSTOP: a debugger, a freezer) in
 * the middle of a libmp call never makes another process's timed call
 * miss its deadline: inside a queue put or get (small and out-of-line
 * messages), the shared heap's allocator, a lock, a condition wait, a
 * barrier, a pool worker and the pool's supervisor. Each case stops a
 * busy participant at a random moment, 20 times, and checks that every
 * timed call made meanwhile returns success or its timeout code within
 * the timeout plus a second (a generous bound: a test, not a benchmark).
 *
 * Also: where /proc is hidden (a private mount namespace with a tmpfs
 * over it), a live lock holder is never taken for dead. */
/* ctest-timeout: 300 */
#include "mp_test.h"

#include <sched.h>
#include <sys/mount.h>

#define TRIES 20
#define SLACK 1.0 /* seconds past a timeout a call may take, on a loaded machine */

/* What the busy participant and the test share. */
struct shared {
    _Atomic int ops; /* operations the participant finished */
    mp_queue *q;
    mp_lock *lock;
    mp_condition *cond;
    mp_barrier *barrier;
    mp_pool *pool;
    _Atomic int worker_pid; /* a pool worker, as a task reports it */
};

static struct shared *sh;

/* Start fn(arg) in a child and stop it after it has done a few operations
 * more, wherever it is then. Returns its pid (stopped). */
static pid_t start_and_stop(int (*fn)(void *), void *arg)
{
    int target = atomic_load(&sh->ops) + 2 + rand() % 20;
    pid_t pid = mpt_fork(fn, arg);
    assert_true(pid > 0);
    double end = mpt_now() + 30.0;
    while (atomic_load(&sh->ops) < target && mpt_now() < end)
        usleep(50); /* a progress wait, not a synchronisation: the stop may land anywhere */
    assert_true(atomic_load(&sh->ops) >= target);
    kill(pid, SIGSTOP);
    int st;
    assert_int_equal(waitpid(pid, &st, WUNTRACED), pid);
    assert_true(WIFSTOPPED(st));
    return pid;
}

/* End a stopped participant for good. */
static void finish(pid_t pid)
{
    kill(pid, SIGKILL);
    kill(pid, SIGCONT);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
}

/* Run call() and check it returned 0 or want within timeout + SLACK. */
#define TIMED(call, timeout, want)                                                                 \
    do {                                                                                           \
        double t0_ = mpt_now();                                                                    \
        int rc_ = (call);                                                                          \
        double took_ = mpt_now() - t0_;                                                            \
        if (rc_ != 0 && rc_ != (want))                                                             \
            fail_msg("%s returned %s", #call, mp_err_name(rc_));                                   \
        if (took_ > (timeout) + SLACK)                                                             \
            fail_msg("%s took %.3f s for a timeout of %.3f s", #call, took_, (double)(timeout));   \
    } while (0)

/* ---- queue ---------------------------------------------------------------- */

struct qload {
    size_t len; /* message bytes */
};

/* Participant: put and get messages of len bytes, forever. */
static int queue_churn(void *arg)
{
    struct qload *l = arg;
    char *m = calloc(1, l->len), *b = malloc(l->len);
    if (m == NULL || b == NULL)
        return 2;
    for (;;) {
        size_t len;
        if (mp_queue_put(sh->q, m, l->len, MP_FOREVER) != 0)
            return 3;
        if (mp_queue_get(sh->q, b, l->len, &len, MP_FOREVER) != 0)
            return 4;
        atomic_fetch_add(&sh->ops, 1);
    }
}

static void queue_case(size_t len)
{
    struct qload l = {len};
    char *b = malloc(len);
    assert_non_null(b);
    for (int i = 0; i < TRIES; i++) {
        sh->q = mp_queue_new_opts(&(mp_queue_opts){.capacity = 256 * 1024});
        assert_non_null(sh->q);
        pid_t pid = start_and_stop(queue_churn, &l);
        size_t got;
        double t0 = mpt_now();
        (void)mp_queue_qsize(sh->q);
        (void)mp_queue_empty(sh->q);
        assert_true(mpt_now() - t0 < SLACK);
        TIMED(mp_queue_put_nowait(sh->q, "x", 1), 0, MP_EFULL);
        TIMED(mp_queue_put(sh->q, b, len, 0.2), 0.2, MP_EFULL);
        TIMED(mp_queue_get(sh->q, b, len, &got, 0.2), 0.2, MP_EEMPTY);
        TIMED(mp_queue_get_nowait(sh->q, b, len, &got), 0, MP_EEMPTY);
        TIMED(mp_queue_get(sh->q, b, len, &got, 0.2), 0.2, MP_EEMPTY);
        finish(pid);
        mp_queue_free(sh->q);
    }
    free(b);
}

static void test_stopped_inside_small_queue_calls(void **state)
{
    (void)state;
    queue_case(16);
}

static void test_stopped_inside_out_of_line_queue_calls(void **state)
{
    (void)state;
    queue_case(200 * 1024); /* over a quarter of the 256 KiB chunks */
}

/* A consumer stopped while it copies a message out holds that message's
 * record, and with it the release of its chunk; the chunks the other
 * consumers empty meanwhile must still go back to the heap, or a queue
 * grows by every message sent while one consumer is stopped. */

#define BIG_MSG (96u << 20) /* copied out for tens of milliseconds: room to stop in */

/* Participant: get one big message; ops says 1 while inside the get, 2
 * once it returned. */
static int get_big(void *arg)
{
    (void)arg;
    char *b = malloc(BIG_MSG);
    if (b == NULL)
        return 2;
    memset(b, 1, BIG_MSG); /* the copy out then faults no page of ours */
    size_t len;
    atomic_store(&sh->ops, 1);
    int rc = mp_queue_get(sh->q, b, BIG_MSG, &len, MP_FOREVER);
    atomic_store(&sh->ops, 2);
    return rc == 0 && len == BIG_MSG ? 0 : 3;
}

static bool queue_taken(void *arg)
{
    (void)arg;
    return mp_queue_qsize(sh->q) == 0;
}

static void test_stopped_getter_holds_back_its_chunk_only(void **state)
{
    (void)state;
    char *big = calloc(1, BIG_MSG);
    assert_non_null(big);
    for (int i = 0; i < 10; i++) {
        sh->q = mp_queue_new_opts(&(mp_queue_opts){.capacity = 64 * 1024});
        assert_non_null(sh->q);
        atomic_store(&sh->ops, 0);
        assert_int_equal(mp_queue_put(sh->q, big, BIG_MSG, MP_FOREVER), 0);
        pid_t pid = mpt_fork(get_big, NULL);
        assert_true(pid > 0);
        /* The get has taken the record once the queue reads empty; it
         * copies out after that. */
        assert_true(mpt_until(queue_taken, NULL, 30.0));
        kill(pid, SIGSTOP);
        int st;
        assert_int_equal(waitpid(pid, &st, WUNTRACED), pid);
        if (atomic_load(&sh->ops) != 1) { /* it was done already: again */
            finish(pid);
            mp_queue_free(sh->q);
            continue;
        }
        /* 4 MB through 64 KiB chunks: 64 chunks filled and emptied. */
        char msg[1000] = {0}, out[1000];
        size_t before = mpt_heap_in_use(), len;
        for (int k = 0; k < 4000; k++) {
            assert_int_equal(mp_queue_put(sh->q, msg, sizeof msg, 1.0), 0);
            assert_int_equal(mp_queue_get(sh->q, out, sizeof out, &len, 1.0), 0);
        }
        size_t grew = mpt_heap_in_use() - before;
        assert_true(atomic_load(&sh->ops) == 1); /* still stopped inside */
        /* The chunk the stopped get holds, the producers' chunk and a
         * few in between; not the 64 the messages went through. */
        if (grew > 8 * 64 * 1024)
            fail_msg("the heap grew by %zu bytes while a getter was stopped", grew);
        /* Resumed, it delivers the whole message. */
        kill(pid, SIGCONT);
        assert_int_equal(mpt_wait(pid), 0);
        mp_queue_free(sh->q);
        free(big);
        return;
    }
    free(big);
    skip(); /* never stopped inside the copy in 10 tries */
}

/* ---- heap ------------------------------------------------------------------ */

/* Participant: allocate and free blocks of every size class, forever. */
static int heap_churn(void *arg)
{
    (void)arg;
    void *keep[16] = {0};
    for (unsigned n = 0;; n++) {
        size_t size = (size_t)1 << (4 + n % 16); /* 16 B to 512 KiB */
        mp_shared_free(keep[n % 16]);
        keep[n % 16] = mp_shared_malloc(size);
        if (keep[n % 16] == NULL)
            return 2;
        atomic_fetch_add(&sh->ops, 1);
    }
}

static void test_stopped_inside_the_heap_allocator(void **state)
{
    (void)state;
    enum { BIG = 400 * 1024 };
    char *b = calloc(1, BIG);
    assert_non_null(b);
    sh->q = mp_queue_new(0);
    assert_non_null(sh->q);
    for (int i = 0; i < TRIES; i++) {
        pid_t pid = start_and_stop(heap_churn, NULL);
        size_t got;
        /* A message out of line needs a heap block. */
        TIMED(mp_queue_put(sh->q, b, BIG, 0.2), 0.2, MP_EFULL);
        TIMED(mp_queue_get(sh->q, b, BIG, &got, 0.2), 0.2, MP_EEMPTY);
        mp_heap_stats hs;
        double t0 = mpt_now();
        assert_int_equal(mp_shared_stats(&hs), 0);
        assert_true(mpt_now() - t0 < SLACK);
        finish(pid);
    }
    mp_queue_free(sh->q);
    free(b);
}

/* ---- lock, condition, barrier ------------------------------------------- */

static int lock_churn(void *arg)
{
    (void)arg;
    for (;;) {
        if (mp_lock_acquire(sh->lock, MP_FOREVER) != 0)
            return 2;
        atomic_fetch_add(&sh->ops, 1);
        mp_lock_release(sh->lock);
    }
}

static void test_stopped_while_holding_or_taking_a_lock(void **state)
{
    (void)state;
    sh->lock = mp_lock_new();
    assert_non_null(sh->lock);
    for (int i = 0; i < TRIES; i++) {
        pid_t pid = start_and_stop(lock_churn, NULL);
        for (int k = 0; k < 2; k++) {
            double t0 = mpt_now();
            int rc = mp_lock_acquire(sh->lock, 0.2);
            assert_true(mpt_now() - t0 < 0.2 + SLACK);
            /* Stopped is not dead: never taken over. */
            assert_true(rc == 0 || rc == MP_ETIMEDOUT);
            if (rc == 0)
                assert_int_equal(mp_lock_release(sh->lock), 0);
        }
        finish(pid);
        /* The stopped holder, now dead, may still hold it: taken over. */
        int rc = mp_lock_acquire(sh->lock, 5.0);
        assert_true(rc == 0 || rc == MP_EOWNERDEAD);
        mp_lock_release(sh->lock);
    }
    mp_lock_free(sh->lock);
}

static int cond_churn(void *arg)
{
    (void)arg;
    for (;;) {
        if (mp_condition_acquire(sh->cond, MP_FOREVER) != 0)
            return 2;
        int rc = mp_condition_wait(sh->cond, 0.001);
        mp_condition_notify(sh->cond, 1);
        mp_condition_release(sh->cond);
        if (rc != 0 && rc != MP_ETIMEDOUT)
            return 3;
        atomic_fetch_add(&sh->ops, 1);
    }
}

static void test_stopped_inside_a_condition_wait(void **state)
{
    (void)state;
    for (int i = 0; i < TRIES; i++) {
        sh->cond = mp_condition_new(NULL);
        assert_non_null(sh->cond);
        pid_t pid = start_and_stop(cond_churn, NULL);
        double t0 = mpt_now();
        int rc = mp_condition_acquire(sh->cond, 0.2);
        assert_true(mpt_now() - t0 < 0.2 + SLACK);
        assert_true(rc == 0 || rc == MP_ETIMEDOUT);
        if (rc == 0) {
            /* The stopped one waits (or is queued): notify it, then wait
             * ourselves; nobody can notify us, so we time out. */
            assert_int_equal(mp_condition_notify(sh->cond, 1), 0);
            TIMED(mp_condition_wait(sh->cond, 0.2), 0.2, MP_ETIMEDOUT);
            assert_int_equal(mp_condition_release(sh->cond), 0);
        }
        finish(pid);
        mp_condition_free(sh->cond);
    }
}

static int barrier_churn(void *arg)
{
    (void)arg;
    for (;;) {
        int rc = mp_barrier_wait(sh->barrier, 0.005);
        if (rc == MP_EBROKEN)
            mp_barrier_reset(sh->barrier);
        else if (rc < 0)
            return 2;
        atomic_fetch_add(&sh->ops, 1);
    }
}

static void test_stopped_inside_a_barrier_wait(void **state)
{
    (void)state;
    for (int i = 0; i < TRIES; i++) {
        sh->barrier = mp_barrier_new(2);
        assert_non_null(sh->barrier);
        pid_t pid = start_and_stop(barrier_churn, NULL);
        for (int k = 0; k < 2; k++) {
            double t0 = mpt_now();
            int rc = mp_barrier_wait(sh->barrier, 0.2);
            assert_true(mpt_now() - t0 < 0.2 + SLACK);
            assert_true(rc >= 0 || rc == MP_EBROKEN);
            double t1 = mpt_now();
            mp_barrier_reset(sh->barrier);
            (void)mp_barrier_n_waiting(sh->barrier);
            assert_true(mpt_now() - t1 < SLACK);
        }
        finish(pid);
        mp_barrier_free(sh->barrier);
    }
}

/* ---- pool ---------------------------------------------------------------- */

static int task_report_pid(const void *arg, void *result)
{
    (void)arg;
    (void)result;
    atomic_store(&sh->worker_pid, (int)getpid());
    return 0;
}

static int task_square(const void *arg, void *result)
{
    int64_t x;
    memcpy(&x, arg, sizeof x);
    x *= x;
    memcpy(result, &x, sizeof x);
    return 0;
}

/* The pool's supervisor: our only child while a pool is all we started. */
static pid_t only_child(void)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)getpid());
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    int pid = -1;
    if (fscanf(f, "%d", &pid) != 1)
        pid = -1;
    fclose(f);
    return pid;
}

/* apply_async returns at once and get keeps its timeout while a process
 * of the pool is stopped. */
static void pool_calls_keep_their_timeouts(void)
{
    for (int k = 0; k < 3; k++) {
        int64_t x = 7, y = 0;
        double t0 = mpt_now();
        mp_async *a = mp_pool_apply_async(sh->pool, task_square, &x, sizeof x, sizeof y, NULL);
        assert_true(mpt_now() - t0 < SLACK);
        assert_non_null(a);
        TIMED(mp_async_get(a, &y, 0.2), 0.2, MP_ETIMEDOUT);
        mp_async_free(a);
    }
}

static void test_stopped_pool_worker(void **state)
{
    (void)state;
    for (int i = 0; i < TRIES; i++) {
        sh->pool = mp_pool_new(2);
        assert_non_null(sh->pool);
        atomic_store(&sh->worker_pid, 0);
        assert_int_equal(mp_pool_apply(sh->pool, task_report_pid, NULL, 0, NULL, 0), 0);
        pid_t w = atomic_load(&sh->worker_pid);
        assert_true(w > 0);
        /* Keep it busy, then stop it wherever it is. */
        int64_t xs[64], ys[64];
        for (int k = 0; k < 64; k++)
            xs[k] = k;
        mp_async *busy =
            mp_pool_map_async(sh->pool, task_square, xs, 64, sizeof *xs, sizeof *ys, 1, NULL);
        assert_non_null(busy);
        kill(w, SIGSTOP);
        pool_calls_keep_their_timeouts();
        kill(w, SIGCONT);
        assert_int_equal(mp_async_wait(busy, 30.0), 0);
        mp_async_free(busy);
        mp_pool_free(sh->pool);
    }
}

static void test_stopped_pool_supervisor(void **state)
{
    (void)state;
    for (int i = 0; i < TRIES; i++) {
        sh->pool = mp_pool_new(2);
        assert_non_null(sh->pool);
        pid_t sup = only_child();
        assert_true(sup > 0);
        kill(sup, SIGSTOP);
        pool_calls_keep_their_timeouts();
        kill(sup, SIGCONT);
        mp_pool_free(sh->pool);
    }
}

/* ---- liveness without /proc --------------------------------------------- */

static int hold_lock_forever(void *arg)
{
    (void)arg;
    if (mp_lock_acquire(sh->lock, MP_FOREVER) != 0)
        return 2;
    atomic_fetch_add(&sh->ops, 1);
    for (;;)
        pause();
}

/* Child: hide /proc, then ask about a live holder and a dead one. Exit
 * codes: 0 right, 77 namespaces not allowed here, others wrong. */
static int without_proc(void *arg)
{
    (void)arg;
    if (unshare(CLONE_NEWNS) != 0)
        return 77;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("none", "/proc", "tmpfs", 0, NULL) != 0)
        return 77;
    if (access("/proc/self/stat", F_OK) == 0)
        return 10; /* /proc is still there */
    /* A live holder: time out, never MP_EOWNERDEAD. */
    int before = atomic_load(&sh->ops);
    pid_t holder = mpt_fork(hold_lock_forever, NULL);
    double end = mpt_now() + 10.0;
    while (atomic_load(&sh->ops) == before && mpt_now() < end)
        usleep(100);
    if (atomic_load(&sh->ops) == before)
        return 11;
    int rc = mp_lock_acquire(sh->lock, 0.5);
    if (rc != MP_ETIMEDOUT)
        return rc == MP_EOWNERDEAD ? 12 : 13;
    /* A dead holder (a zombie: not reaped yet) is still found dead. */
    kill(holder, SIGKILL);
    siginfo_t si;
    if (waitid(P_PID, (id_t)holder, &si, WEXITED | WNOWAIT) != 0)
        return 14;
    rc = mp_lock_acquire(sh->lock, 5.0);
    waitpid(holder, NULL, 0);
    if (rc != MP_EOWNERDEAD)
        return 15;
    mp_lock_release(sh->lock);
    return 0;
}

static void test_no_false_ownerdead_without_proc(void **state)
{
    (void)state;
    sh->lock = mp_lock_new();
    assert_non_null(sh->lock);
    pid_t pid = mpt_fork(without_proc, NULL);
    int st = mpt_wait(pid);
    mp_lock_free(sh->lock);
    if (st == 77)
        skip(); /* no mount namespaces here */
    assert_int_equal(st, 0);
}

static int setup(void **state)
{
    (void)state;
    sh = mp_shared_calloc(1, sizeof *sh);
    srand((unsigned)getpid());
    return sh == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    mp_shared_free(sh);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        mpt_test(test_stopped_inside_small_queue_calls),
        mpt_test(test_stopped_inside_out_of_line_queue_calls),
        mpt_test(test_stopped_getter_holds_back_its_chunk_only),
        mpt_test(test_stopped_inside_the_heap_allocator),
        mpt_test(test_stopped_while_holding_or_taking_a_lock),
        mpt_test(test_stopped_inside_a_condition_wait),
        mpt_test(test_stopped_inside_a_barrier_wait),
        mpt_test(test_stopped_pool_worker),
        mpt_test(test_stopped_pool_supervisor),
        mpt_test(test_no_false_ownerdead_without_proc),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
