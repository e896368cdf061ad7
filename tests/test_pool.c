/* test_pool.c - the process pool: map/apply/imap results, failures, worker
 * death, callbacks, lifecycle and clean-up; futures (wait_any, wait_all,
 * cancel), time limits, results of any size, a pool that cannot start,
 * and stopped processes. */
/* ctest-timeout: 240 */
#include "mp_test.h"

#include <stdatomic.h>
#include <sys/resource.h>

#include "pool/pool.h" /* only to report whether a stopped worker held the pool lock */

/* Sanitizer builds run every process several times slower, and
 * LeakSanitizer scans the memory of each worker that calls exit(): time
 * bounds that are about the library, not the build, stretch by this. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SLOW 5.0
#else
#define SLOW 1.0
#endif

/* ---- tasks ------------------------------------------------------------- */

static int square(const void *arg, void *result)
{
    int x = *(const int *)arg;
    *(int *)result = x * x;
    return 0;
}

/* Fails with code 42 on 7, succeeds otherwise. */
static int square_but_7(const void *arg, void *result)
{
    int x = *(const int *)arg;
    if (x == 7)
        return 42;
    *(int *)result = x * x;
    return 0;
}

/* Clears its result before reading its argument: wrong if the two alias. */
static int clear_then_increment(const void *arg, void *result)
{
    memset(result, 0, sizeof(int64_t));
    int64_t x;
    memcpy(&x, arg, sizeof x);
    x += 1;
    memcpy(result, &x, sizeof x);
    return 0;
}

static int sleep_then_square(const void *arg, void *result)
{
    usleep(100 * 1000);
    return square(arg, result);
}

/* A gate in shared memory: gated tasks count themselves in, then wait
 * until the test opens it. Made before the pool, so that its workers
 * (forked from the supervisor mp_pool_new starts) see the pointer. */
struct gate {
    mp_event *open;
    _Atomic int started; /* tasks that reached the gate */
};

static struct gate *gate;

static void gate_new(void)
{
    gate = mp_shared_calloc(1, sizeof *gate);
    assert_non_null(gate);
    gate->open = mp_event_new();
    assert_non_null(gate->open);
}

static void gate_free(void)
{
    mp_event_free(gate->open);
    mp_shared_free(gate);
    gate = NULL;
}

/* Squares once the gate opens; fails with 99 if it stays shut 30 s. */
static int gated_square(const void *arg, void *result)
{
    atomic_fetch_add(&gate->started, 1);
    if (mp_event_wait(gate->open, 30) != 0)
        return 99;
    return square(arg, result);
}

/* A task that has started (counted at the gate) and runs long: until
 * terminate, or 10 s. */
static int started_then_sleep_long(const void *arg, void *result)
{
    (void)arg;
    (void)result;
    atomic_fetch_add(&gate->started, 1);
    sleep(10);
    return 0;
}

static int my_pid(const void *arg, void *result)
{
    (void)arg;
    *(pid_t *)result = getpid();
    return 0;
}

static int kill_self(const void *arg, void *result)
{
    (void)arg;
    (void)result;
    kill(getpid(), SIGKILL);
    pause();
    return 0;
}

static int square_or_die_13(const void *arg, void *result)
{
    if (*(const int *)arg == 13)
        kill(getpid(), SIGKILL);
    return square(arg, result);
}

static int exit_in_task(const void *arg, void *result)
{
    (void)arg;
    (void)result;
    _exit(3);
}

/* Concurrency probe: a counter in shared memory, raised while a task runs. */
struct probe {
    _Atomic int running;
    _Atomic int max_running;
    _Atomic int inits;
};

static struct probe *probe;

static int count_running(const void *arg, void *result)
{
    (void)arg;
    int now = atomic_fetch_add(&probe->running, 1) + 1;
    int max = atomic_load(&probe->max_running);
    while (now > max && !atomic_compare_exchange_weak(&probe->max_running, &max, now))
        ;
    usleep(30 * 1000);
    atomic_fetch_sub(&probe->running, 1);
    *(pid_t *)result = getpid();
    return 0;
}

static int worker_initialized; /* set in the worker by init_worker */

static void init_worker(void *arg)
{
    atomic_fetch_add(&((struct probe *)arg)->inits, 1);
    worker_initialized = 1;
}

static int read_initialized(const void *arg, void *result)
{
    (void)arg;
    *(int *)result = worker_initialized;
    return 0;
}

/* ---- results ----------------------------------------------------------- */

static void test_pool_map_squares_matches_serial(void **state)
{
    (void)state;
    mp_pool *p = mp_pool_new(4);
    assert_non_null(p);
    int in[100], out[100];
    for (int i = 0; i < 100; i++) {
        in[i] = i;
        out[i] = -1;
    }
    assert_int_equal(mp_pool_map(p, square, in, 100, sizeof(int), out, sizeof(int), 0), MP_OK);
    for (int i = 0; i < 100; i++)
        assert_int_equal(out[i], i * i);
    mp_pool_free(p);
}

/* Results the size of the arguments may share their slots; the task must
 * still see its argument intact after writing its result. */
static void test_pool_map_task_result_never_aliases_its_argument(void **state)
{
    (void)state;
    enum { N = 20000 };
    int64_t *in = malloc(N * sizeof *in), *out = malloc(N * sizeof *out);
    assert_non_null(in);
    assert_non_null(out);
    for (int i = 0; i < N; i++)
        in[i] = (int64_t)i * 3;
    mp_pool *p = mp_pool_new(2);
    assert_non_null(p);
    size_t sizes[] = {0, 1, 7, 5000};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        memset(out, 0xff, N * sizeof *out);
        assert_int_equal(
            mp_pool_map(p, clear_then_increment, in, N, sizeof *in, out, sizeof *out, sizes[k]), 0);
        for (int i = 0; i < N; i++)
            assert_true(out[i] == (int64_t)i * 3 + 1);
        for (int i = 0; i < N; i++)
            assert_true(in[i] == (int64_t)i * 3); /* the caller's array is untouched */
    }
    mp_pool_free(p);
    free(in);
    free(out);
}

static void test_pool_map_any_chunksize_is_correct(void **state)
{
    (void)state;
    mp_pool *p = mp_pool_new(3);
    assert_non_null(p);
    enum { N = 2500 };
    static int in[N], out[N];
    for (int i = 0; i < N; i++)
        in[i] = i;
    size_t sizes[] = {0, 1, 7, 1000, 5000};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        memset(out, 0xff, sizeof out);
        assert_int_equal(mp_pool_map(p, square, in, N, sizeof(int), out, sizeof(int), sizes[k]),
                         MP_OK);
        for (int i = 0; i < N; i++)
            assert_int_equal(out[i], i * i);
    }
    mp_pool_free(p);
}

static void test_pool_apply_returns_result(void **state)
{
    (void)state;
    mp_pool *p = mp_pool_new(2);
    assert_non_null(p);
    int x = 10, r = 0;
    assert_int_equal(mp_pool_apply(p, square, &x, sizeof x, &r, sizeof r), MP_OK);
    assert_int_equal(r, 100);
    mp_pool_free(p);
}

static void test_pool_apply_async_never_runs_more_than_processes(void **state)
{
    (void)state;
    probe = mp_shared_calloc(1, sizeof *probe);
    assert_non_null(probe);
    mp_pool *p = mp_pool_new(3);
    assert_non_null(p);
    mp_async *a[10];
    for (int i = 0; i < 10; i++) {
        a[i] = mp_pool_apply_async(p, count_running, NULL, 0, sizeof(pid_t), NULL);
        assert_non_null(a[i]);
    }
    for (int i = 0; i < 10; i++) {
        pid_t pid = 0;
        assert_int_equal(mp_async_get(a[i], &pid, 10), MP_OK);
        assert_true(pid > 0 && pid != getpid());
        assert_true(mp_async_ready(a[i]));
        assert_true(mp_async_successful(a[i]));
        mp_async_free(a[i]);
    }
    assert_true(atomic_load(&probe->max_running) >= 1);
    assert_true(atomic_load(&probe->max_running) <= 3);
    assert_int_equal(atomic_load(&probe->running), 0);
    mp_pool_free(p);
    mp_shared_free(probe);
}

/* The tasks wait at a gate until the time-outs are checked: the map
 * cannot be done by then however the machine schedules us, so a get that
 * returns anything but MP_ETIMEDOUT, or returns late, is the pool's. */
static void test_pool_map_async_get_times_out_then_succeeds(void **state)
{
    (void)state;
    gate_new();
    mp_pool *p = mp_pool_new(2);
    assert_non_null(p);
    int in[4] = {1, 2, 3, 4}, out[4] = {0};
    mp_async *a = mp_pool_map_async(p, gated_square, in, 4, sizeof(int), sizeof(int), 1, NULL);
    assert_non_null(a);
    double t0 = mpt_now();
    int rc = mp_async_get(a, out, 0.02);
    double dt = mpt_now() - t0;
    if (rc != MP_ETIMEDOUT || dt < 0.015 || dt >= 0.02 + MPT_SLACK)
        fail_msg("get with a 0.02 s timeout: %s after %.3f s", mp_err_name(rc), dt);
    assert_false(mp_async_ready(a));
    assert_false(mp_async_successful(a));
    assert_int_equal(mp_async_get(a, out, 0), MP_ETIMEDOUT);
    assert_int_equal(mp_event_set(gate->open), 0);
    assert_int_equal(mp_async_get(a, out, MP_FOREVER), MP_OK);
    for (int i = 0; i < 4; i++)
        assert_int_equal(out[i], in[i] * in[i]);
    assert_int_equal(mp_async_wait(a, 0), MP_OK);
    mp_async_free(a);
    mp_pool_free(p);
    gate_free();
}

static void test_pool_imap_yields_input_order(void **state)
{
    (void)state;
    mp_pool *p = mp_pool_new(3);
    assert_non_null(p);
    int in[50];
    for (int i = 0; i < 50; i++)
        in[i] = i;
    mp_imap *it = mp_pool_imap(p, square, in, 50, sizeof(int), sizeof(int), 3);
    assert_non_null(it);
    for (int i = 0; i < 50; i++) {
        int r = -1;
        size_t idx = 999;
        assert_int_equal(mp_imap_next(it, &r, &idx, 10), MP_OK);
        assert_int_equal(idx, i);
        assert_int_equal(r, i * i);
    }
    assert_int_equal(mp_imap_next(it, NULL, NULL, 1), MP_EINVAL); /* result needed */
    int r;
    assert_int_equal(mp_imap_next(it, &r, NULL, 1), MP_ECLOSED);
    mp_imap_free(it);
    mp_pool_free(p);
}

static void test_pool_imap_unordered_covers_every_index_once(void **state)
{
    (void)state;
    mp_pool *p = mp_pool_new(3);
    assert_non_null(p);
    enum { N = 200 };
    int in[N], seen[N] = {0};
    for (int i = 0; i < N; i++)
        in[i] = i;
    mp_imap *it = mp_pool_imap_unordered(p, square_but_7, in, N, sizeof(int), sizeof(int), 0);
    assert_non_null(it);
    for (int k = 0; k < N; k++) {
        int r = -1;
        size_t idx = 999;
        int rc = mp_imap_next(it, &r, &idx, 10);
        assert_true(idx < N);
        seen[idx]++;
        if (idx == 7) {
            assert_int_equal(rc, MP_ETASK);
            assert_int_equal(mp_imap_task_error(it), 42);
        } else {
            assert_int_equal(rc, MP_OK);
            assert_int_equal(r, (int)(idx * idx));
        }
    }
    int r;
    assert_int_equal(mp_imap_next(it, &r, NULL, 0), MP_ECLOSED);
    for (int i = 0; i < N; i++)
        assert_int_equal(seen[i], 1);
    mp_imap_free(it);
    mp_pool_free(p);
}

static void test_pool_failing_task_reports_code_and_keeps_others(void **state)
{
    (void)state;
    mp_pool *p = mp_pool_new(2);
    assert_non_null(p);
    int in[20], out[20];
    for (int i = 0; i < 20; i++) {
        in[i] = i;
        out[i] = -1;
    }
    assert_int_equal(mp_pool_map(p, square_but_7, in, 20, sizeof(int), out, sizeof(int), 4),
                     MP_ETASK);
    for (int i = 0; i < 20; i++)
        assert_int_equal(out[i], i == 7 ? -1 : i * i);

    mp_async *a = mp_pool_map_async(p, square_but_7, in, 20, sizeof(int), sizeof(int), 0, NULL);
    assert_non_null(a);
    memset(out, 0xff, sizeof out);
    assert_int_equal(mp_async_get(a, out, 10), MP_ETASK);
    assert_int_equal(mp_async_task_error(a), 42);
    assert_false(mp_async_successful(a));
    assert_int_equal(out[6], 36);
    assert_int_equal(out[8], 64);
    mp_async_free(a);

    int x = 7, r = 0;
    a = mp_pool_apply_async(p, square_but_7, &x, sizeof x, sizeof r, NULL);
    assert_non_null(a);
    assert_int_equal(mp_async_get(a, &r, 10), MP_ETASK);
    assert_int_equal(mp_async_task_error(a), 42);
    mp_async_free(a);
    assert_int_equal(mp_pool_apply(p, square_but_7, &x, sizeof x, &r, sizeof r), MP_ETASK);
    mp_pool_free(p);
}

/* ---- callbacks --------------------------------------------------------- */

struct cb_log {
    pid_t parent;
    _Atomic int ok, err, wrong_pid, last_code, last_task, sum;
};

static void on_result(void *result, void *userdata)
{
    struct cb_log *l = userdata;
    if (getpid() != l->parent)
        atomic_fetch_add(&l->wrong_pid, 1);
    atomic_fetch_add(&l->sum, *(int *)result);
    atomic_fetch_add(&l->ok, 1);
}

static void on_error(int code, int task, void *userdata)
{
    struct cb_log *l = userdata;
    if (getpid() != l->parent)
        atomic_fetch_add(&l->wrong_pid, 1);
    atomic_store(&l->last_code, code);
    atomic_store(&l->last_task, task);
    atomic_fetch_add(&l->err, 1);
}

static void test_pool_callbacks_run_in_parent_once_per_task(void **state)
{
    (void)state;
    static struct cb_log log; /* process-private: only the parent may touch it */
    memset(&log, 0, sizeof log);
    log.parent = getpid();
    mp_callbacks cb = {on_result, on_error, &log};
    mp_pool *p = mp_pool_new(2);
    assert_non_null(p);
    mp_async *a[12];
    int expect = 0;
    for (int i = 0; i < 12; i++) {
        a[i] = mp_pool_apply_async(p, square_but_7, &i, sizeof i, sizeof(int), &cb);
        assert_non_null(a[i]);
        if (i != 7)
            expect += i * i;
    }
    for (int i = 0; i < 12; i++) {
        int r;
        int rc = mp_async_get(a[i], &r, 10);
        assert_int_equal(rc, i == 7 ? MP_ETASK : MP_OK);
        mp_async_free(a[i]);
    }
    /* get returned only after each callback ran. */
    assert_int_equal(atomic_load(&log.ok), 11);
    assert_int_equal(atomic_load(&log.err), 1);
    assert_int_equal(atomic_load(&log.sum), expect);
    assert_int_equal(atomic_load(&log.last_code), MP_ETASK);
    assert_int_equal(atomic_load(&log.last_task), 42);
    assert_int_equal(atomic_load(&log.wrong_pid), 0);

    /* A map's callback gets the whole result array, once; join waits for
     * callbacks of work nobody waited for. */
    int in[30];
    for (int i = 0; i < 30; i++)
        in[i] = 1;
    atomic_store(&log.ok, 0);
    atomic_store(&log.sum, 0);
    mp_async *m = mp_pool_map_async(p, square, in, 30, sizeof(int), sizeof(int), 0, &cb);
    assert_non_null(m);
    mp_async_free(m);
    assert_int_equal(mp_pool_close(p), MP_OK);
    assert_int_equal(mp_pool_join(p), MP_OK);
    assert_int_equal(atomic_load(&log.ok), 1);
    assert_int_equal(atomic_load(&log.sum), 1); /* first element of the array */
    mp_pool_free(p);
}

static void test_pool_error_callback_gets_closed_on_terminate(void **state)
{
    (void)state;
    static struct cb_log log;
    memset(&log, 0, sizeof log);
    log.parent = getpid();
    mp_callbacks cb = {on_result, on_error, &log};
    gate_new();
    mp_pool *p = mp_pool_new(1);
    assert_non_null(p);
    mp_async *a = mp_pool_apply_async(p, started_then_sleep_long, NULL, 0, 0, &cb);
    assert_non_null(a);
    assert_true(mpt_wait_atomic(&gate->started, 1, 10)); /* running, not queued */
    assert_int_equal(mp_pool_terminate(p), MP_OK);
    assert_int_equal(mp_async_get(a, NULL, 5), MP_ECLOSED);
    assert_int_equal(atomic_load(&log.err), 1);
    assert_int_equal(atomic_load(&log.last_code), MP_ECLOSED);
    assert_int_equal(atomic_load(&log.last_task), 0);
    mp_async_free(a);
    mp_pool_free(p);
    gate_free();
}

/* ---- workers ----------------------------------------------------------- */

static void test_pool_initializer_runs_once_per_worker(void **state)
{
    (void)state;
    struct probe *pr = mp_shared_calloc(1, sizeof *pr);
    assert_non_null(pr);
    mp_pool_opts o = {.processes = 3, .initializer = init_worker, .initarg = pr};
    mp_pool *p = mp_pool_new_opts(&o);
    assert_non_null(p);
    int in[60], out[60];
    for (int i = 0; i < 60; i++)
        in[i] = i;
    assert_int_equal(mp_pool_map(p, read_initialized, in, 60, sizeof(int), out, sizeof(int), 1),
                     MP_OK);
    for (int i = 0; i < 60; i++)
        assert_int_equal(out[i], 1);
    assert_int_equal(worker_initialized, 0); /* never in the parent */
    assert_int_equal(mp_pool_close(p), MP_OK);
    assert_int_equal(mp_pool_join(p), MP_OK);
    assert_int_equal(atomic_load(&pr->inits), 3);
    mp_pool_free(p);
    mp_shared_free(pr);
}

static void test_pool_maxtasksperchild_replaces_workers(void **state)
{
    (void)state;
    probe = mp_shared_calloc(1, sizeof *probe);
    assert_non_null(probe);
    mp_pool_opts o = {.processes = 2, .maxtasksperchild = 2};
    mp_pool *p = mp_pool_new_opts(&o);
    assert_non_null(p);
    pid_t pids[10];
    mp_async *a[10];
    for (int i = 0; i < 10; i++)
        assert_non_null(a[i] = mp_pool_apply_async(p, my_pid, NULL, 0, sizeof(pid_t), NULL));
    for (int i = 0; i < 10; i++) {
        assert_int_equal(mp_async_get(a[i], &pids[i], 10), MP_OK);
        mp_async_free(a[i]);
    }
    int distinct = 0;
    for (int i = 0; i < 10; i++) {
        bool dup = false;
        for (int k = 0; k < i; k++)
            dup |= pids[k] == pids[i];
        distinct += !dup;
    }
    assert_true(distinct >= 5);
    /* Replacements keep the pool working. */
    int in[100], out[100];
    for (int i = 0; i < 100; i++)
        in[i] = i;
    assert_int_equal(mp_pool_map(p, square, in, 100, sizeof(int), out, sizeof(int), 10), MP_OK);
    assert_int_equal(out[99], 99 * 99);
    mp_pool_free(p);
    mp_shared_free(probe);
}

static void test_pool_killed_worker_fails_only_its_task(void **state)
{
    (void)state;
    mp_pool *p = mp_pool_new(2);
    assert_non_null(p);
    int x = 3, r = 0;
    mp_async *slow = mp_pool_apply_async(p, sleep_then_square, &x, sizeof x, sizeof r, NULL);
    assert_non_null(slow);
    double t0 = mpt_now();
    mp_async *a = mp_pool_apply_async(p, kill_self, NULL, 0, 0, NULL);
    assert_non_null(a);
    assert_int_equal(mp_async_get(a, NULL, 5), MP_EWORKERDIED);
    assert_true(mpt_now() - t0 < MPT_SLACK); /* not the 5 s timeout */
    mp_async_free(a);
    /* The other task completes; a task calling _exit is a death too. */
    assert_int_equal(mp_async_get(slow, &r, 5), MP_OK);
    assert_int_equal(r, 9);
    mp_async_free(slow);
    assert_int_equal(mp_pool_apply(p, exit_in_task, NULL, 0, NULL, 0), MP_EWORKERDIED);

    enum { N = 1000 };
    static int in[N], out[N];
    for (int i = 0; i < N; i++)
        in[i] = i;
    assert_int_equal(mp_pool_map(p, square, in, N, sizeof(int), out, sizeof(int), 0), MP_OK);
    for (int i = 0; i < N; i++)
        assert_int_equal(out[i], i * i);
    mp_pool_free(p);
}

static void test_pool_worker_death_in_map_fails_its_chunk_only(void **state)
{
    (void)state;
    mp_pool *p = mp_pool_new(2);
    assert_non_null(p);
    /* Item 13 kills its worker: only its chunk (10..19) fails. */
    int in[40], out[40];
    for (int i = 0; i < 40; i++) {
        in[i] = i;
        out[i] = -1;
    }
    assert_int_equal(mp_pool_map(p, square_or_die_13, in, 40, sizeof(int), out, sizeof(int), 10),
                     MP_EWORKERDIED);
    for (int i = 0; i < 40; i++)
        assert_int_equal(out[i], i >= 10 && i < 20 ? -1 : i * i);
    mp_pool_free(p);
}

static void test_pool_terminate_fails_pending_promptly(void **state)
{
    (void)state;
    gate_new();
    mp_pool *p = mp_pool_new(2);
    assert_non_null(p);
    mp_async *a[4];
    for (int i = 0; i < 4; i++)
        assert_non_null(a[i] = mp_pool_apply_async(p, started_then_sleep_long, NULL, 0, 0, NULL));
    int in[10] = {0};
    mp_imap *it = mp_pool_imap(p, started_then_sleep_long, in, 10, sizeof(int), 0, 1);
    assert_non_null(it);
    assert_true(mpt_wait_atomic(&gate->started, 2, 10)); /* both workers busy */
    double t0 = mpt_now();
    assert_int_equal(mp_pool_terminate(p), MP_OK);
    assert_true(mpt_now() - t0 < MPT_SLACK); /* not the tasks' 10 s */
    for (int i = 0; i < 4; i++) {
        t0 = mpt_now();
        assert_int_equal(mp_async_get(a[i], NULL, 5), MP_ECLOSED);
        assert_true(mpt_now() - t0 < MPT_SLACK);
        mp_async_free(a[i]);
    }
    assert_int_equal(mp_imap_next(it, NULL, NULL, 5), MP_ECLOSED);
    mp_imap_free(it);
    assert_int_equal(mp_pool_join(p), MP_OK);
    assert_int_equal(mpt_count_zombies(), 0);
    mp_pool_free(p);
    gate_free();
}

/* ---- lifecycle and input ----------------------------------------------- */

static void test_pool_close_join_and_state_rules(void **state)
{
    (void)state;
    mp_pool *p = mp_pool_new(2);
    assert_non_null(p);
    assert_int_equal(mp_pool_join(p), MP_ESTATE);
    int x = 5, r = 0;
    mp_async *a = mp_pool_apply_async(p, sleep_then_square, &x, sizeof x, sizeof r, NULL);
    assert_non_null(a);
    assert_int_equal(mp_pool_close(p), MP_OK);
    assert_int_equal(mp_pool_close(p), MP_OK);
    assert_int_equal(mp_pool_apply(p, square, &x, sizeof x, &r, sizeof r), MP_ECLOSED);
    errno = 0;
    assert_null(mp_pool_apply_async(p, square, &x, sizeof x, sizeof r, NULL));
    assert_int_equal(errno, EPIPE);
    errno = 0;
    assert_null(mp_pool_map_async(p, square, &x, 1, sizeof x, sizeof r, 0, NULL));
    assert_int_equal(errno, EPIPE);
    errno = 0;
    assert_null(mp_pool_imap(p, square, &x, 1, sizeof x, sizeof r, 0));
    assert_int_equal(errno, EPIPE);
    assert_int_equal(mp_pool_map(p, square, &x, 1, sizeof x, &r, sizeof r, 0), MP_ECLOSED);
    /* Work submitted before close completes; join waits for it. */
    assert_int_equal(mp_pool_join(p), MP_OK);
    assert_true(mp_async_ready(a));
    assert_int_equal(mp_async_get(a, &r, 0), MP_OK);
    assert_int_equal(r, 25);
    mp_async_free(a);
    assert_int_equal(mp_pool_join(p), MP_OK);
    assert_int_equal(mp_pool_terminate(p), MP_OK);
    mp_pool_free(p);
}

static void test_pool_close_wakes_every_idle_worker(void **state)
{
    (void)state;
    /* More idle workers than one round of wake-ups covers. */
    mp_pool *p = mp_pool_new(80);
    assert_non_null(p);
    int in[80], out[80];
    for (int i = 0; i < 80; i++)
        in[i] = i;
    assert_int_equal(mp_pool_map(p, square, in, 80, sizeof(int), out, sizeof(int), 1), MP_OK);
    /* Everyone idle and asleep: the supervisor and its 80 workers. */
    static pid_t procs[100];
    int n = mpt_descendants(procs, 100);
    assert_true(n >= 80);
    for (int i = 0; i < n; i++)
        assert_true(mpt_wait_asleep(procs[i], 10));
    double t0 = mpt_now();
    assert_int_equal(mp_pool_close(p), MP_OK);
    assert_int_equal(mp_pool_join(p), MP_OK);
    assert_true(mpt_now() - t0 < 5.0);
    mp_pool_free(p);
    assert_int_equal(mpt_count_zombies(), 0);
}

static void test_pool_big_maps_reuse_memory_correctly(void **state)
{
    (void)state;
    enum { N = 50000 }; /* big enough for the pool to keep the job block */
    static int in[N], out[N];
    for (int i = 0; i < N; i++)
        in[i] = i % 1000;
    mp_pool *p = mp_pool_new(2);
    assert_non_null(p);
    for (int round = 0; round < 3; round++) {
        memset(out, 0xff, sizeof out);
        /* A failing map leaves item codes behind in the block... */
        assert_int_equal(mp_pool_map(p, square_but_7, in, N, sizeof(int), out, sizeof(int), 0),
                         MP_ETASK);
        for (int i = 0; i < N; i++)
            assert_int_equal(out[i], in[i] == 7 ? -1 : in[i] * in[i]);
        /* ...which the next map, reusing it, must not see. */
        assert_int_equal(mp_pool_map(p, square, in, N, sizeof(int), out, sizeof(int), 0), MP_OK);
        for (int i = 0; i < N; i++)
            assert_int_equal(out[i], in[i] * in[i]);
    }
    /* A handle may outlive its pool. */
    mp_async *a = mp_pool_map_async(p, square, in, N, sizeof(int), sizeof(int), 0, NULL);
    assert_non_null(a);
    assert_int_equal(mp_async_wait(a, 10), MP_OK);
    mp_pool_free(p);
    memset(out, 0, sizeof out);
    assert_int_equal(mp_async_get(a, out, 0), MP_OK);
    assert_int_equal(out[N - 1], in[N - 1] * in[N - 1]);
    mp_async_free(a);
}

static int use_pool_from_child(void *arg)
{
    mp_pool *p = arg;
    int in[100], out[100];
    for (int i = 0; i < 100; i++)
        in[i] = i;
    if (mp_pool_map(p, square, in, 100, sizeof(int), out, sizeof(int), 0) != MP_OK)
        return 1;
    for (int i = 0; i < 100; i++)
        if (out[i] != i * i)
            return 2;
    mp_callbacks cb = {on_result, NULL, NULL};
    errno = 0;
    if (mp_pool_apply_async(p, square, in, sizeof(int), sizeof(int), &cb) != NULL || errno != EPERM)
        return 3; /* callbacks only run in the creating process */
    return 0;
}

static void test_pool_accepts_work_from_a_forked_child(void **state)
{
    (void)state;
    mp_pool *p = mp_pool_new(2);
    assert_non_null(p);
    pid_t child = mpt_fork(use_pool_from_child, p);
    assert_int_equal(mpt_wait(child), 0);
    int x = 3, r = 0;
    assert_int_equal(mp_pool_apply(p, square, &x, sizeof x, &r, sizeof r), MP_OK);
    assert_int_equal(r, 9);
    mp_pool_free(p);
}

static void test_pool_bad_input_is_einval(void **state)
{
    (void)state;
    errno = 0;
    assert_null(mp_pool_new(-1));
    assert_int_equal(errno, EINVAL);
    mp_pool *p = mp_pool_new(1);
    assert_non_null(p);
    int x = 1, r;
    assert_int_equal(mp_pool_apply(NULL, square, &x, sizeof x, &r, sizeof r), MP_EINVAL);
    assert_int_equal(mp_pool_apply(p, NULL, &x, sizeof x, &r, sizeof r), MP_EINVAL);
    assert_int_equal(mp_pool_apply(p, square, &x, 0, &r, sizeof r), MP_EINVAL);
    assert_int_equal(mp_pool_apply(p, square, NULL, sizeof x, &r, sizeof r), MP_EINVAL);
    assert_int_equal(mp_pool_apply(p, square, &x, sizeof x, NULL, sizeof r), MP_EINVAL);
    assert_int_equal(mp_pool_map(p, square, NULL, 3, sizeof x, &r, sizeof r, 0), MP_EINVAL);
    assert_int_equal(mp_pool_map(p, square, &x, 1, sizeof x, NULL, sizeof r, 0), MP_EINVAL);
    assert_int_equal(mp_pool_map(p, square, &x, 1, 0, &r, sizeof r, 0), MP_EINVAL);
    errno = 0;
    assert_null(mp_pool_apply_async(p, NULL, NULL, 0, 0, NULL));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(mp_pool_map_async(p, square, NULL, 2, sizeof x, sizeof r, 0, NULL));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(mp_pool_imap_unordered(NULL, square, &x, 1, sizeof x, sizeof r, 0));
    assert_int_equal(errno, EINVAL);

    mp_async *a = mp_pool_apply_async(p, square, &x, sizeof x, sizeof r, NULL);
    assert_non_null(a);
    assert_int_equal(mp_async_get(a, &r, NAN), MP_EINVAL);
    assert_int_equal(mp_async_wait(a, NAN), MP_EINVAL);
    assert_int_equal(mp_async_get(a, NULL, 1), MP_EINVAL);
    assert_int_equal(mp_async_get(NULL, &r, 1), MP_EINVAL);
    assert_int_equal(mp_async_get(a, &r, 10), MP_OK); /* the failed calls changed nothing */
    assert_int_equal(r, 1);
    mp_async_free(a);
    mp_async_free(NULL);
    mp_imap_free(NULL);
    mp_imap *it = mp_pool_imap(p, square, &x, 1, sizeof x, sizeof r, 0);
    assert_non_null(it);
    assert_int_equal(mp_imap_next(it, &r, NULL, NAN), MP_EINVAL);
    assert_int_equal(mp_imap_next(NULL, &r, NULL, 1), MP_EINVAL);
    mp_imap_free(it);
    assert_int_equal(mp_pool_close(NULL), MP_EINVAL);
    assert_int_equal(mp_pool_terminate(NULL), MP_EINVAL);
    assert_int_equal(mp_pool_join(NULL), MP_EINVAL);
    assert_false(mp_async_ready(NULL));

    /* Zero items: a valid no-op. */
    assert_int_equal(mp_pool_map(p, square, NULL, 0, sizeof x, NULL, sizeof r, 0), MP_OK);
    a = mp_pool_map_async(p, square, NULL, 0, sizeof x, sizeof r, 0, NULL);
    assert_non_null(a);
    assert_int_equal(mp_async_get(a, NULL, 0), MP_OK);
    mp_async_free(a);
    it = mp_pool_imap(p, square, NULL, 0, sizeof x, sizeof r, 0);
    assert_non_null(it);
    assert_int_equal(mp_imap_next(it, &r, NULL, 0), MP_ECLOSED);
    mp_imap_free(it);
    mp_pool_free(p);
    mp_pool_free(NULL);
}

static void test_pool_arguments_are_copied_at_submission(void **state)
{
    (void)state;
    gate_new();
    mp_pool *p = mp_pool_new(1);
    assert_non_null(p);
    /* The only worker is held at the gate until x has changed. */
    mp_async *busy =
        mp_pool_apply_async(p, gated_square, &(int){1}, sizeof(int), sizeof(int), NULL);
    assert_non_null(busy);
    int x = 6, r = 0;
    mp_async *a = mp_pool_apply_async(p, square, &x, sizeof x, sizeof r, NULL);
    assert_non_null(a);
    x = 1000; /* the task must still see 6 */
    assert_int_equal(mp_event_set(gate->open), 0);
    assert_int_equal(mp_async_get(a, &r, 10), MP_OK);
    assert_int_equal(r, 36);
    assert_int_equal(mp_async_get(busy, &r, 10), MP_OK);
    mp_async_free(a);
    mp_async_free(busy);
    mp_pool_free(p);
    gate_free();
}

static void test_pool_zero_processes_means_cpu_count(void **state)
{
    (void)state;
    mp_pool *p = mp_pool_new(0);
    assert_non_null(p);
    int x = 4, r = 0;
    assert_int_equal(mp_pool_apply(p, square, &x, sizeof x, &r, sizeof r), MP_OK);
    assert_int_equal(r, 16);
    mp_pool_free(p);
}

/* The children of pid (up to cap). */
static int children_of(pid_t pid, pid_t *out, int cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    int n = 0, c;
    while (n < cap && fscanf(f, "%d", &c) == 1)
        out[n++] = c;
    fclose(f);
    return n;
}

/* The supervisor is this process's only child while one pool exists. */
static pid_t only_child(void)
{
    pid_t c;
    return children_of(getpid(), &c, 1) == 1 ? c : 0;
}

static void test_pool_killed_supervisor_fails_work_never_hangs(void **state)
{
    (void)state;
    gate_new();
    mp_pool *p = mp_pool_new(2);
    assert_non_null(p);
    mp_async *a = mp_pool_apply_async(p, started_then_sleep_long, NULL, 0, 0, NULL);
    assert_non_null(a);
    assert_true(mpt_wait_atomic(&gate->started, 1, 10)); /* running, not queued */
    pid_t sup = only_child();
    assert_true(sup > 0);
    kill(sup, SIGKILL);
    double t0 = mpt_now();
    int rc = mp_async_get(a, NULL, 5);
    double dt = mpt_now() - t0;
    /* Seen within a liveness check or two, not at the 5 s timeout. */
    if (rc != MP_EWORKERDIED || dt >= MPT_SLACK)
        fail_msg("get after the supervisor's death: %s after %.3f s", mp_err_name(rc), dt);
    mp_async_free(a);
    int x = 2, r;
    assert_int_equal(mp_pool_apply(p, square, &x, sizeof x, &r, sizeof r), MP_ECLOSED);
    mp_pool_free(p);
    assert_int_equal(mpt_count_zombies(), 0);
    gate_free();
}

static void test_pool_works_with_sigchld_ignored(void **state)
{
    (void)state;
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    sigaction(SIGCHLD, &ign, &old);
    mp_pool *p = mp_pool_new(2);
    assert_non_null(p);
    assert_int_equal(mp_pool_apply(p, kill_self, NULL, 0, NULL, 0), MP_EWORKERDIED);
    int x = 9, r = 0;
    assert_int_equal(mp_pool_apply(p, square, &x, sizeof x, &r, sizeof r), MP_OK);
    assert_int_equal(r, 81);
    assert_int_equal(mp_pool_close(p), MP_OK);
    assert_int_equal(mp_pool_join(p), MP_OK);
    mp_pool_free(p);
    sigaction(SIGCHLD, &old, NULL);
}

/* True once none of the 4 pids at arg runs (gone, or a zombie). */
static bool none_running(void *arg)
{
    const pid_t *pids = arg;
    for (int i = 0; i < 4; i++) {
        char st = mpt_proc_state(pids[i]);
        if (st != '?' && st != 'Z' && st != 'X')
            return false;
    }
    return true;
}

static int sleepy_pid(const void *arg, void *result)
{
    (void)arg;
    usleep(50 * 1000);
    *(pid_t *)result = getpid();
    return 0;
}

static int make_pool_then_die(void *arg)
{
    pid_t *pids = arg; /* shared: 4 worker pids */
    mp_pool *p = mp_pool_new(2);
    if (p == NULL)
        return 1;
    int in[4] = {0};
    if (mp_pool_map(p, sleepy_pid, in, 4, sizeof(int), pids, sizeof(pid_t), 1) != MP_OK)
        return 2;
    kill(getpid(), SIGKILL);
    return 3;
}

static void test_pool_workers_die_with_their_creator(void **state)
{
    (void)state;
    pid_t *pids = mp_shared_calloc(4, sizeof(pid_t));
    assert_non_null(pids);
    pid_t child = mpt_fork(make_pool_then_die, pids);
    assert_int_equal(mpt_wait(child), 128 + SIGKILL);
    for (int i = 0; i < 4; i++)
        assert_true(pids[i] > 0);
    assert_true(mpt_until(none_running, pids, MPT_SLACK));
    mp_shared_free(pids);
}

static int print_x(const void *arg, void *result)
{
    (void)arg;
    (void)result;
    printf("x"); /* stdout is a pipe: buffered until the worker flushes */
    return 0;
}

static void print_a(void)
{
    printf("A");
}

static int pool_with_stdout_pipe(void *arg)
{
    int *fds = arg;
    close(fds[0]);
    if (dup2(fds[1], STDOUT_FILENO) < 0)
        return 1;
    close(fds[1]);
    setvbuf(stdout, NULL, _IOFBF, 4096);
    printf("B"); /* still buffered when the pool forks */
    atexit(print_a);
    mp_pool *p = mp_pool_new(2);
    if (p == NULL)
        return 2;
    int in[10] = {0};
    if (mp_pool_map(p, print_x, in, 10, sizeof(int), NULL, 0, 1) != MP_OK)
        return 3;
    mp_pool_close(p);
    mp_pool_join(p);
    mp_pool_free(p);
    exit(0); /* runs print_a once, here */
}

/* Read fd to its end (at most cap - 1 bytes) into buf, NUL-terminated;
 * close it. Returns the length. */
static size_t read_all(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    ssize_t n;
    while (len < cap - 1 && (n = read(fd, buf + len, cap - 1 - len)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
    close(fd);
    return len;
}

static void test_pool_workers_flush_stdio_and_skip_atexit(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t child = mpt_fork(pool_with_stdout_pipe, fds);
    close(fds[1]);
    char buf[256];
    size_t len = read_all(fds[0], buf, sizeof buf);
    assert_int_equal(mpt_wait(child), 0);
    int a = 0, b = 0, x = 0;
    for (size_t i = 0; i < len; i++) {
        a += buf[i] == 'A';
        b += buf[i] == 'B';
        x += buf[i] == 'x';
    }
    assert_int_equal(b, 1);  /* flushed before the fork, never repeated */
    assert_int_equal(a, 1);  /* only the program's own exit ran atexit */
    assert_int_equal(x, 10); /* every worker flushed before _exit */
}

static void test_pool_free_leaves_no_fd_or_zombie(void **state)
{
    (void)state;
    int fds = mpt_count_fds();
    static struct cb_log log;
    memset(&log, 0, sizeof log);
    log.parent = getpid();
    mp_callbacks cb = {on_result, on_error, &log};
    for (int round = 0; round < 3; round++) {
        mp_pool *p = mp_pool_new(3);
        assert_non_null(p);
        int x = 3, r;
        mp_async *a = mp_pool_apply_async(p, square, &x, sizeof x, sizeof r, &cb);
        assert_non_null(a);
        assert_int_equal(mp_async_get(a, &r, 10), MP_OK);
        mp_async_free(a);
        assert_int_equal(mp_pool_apply(p, kill_self, NULL, 0, NULL, 0), MP_EWORKERDIED);
        if (round == 1) {
            mp_pool_close(p);
            mp_pool_join(p);
        }
        mp_pool_free(p);
        assert_int_equal(mpt_count_fds(), fds);
        assert_int_equal(mpt_count_zombies(), 0);
        assert_int_equal(only_child(), 0);
    }
}

/* ---- futures: wait_any, wait_all, cancel ------------------------------- */

/* Gates in the shared heap: task i blocks until gate i is set. Made
 * before the pool, so the workers inherit the pointer. */
enum { GATES = 64 };
struct gates {
    mp_event *ev[GATES]; /* the gates */
    mp_event *running;   /* set by a gated task once it runs */
    _Atomic int ran;     /* count_run calls */
};
static struct gates *gates;

static void gates_new(void)
{
    gates = mp_shared_calloc(1, sizeof *gates);
    assert_non_null(gates);
    for (int i = 0; i < GATES; i++)
        assert_non_null(gates->ev[i] = mp_event_new());
    assert_non_null(gates->running = mp_event_new());
}

static void gates_free(void)
{
    for (int i = 0; i < GATES; i++)
        mp_event_free(gates->ev[i]);
    mp_event_free(gates->running);
    mp_shared_free(gates);
    gates = NULL;
}

/* Returns its gate number once gate arg is set (code 99 after 30 s). */
static int wait_gate(const void *arg, void *result)
{
    int i = *(const int *)arg;
    mp_event_set(gates->running);
    if (mp_event_wait(gates->ev[i], 30) != MP_OK)
        return 99;
    *(int *)result = i;
    return 0;
}

static int count_run(const void *arg, void *result)
{
    (void)arg;
    (void)result;
    atomic_fetch_add(&gates->ran, 1);
    return 0;
}

/* Sleeps arg microseconds: tasks of random length. */
static int sleep_us(const void *arg, void *result)
{
    usleep(*(const unsigned *)arg);
    *(unsigned *)result = *(const unsigned *)arg;
    return 0;
}

static void shuffle(int *v, int n, unsigned seed)
{
    for (int i = 0; i < n; i++)
        v[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int k = (int)(rand_r(&seed) % (unsigned)(i + 1)), t = v[i];
        v[i] = v[k];
        v[k] = t;
    }
}

/* Python's as_completed: wait_any over the handles not yet consumed
 * returns each once, in the order they complete. The tasks complete one
 * at a time, in a random order the test decides by opening their gates. */
static void test_pool_wait_any_returns_each_once_in_completion_order(void **state)
{
    (void)state;
    enum { N = 50 };
    gates_new();
    mp_pool *p = mp_pool_new(N); /* every task runs at once; the gates order them */
    assert_non_null(p);
    mp_async *h[N];
    int in[N], order[N];
    for (int i = 0; i < N; i++) {
        in[i] = i;
        assert_non_null(
            h[i] = mp_pool_apply_async(p, wait_gate, &in[i], sizeof(int), sizeof(int), NULL));
    }
    unsigned seed = (unsigned)time(NULL);
    shuffle(order, N, seed);
    for (int k = 0; k < N; k++) {
        size_t idx = 999;
        /* Nothing is ready before its gate opens. */
        if (k % 10 == 0)
            assert_int_equal(mp_async_wait_any(h, N, 0, &idx), MP_ETIMEDOUT);
        assert_int_equal(mp_event_set(gates->ev[order[k]]), MP_OK);
        assert_int_equal(mp_async_wait_any(h, N, 10, &idx), MP_OK);
        if ((int)idx != order[k])
            fail_msg("seed %u: step %d returned %zu, expected %d", seed, k, idx, order[k]);
        int r = -1;
        assert_int_equal(mp_async_get(h[idx], &r, 0), MP_OK);
        assert_int_equal(r, order[k]);
        mp_async_free(h[idx]);
        h[idx] = NULL; /* consumed: skipped from now on */
    }
    size_t idx;
    assert_int_equal(mp_async_wait_any(h, N, 1, &idx), MP_EINVAL); /* all NULL */
    mp_pool_free(p);

    /* Tasks of random length on few workers: still each exactly once,
     * and only ready ones. */
    p = mp_pool_new(3);
    assert_non_null(p);
    unsigned us[N];
    int seen[N] = {0};
    for (int i = 0; i < N; i++) {
        us[i] = (unsigned)(rand_r(&seed) % 20000);
        assert_non_null(
            h[i] = mp_pool_apply_async(p, sleep_us, &us[i], sizeof us[i], sizeof us[i], NULL));
    }
    for (int k = 0; k < N; k++) {
        assert_int_equal(mp_async_wait_any(h, N, 10, &idx), MP_OK);
        assert_true(idx < N && h[idx] != NULL && mp_async_ready(h[idx]));
        unsigned r = 0;
        assert_int_equal(mp_async_get(h[idx], &r, 0), MP_OK);
        assert_int_equal(r, us[idx]);
        seen[idx]++;
        mp_async_free(h[idx]);
        h[idx] = NULL;
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(seen[i], 1);
    mp_pool_free(p);
    gates_free();
}

struct cb_seen {
    _Atomic int calls;
};

static void note_result(void *result, void *userdata)
{
    (void)result;
    atomic_fetch_add(&((struct cb_seen *)userdata)->calls, 1);
}

/* Timeouts, bad input, handles from two pools, wait_all, and callbacks
 * having run before a handle counts as ready. */
static void test_pool_wait_any_and_all_across_pools(void **state)
{
    (void)state;
    gates_new();
    mp_pool *a = mp_pool_new(1), *b = mp_pool_new(2);
    assert_non_null(a);
    assert_non_null(b);
    int g[3] = {0, 1, 2};
    static struct cb_seen seen;
    atomic_store(&seen.calls, 0);
    mp_callbacks cb = {note_result, NULL, &seen};
    mp_async *h[4];
    assert_non_null(h[0] =
                        mp_pool_apply_async(a, wait_gate, &g[0], sizeof(int), sizeof(int), NULL));
    h[1] = NULL;
    assert_non_null(h[2] = mp_pool_apply_async(b, wait_gate, &g[1], sizeof(int), sizeof(int), &cb));
    assert_non_null(h[3] =
                        mp_pool_apply_async(b, wait_gate, &g[2], sizeof(int), sizeof(int), NULL));

    size_t idx = 999;
    assert_int_equal(mp_async_wait_any(NULL, 2, 1, &idx), MP_EINVAL);
    assert_int_equal(mp_async_wait_any(h, 0, 1, &idx), MP_EINVAL);
    assert_int_equal(mp_async_wait_any(h, 4, NAN, &idx), MP_EINVAL);
    assert_int_equal(mp_async_wait_all(NULL, 2, 1), MP_EINVAL);
    assert_int_equal(mp_async_wait_all(h, 4, NAN), MP_EINVAL);
    assert_int_equal(mp_async_wait_all(NULL, 0, 1), MP_OK);
    double t0 = mpt_now();
    assert_int_equal(mp_async_wait_any(h, 4, 0.1, &idx), MP_ETIMEDOUT);
    double dt = mpt_now() - t0;
    assert_true(dt >= 0.1 && dt < 1.1);
    assert_int_equal(idx, 999);
    t0 = mpt_now();
    assert_int_equal(mp_async_wait_all(h, 4, 0.1), MP_ETIMEDOUT);
    dt = mpt_now() - t0;
    assert_true(dt >= 0.1 && dt < 1.1);

    /* The handle with a callback is ready only once its callback ran. */
    assert_int_equal(mp_event_set(gates->ev[1]), MP_OK);
    assert_int_equal(mp_async_wait_any(h, 4, 10, &idx), MP_OK);
    assert_int_equal(idx, 2);
    assert_int_equal(atomic_load(&seen.calls), 1);
    /* The first pool's handle wakes a wait on both pools. */
    assert_int_equal(mp_event_set(gates->ev[0]), MP_OK);
    mp_async *two[2] = {h[3], h[0]};
    assert_int_equal(mp_async_wait_any(two, 2, 10, &idx), MP_OK);
    assert_int_equal(idx, 1);
    assert_int_equal(mp_event_set(gates->ev[2]), MP_OK);
    assert_int_equal(mp_async_wait_all(h, 4, 10), MP_OK);
    for (int i = 0; i < 4; i++)
        if (h[i] != NULL) {
            assert_true(mp_async_ready(h[i]));
            mp_async_free(h[i]);
        }
    mp_pool_free(a);
    mp_pool_free(b);
    gates_free();
}

static void on_cancel_error(int code, int task, void *userdata)
{
    (void)task;
    struct cb_log *l = userdata;
    atomic_store(&l->last_code, code);
    atomic_fetch_add(&l->err, 1);
}

/* Work not yet started never runs once cancelled and reads MP_ECANCELED;
 * running or finished work cannot be cancelled. */
static void test_pool_cancel_queued_tasks_behind_a_blocked_worker(void **state)
{
    (void)state;
    enum { N = 100 };
    gates_new();
    mp_pool *p = mp_pool_new(1);
    assert_non_null(p);
    int g0 = 0, r = -1;
    mp_async *blocker = mp_pool_apply_async(p, wait_gate, &g0, sizeof g0, sizeof r, NULL);
    assert_non_null(blocker);
    assert_int_equal(mp_event_wait(gates->running, 10), MP_OK);
    mp_async *h[N];
    for (int i = 0; i < N; i++)
        assert_non_null(h[i] = mp_pool_apply_async(p, count_run, NULL, 0, 0, NULL));
    for (int i = 0; i < N; i++) {
        assert_false(mp_async_cancelled(h[i]));
        assert_int_equal(mp_async_cancel(h[i]), MP_OK);
        assert_true(mp_async_cancelled(h[i]));
        assert_true(mp_async_ready(h[i]));
        assert_false(mp_async_successful(h[i]));
        assert_int_equal(mp_async_get(h[i], NULL, 0), MP_ECANCELED);
        assert_int_equal(mp_async_cancel(h[i]), MP_OK); /* again: still cancelled */
    }
    /* A cancelled handle is ready for wait_any at once. */
    size_t idx = 999;
    assert_int_equal(mp_async_wait_any(h, N, 0, &idx), MP_OK);
    assert_int_equal(idx, 0);
    /* Running: too late. */
    assert_int_equal(mp_async_cancel(blocker), MP_ESTATE);
    assert_false(mp_async_cancelled(blocker));
    assert_int_equal(mp_async_cancel(NULL), MP_EINVAL);
    assert_false(mp_async_cancelled(NULL));

    /* An error callback reports the cancellation. */
    static struct cb_log log;
    memset(&log, 0, sizeof log);
    mp_callbacks cb = {on_result, on_cancel_error, &log};
    mp_async *withcb = mp_pool_apply_async(p, count_run, NULL, 0, 0, &cb);
    assert_non_null(withcb);
    assert_int_equal(mp_async_cancel(withcb), MP_OK);
    assert_int_equal(mp_async_wait(withcb, 10), MP_OK);
    assert_int_equal(atomic_load(&log.err), 1);
    assert_int_equal(atomic_load(&log.last_code), MP_ECANCELED);
    mp_async_free(withcb);

    /* Let the worker through: it must skip every cancelled task. */
    assert_int_equal(mp_event_set(gates->ev[0]), MP_OK);
    assert_int_equal(mp_async_get(blocker, &r, 10), MP_OK);
    assert_int_equal(r, 0);
    assert_int_equal(mp_async_cancel(blocker), MP_ESTATE); /* done: too late */
    assert_int_equal(mp_pool_apply(p, count_run, NULL, 0, NULL, 0), MP_OK);
    assert_int_equal(atomic_load(&gates->ran), 1);
    for (int i = 0; i < N; i++)
        mp_async_free(h[i]);

    /* A map: the chunk that runs completes, the others are cancelled. */
    mp_event_clear(gates->running);
    int in[10], out[10];
    for (int i = 0; i < 10; i++) {
        in[i] = i + 1;
        out[i] = -1;
    }
    mp_async *m = mp_pool_map_async(p, wait_gate, in, 10, sizeof(int), sizeof(int), 1, NULL);
    assert_non_null(m);
    assert_int_equal(mp_event_wait(gates->running, 10), MP_OK); /* item 0 runs */
    assert_int_equal(mp_async_cancel(m), MP_OK);
    assert_true(mp_async_cancelled(m));
    assert_false(mp_async_ready(m)); /* item 0 still runs */
    assert_int_equal(mp_event_set(gates->ev[1]), MP_OK);
    assert_int_equal(mp_async_get(m, out, 10), MP_ECANCELED);
    assert_int_equal(out[0], 1);
    for (int i = 1; i < 10; i++)
        assert_int_equal(out[i], -1);
    mp_async_free(m);
    mp_async_free(blocker);
    mp_pool_free(p);
    gates_free();
}

/* ---- time limits --------------------------------------------------------- */

static int forever_on_500(const void *arg, void *result)
{
    int x = *(const int *)arg;
    if (x == 500)
        for (;;)
            pause();
    *(int *)result = x * x;
    return 0;
}

/* One task that never returns among 1000 quick ones: it fails with
 * MP_ETIMEDOUT once past the limit, its worker is replaced, and every
 * other task completes. */
static void test_pool_task_timeout_stops_a_task_that_never_returns(void **state)
{
    (void)state;
    enum { N = 1000 };
    errno = 0;
    assert_null(mp_pool_new_opts(&(mp_pool_opts){.processes = 1, .task_timeout = -1}));
    assert_int_equal(errno, EINVAL);
    assert_null(mp_pool_new_opts(&(mp_pool_opts){.processes = 1, .task_timeout = NAN}));
    mp_pool *p = mp_pool_new_opts(&(mp_pool_opts){.processes = 2, .task_timeout = 0.5});
    assert_non_null(p);
    static int in[N], out[N];
    for (int i = 0; i < N; i++) {
        in[i] = i;
        out[i] = -1;
    }
    double t0 = mpt_now();
    assert_int_equal(mp_pool_map(p, forever_on_500, in, N, sizeof(int), out, sizeof(int), 1),
                     MP_ETIMEDOUT);
    double dt = mpt_now() - t0;
    assert_true(dt >= 0.5 && dt < 5.5);
    for (int i = 0; i < N; i++)
        assert_int_equal(out[i], i == 500 ? -1 : i * i);

    /* The same with handles: only the one that never returns fails, and
     * it is ready (MP_ETIMEDOUT from a ready handle is the time limit). */
    mp_async *h[N];
    for (int i = 0; i < N; i++)
        assert_non_null(
            h[i] = mp_pool_apply_async(p, forever_on_500, &in[i], sizeof(int), sizeof(int), NULL));
    for (int i = 0; i < N; i++) {
        int r = -1;
        int rc = mp_async_get(h[i], &r, 10);
        if (i == 500) {
            assert_int_equal(rc, MP_ETIMEDOUT);
            assert_true(mp_async_ready(h[i]));
        } else {
            assert_int_equal(rc, MP_OK);
            assert_int_equal(r, i * i);
        }
        mp_async_free(h[i]);
    }
    /* An imap reports it at its index and goes on. */
    mp_imap *it = mp_pool_imap(p, forever_on_500, in, N, sizeof(int), sizeof(int), 50);
    assert_non_null(it);
    int timedout = 0;
    for (int k = 0; k < N; k++) {
        int r;
        size_t i = SIZE_MAX;
        int rc = mp_imap_next(it, &r, &i, 10);
        assert_int_equal(i, k);
        if (rc == MP_ETIMEDOUT)
            timedout++;
        else
            assert_int_equal(rc, MP_OK);
    }
    assert_int_equal(timedout, 50); /* the whole chunk of item 500 */
    mp_imap_free(it);
    mp_pool_free(p);
}

/* ---- results of any size ----------------------------------------------- */

/* A result of arg bytes, each byte a function of its place and the size. */
static int big_result(const void *arg, void *result)
{
    (void)result;
    size_t n = *(const size_t *)arg;
    unsigned char *b = mp_task_result_alloc(n);
    if (b == NULL)
        return 1;
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(i * 7 + n);
    return 0;
}

static bool big_result_ok(const unsigned char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i] != (unsigned char)(i * 7 + n))
            return false;
    return true;
}

static void test_pool_results_of_any_size(void **state)
{
    (void)state;
    errno = 0;
    assert_null(mp_task_result_alloc(8)); /* not in a task */
    assert_int_equal(errno, EPERM);
    mp_pool *p = mp_pool_new(2);
    assert_non_null(p);
    size_t sizes[] = {1u << 20, 0, 3};
    for (size_t k = 0; k < 3; k++) {
        mp_async *a = mp_pool_apply_async(p, big_result, &sizes[k], sizeof(size_t), 0, NULL);
        assert_non_null(a);
        void *r = NULL;
        size_t len = 12345;
        assert_int_equal(mp_async_get_alloc(a, &r, &len, 10), MP_OK);
        assert_non_null(r); /* even for 0 bytes */
        assert_int_equal(len, sizes[k]);
        assert_true(big_result_ok(r, len));
        free(r);
        /* Read again: the pool keeps its copy until the handle goes. */
        assert_int_equal(mp_async_get_alloc(a, &r, &len, 0), MP_OK);
        assert_int_equal(len, sizes[k]);
        free(r);
        mp_async_free(a);
    }
    /* No allocated result: the fixed bytes. */
    int x = 9;
    mp_async *a = mp_pool_apply_async(p, square, &x, sizeof x, sizeof(int), NULL);
    assert_non_null(a);
    void *r = NULL;
    size_t len = 0;
    assert_int_equal(mp_async_get_alloc(a, &r, &len, 10), MP_OK);
    assert_int_equal(len, sizeof(int));
    assert_int_equal(*(int *)r, 81);
    free(r);
    assert_int_equal(mp_async_get_alloc(a, NULL, &len, 1), MP_EINVAL);
    assert_int_equal(mp_async_get_alloc(a, &r, NULL, 1), MP_EINVAL);
    assert_int_equal(mp_async_get_alloc(a, &r, &len, NAN), MP_EINVAL);
    mp_async_free(a);
    /* A failed task gives no result; a handle of several items is refused. */
    x = 7;
    a = mp_pool_apply_async(p, square_but_7, &x, sizeof x, sizeof(int), NULL);
    assert_non_null(a);
    r = (void *)1;
    assert_int_equal(mp_async_get_alloc(a, &r, &len, 10), MP_ETASK);
    assert_null(r);
    assert_int_equal(len, 0);
    mp_async_free(a);
    int two[2] = {1, 2};
    a = mp_pool_map_async(p, square, two, 2, sizeof(int), sizeof(int), 0, NULL);
    assert_non_null(a);
    assert_int_equal(mp_async_get_alloc(a, &r, &len, 10), MP_EINVAL);
    mp_async_free(a);

    /* imap: a size per item, in any order. */
    enum { N = 40 };
    size_t in[N];
    int seen[N] = {0};
    for (int i = 0; i < N; i++)
        in[i] = (size_t)i * 1000;
    mp_imap *it = mp_pool_imap_unordered(p, big_result, in, N, sizeof(size_t), 0, 3);
    assert_non_null(it);
    for (int k = 0; k < N; k++) {
        size_t idx = SIZE_MAX;
        assert_int_equal(mp_imap_next_alloc(it, &r, &len, &idx, 10), MP_OK);
        assert_true(idx < N);
        assert_int_equal(len, in[idx]);
        assert_true(big_result_ok(r, len));
        seen[idx]++;
        free(r);
    }
    assert_int_equal(mp_imap_next_alloc(it, &r, &len, NULL, 0), MP_ECLOSED);
    assert_int_equal(mp_imap_next_alloc(NULL, &r, &len, NULL, 0), MP_EINVAL);
    for (int i = 0; i < N; i++)
        assert_int_equal(seen[i], 1);
    mp_imap_free(it);
    mp_pool_free(p);
}

/* Whether the heap's bytes in use come back to want within a few seconds:
 * a worker drops its reference on a job just after waking its waiters. */
static bool heap_settles_at(size_t want)
{
    double t0 = mpt_now();
    while (mpt_heap_in_use() != want && mpt_now() - t0 < 5)
        sched_yield();
    if (mpt_heap_in_use() == want)
        return true;
    print_error("heap in use: %zu bytes, expected %zu\n", mpt_heap_in_use(), want);
    return false;
}

static int big_then_die(const void *arg, void *result)
{
    big_result(arg, result);
    kill(getpid(), SIGKILL);
    pause();
    return 0;
}

static int big_then_hang(const void *arg, void *result)
{
    big_result(arg, result);
    for (;;)
        pause();
    return 0;
}

/* The pool frees what it allocated: a handle freed unread, a worker that
 * died holding a result, a task stopped by its time limit, an imap freed
 * half read, and the pool itself. */
static void test_pool_handle_freed_unread_leaks_nothing(void **state)
{
    (void)state;
    /* This thread's wait_any cell is made once and kept: make it now. */
    mp_pool *p = mp_pool_new(1);
    assert_non_null(p);
    int x = 2;
    mp_async *w[2];
    for (int i = 0; i < 2; i++)
        assert_non_null(w[i] = mp_pool_apply_async(p, square, &x, sizeof x, sizeof x, NULL));
    size_t idx;
    assert_int_equal(mp_async_wait_any(w, 2, 10, &idx), MP_OK);
    mp_async_wait_all(w, 2, 10);
    mp_async_free(w[0]);
    mp_async_free(w[1]);
    mp_pool_free(p);

    size_t before = mpt_heap_in_use();
    p = mp_pool_new_opts(&(mp_pool_opts){.processes = 2, .task_timeout = 1.0 * SLOW});
    assert_non_null(p);
    size_t with_pool = mpt_heap_in_use();
    size_t mib = 1u << 20;
    for (int round = 0; round < 3; round++) {
        mp_async *a = mp_pool_apply_async(p, big_result, &mib, sizeof mib, 0, NULL);
        assert_non_null(a);
        assert_int_equal(mp_async_wait(a, 10), MP_OK);
        assert_true(mpt_heap_in_use() >= with_pool + mib); /* the result is there */
        mp_async_free(a);                              /* unread */
        assert_true(heap_settles_at(with_pool));
    }
    mp_async *a = mp_pool_apply_async(p, big_then_die, &mib, sizeof mib, 0, NULL);
    assert_non_null(a);
    assert_int_equal(mp_async_get(a, NULL, 10), MP_EWORKERDIED);
    mp_async_free(a);
    assert_true(heap_settles_at(with_pool));
    size_t in[8] = {mib, mib, mib, mib, mib, mib, mib, mib};
    mp_imap *it = mp_pool_imap(p, big_result, in, 8, sizeof(size_t), 0, 1);
    assert_non_null(it);
    void *r;
    size_t len;
    assert_int_equal(mp_imap_next_alloc(it, &r, &len, NULL, 10), MP_OK);
    free(r);
    mp_imap_free(it); /* the rest unread */
    assert_true(heap_settles_at(with_pool));
    a = mp_pool_apply_async(p, big_then_hang, &mib, sizeof mib, 0, NULL);
    assert_non_null(a);
    assert_int_equal(mp_async_get(a, NULL, 10 * SLOW), MP_ETIMEDOUT);
    mp_async_free(a);
    assert_int_equal(mp_pool_close(p), MP_OK);
    assert_int_equal(mp_pool_join(p), MP_OK); /* every worker reaped: the last results freed */
    mp_pool_free(p);
    assert_true(heap_settles_at(before));
}

/* ---- a pool that cannot start -------------------------------------------- */

static _Atomic int *init_runs; /* shared: one per worker forked */

static void init_abort(void *arg)
{
    (void)arg;
    atomic_fetch_add(init_runs, 1);
    abort();
}

static void init_exit(void *arg)
{
    (void)arg;
    atomic_fetch_add(init_runs, 1);
    exit(1);
}

static void test_pool_failing_initializer_breaks_the_pool_fast(void **state)
{
    (void)state;
    struct rlimit core, nocore = {0, 0};
    getrlimit(RLIMIT_CORE, &core);
    setrlimit(RLIMIT_CORE, &nocore); /* abort() in the workers: no core files */
    init_runs = mp_shared_calloc(1, sizeof *init_runs);
    assert_non_null(init_runs);
    void (*inits[2])(void *) = {init_abort, init_exit};
    for (int k = 0; k < 2; k++) {
        atomic_store(init_runs, 0);
        double t0 = mpt_now();
        mp_pool *p = mp_pool_new_opts(&(mp_pool_opts){.processes = 2, .initializer = inits[k]});
        assert_non_null(p);
        int in[10] = {0}, out[10];
        mp_async *m = mp_pool_map_async(p, square, in, 10, sizeof(int), sizeof(int), 1, NULL);
        if (m != NULL) {
            assert_int_equal(mp_async_get(m, out, 10), MP_EBROKEN);
            mp_async_free(m);
        } else {
            assert_int_equal(errno, ENOTRECOVERABLE); /* broken already */
        }
        assert_true(mpt_now() - t0 < 2.0 * SLOW);
        /* Later work fails at once. */
        int x = 3, r;
        assert_int_equal(mp_pool_apply(p, square, &x, sizeof x, &r, sizeof r), MP_EBROKEN);
        errno = 0;
        assert_null(mp_pool_apply_async(p, square, &x, sizeof x, sizeof r, NULL));
        assert_int_equal(errno, ENOTRECOVERABLE);
        assert_int_equal(mp_pool_map(p, square, in, 10, sizeof(int), out, sizeof(int), 0),
                         MP_EBROKEN);
        assert_int_equal(mp_pool_close(p), MP_OK);
        assert_int_equal(mp_pool_join_timeout(p, 10), MP_OK);
        /* It stopped forking: at most 3 x processes workers ever. */
        int forks = atomic_load(init_runs);
        assert_true(forks >= 2 && forks <= 3 * 2);
        mp_pool_free(p);
        assert_int_equal(mpt_count_zombies(), 0);
    }
    mp_shared_free((void *)init_runs);
    setrlimit(RLIMIT_CORE, &core);
}

/* ---- rough edges ------------------------------------------------------------ */

static int join_from_child(void *arg)
{
    return mp_pool_join(arg) == MP_ESTATE && mp_pool_join_timeout(arg, 0) == MP_ESTATE ? 0 : 1;
}

static void test_pool_join_timeout_and_who_may_join(void **state)
{
    (void)state;
    gates_new();
    mp_pool *p = mp_pool_new(1);
    assert_non_null(p);
    int g = 0, r;
    mp_async *a = mp_pool_apply_async(p, wait_gate, &g, sizeof g, sizeof r, NULL);
    assert_non_null(a);
    assert_int_equal(mp_pool_join_timeout(p, 0.1), MP_ESTATE); /* still running */
    assert_int_equal(mp_pool_close(p), MP_OK);
    double t0 = mpt_now();
    assert_int_equal(mp_pool_join_timeout(p, 0.1), MP_ETIMEDOUT);
    double dt = mpt_now() - t0;
    assert_true(dt >= 0.1 && dt < 1.1);
    assert_int_equal(mp_pool_join_timeout(p, NAN), MP_EINVAL);
    assert_int_equal(mp_pool_join_timeout(NULL, 1), MP_EINVAL);
    /* Only the creator reaps the pool's processes. */
    pid_t child = mpt_fork(join_from_child, p);
    assert_int_equal(mpt_wait(child), 0);
    assert_int_equal(mp_event_set(gates->ev[0]), MP_OK);
    assert_int_equal(mp_pool_join_timeout(p, 10), MP_OK);
    assert_int_equal(mp_async_get(a, &r, 0), MP_OK);
    mp_async_free(a);
    mp_pool_free(p);
    gates_free();
}

/* A task that uses its own pool: every call refuses, none hangs. Result
 * bits say which call misbehaved. */
static int use_own_pool(const void *arg, void *result)
{
    mp_pool *self = *(mp_pool *const *)arg;
    int x = 2, r, bad = 0;
    if (mp_pool_apply(self, square, &x, sizeof x, &r, sizeof r) != MP_ESTATE)
        bad |= 1;
    errno = 0;
    if (mp_pool_apply_async(self, square, &x, sizeof x, sizeof r, NULL) != NULL || errno != EDEADLK)
        bad |= 2;
    errno = 0;
    if (mp_pool_imap(self, square, &x, 1, sizeof x, sizeof r, 0) != NULL || errno != EDEADLK)
        bad |= 4;
    if (mp_pool_map(self, square, &x, 1, sizeof x, &r, sizeof r, 0) != MP_ESTATE)
        bad |= 8;
    if (mp_pool_join(self) != MP_ESTATE || mp_pool_close(self) != MP_ESTATE ||
        mp_pool_terminate(self) != MP_ESTATE)
        bad |= 16;
    *(int *)result = bad;
    return 0;
}

static void test_pool_used_from_its_own_task_refuses(void **state)
{
    (void)state;
    mp_pool *p = mp_pool_new(2);
    assert_non_null(p);
    int bad = -1;
    assert_int_equal(mp_pool_apply(p, use_own_pool, &p, sizeof p, &bad, sizeof bad), MP_OK);
    assert_int_equal(bad, 0);
    int x = 5, r;
    assert_int_equal(mp_pool_apply(p, square, &x, sizeof x, &r, sizeof r), MP_OK); /* unharmed */
    assert_int_equal(r, 25);
    mp_pool_free(p);
}

static int first_byte(const void *arg, void *result)
{
    (void)arg;
    (void)result;
    return 0;
}

static const char literal[] = "in the program image";
static char in_bss[32];

/* In a child with its stderr on a pipe: submit a shared-heap pointer, a
 * pointer to a literal and to a static, then a private (malloc) pointer
 * twice. */
static int submit_pointers(void *arg)
{
    int *fds = arg;
    close(fds[0]);
    if (dup2(fds[1], STDERR_FILENO) < 0)
        return 1;
    close(fds[1]);
    if (setenv("MP_DEBUG_POINTERS", "1", 1) != 0)
        return 2;
    mp_pool *p = mp_pool_new(1);
    if (p == NULL)
        return 3;
    char *shared = mp_shared_malloc(16), *priv = malloc(16);
    const char *ok[3] = {shared, literal, in_bss};
    for (int i = 0; i < 3; i++)
        if (mp_pool_apply(p, first_byte, &ok[i], sizeof ok[i], NULL, 0) != MP_OK)
            return 4;
    fprintf(stderr, "--\n");
    for (int i = 0; i < 2; i++)
        if (mp_pool_apply(p, first_byte, &priv, sizeof priv, NULL, 0) != MP_OK)
            return 5;
    mp_pool_free(p);
    mp_shared_free(shared);
    free(priv);
    return 0;
}

static void test_pool_debug_pointers_warns_once(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t child = mpt_fork(submit_pointers, fds);
    close(fds[1]);
    char buf[4096];
    read_all(fds[0], buf, sizeof buf);
    assert_int_equal(mpt_wait(child), 0);
    char *sep = strstr(buf, "--\n");
    assert_non_null(sep);
    assert_null(strstr(buf, "MP_DEBUG_POINTERS") != NULL && strstr(buf, "MP_DEBUG_POINTERS") < sep
                    ? buf
                    : NULL); /* none for the allowed pointers */
    char *w = strstr(sep, "MP_DEBUG_POINTERS");
    assert_non_null(w);                              /* the private one */
    assert_null(strstr(w + 1, "MP_DEBUG_POINTERS")); /* once */
}

/* ---- stopped processes ------------------------------------------------------ */

/* With a worker, or the supervisor, SIGSTOPped at a random moment of a
 * busy pool (a worker is often inside the pool lock), apply_async returns
 * at once and get(0.2) within 1.2 s, result or MP_ETIMEDOUT. */
static void test_pool_stopped_worker_or_supervisor_never_blocks_a_timed_call(void **state)
{
    (void)state;
    enum { TRIES = 20, N = 200000 };
    static int in[N];
    for (int i = 0; i < N; i++)
        in[i] = i % 1000;
    mp_pool *p = mp_pool_new(2);
    assert_non_null(p);
    pid_t sup = only_child();
    assert_true(sup > 0);
    unsigned seed = (unsigned)time(NULL);
    int in_lock = 0;
    for (int who = 0; who < 2; who++) {
        for (int t = 0; t < TRIES; t++) {
            mp_async *bg = mp_pool_map_async(p, square, in, N, sizeof(int), sizeof(int), 1, NULL);
            assert_non_null(bg);
            pid_t victim = sup, w[4];
            /* A random moment of the map (a busy wait, not a synchronisation). */
            double until = mpt_now() + (rand_r(&seed) % 5000) * 1e-6;
            while (mpt_now() < until)
                ;
            if (who == 0) {
                int nw = children_of(sup, w, 4);
                assert_true(nw > 0);
                victim = w[rand_r(&seed) % (unsigned)nw];
                /* Every other try, the worker seen holding the pool lock:
                 * the signal often lands before it lets go. */
                for (int k = 0; t % 2 == 0 && k < 1000000; k++) {
                    pid_t owner = mp__lock_owner(&p->lock);
                    if (owner == w[0] || (nw > 1 && owner == w[1])) {
                        victim = owner;
                        break;
                    }
                }
            }
            assert_int_equal(kill(victim, SIGSTOP), 0);
            double t0 = mpt_now();
            while (mpt_proc_state(victim) != 'T' && mpt_now() - t0 < 5)
                sched_yield();
            assert_int_equal(mpt_proc_state(victim), 'T');
            in_lock += who == 0 && mp__lock_owner(&p->lock) == victim;

            int x = t + 1, r = 0;
            t0 = mpt_now();
            mp_async *a = mp_pool_apply_async(p, square, &x, sizeof x, sizeof r, NULL);
            double t1 = mpt_now();
            assert_non_null(a);
            assert_true(t1 - t0 < 1.0); /* at once, but for preemption */
            int rc = mp_async_get(a, &r, 0.2);
            double t2 = mpt_now();
            assert_true(rc == MP_ETIMEDOUT || (rc == MP_OK && r == x * x));
            if (t2 - t1 >= 1.2)
                fail_msg("%s stopped: get(0.2) took %.3f s", who ? "supervisor" : "worker",
                         t2 - t1);
            assert_int_equal(kill(victim, SIGCONT), 0);
            assert_int_equal(mp_async_get(a, &r, 30), MP_OK);
            assert_int_equal(r, x * x);
            mp_async_free(a);
            assert_int_equal(mp_async_wait(bg, 30), MP_OK);
            mp_async_free(bg);
        }
    }
    print_message("stopped worker held the pool lock in %d of %d tries\n", in_lock, TRIES);
    mp_pool_free(p);
    assert_int_equal(only_child(), 0);
}

/* A worker stopped inside the pool lock and never continued: terminate
 * (through mp_pool_free) still returns promptly and leaves nothing. */
static void test_pool_free_with_a_worker_stopped_in_the_lock(void **state)
{
    (void)state;
    enum { N = 200000 };
    static int in[N];
    for (int i = 0; i < N; i++)
        in[i] = i % 1000;
    for (int tries = 0; tries < 50; tries++) {
        mp_pool *p = mp_pool_new(2);
        assert_non_null(p);
        pid_t sup = only_child(), w[4];
        mp_async *bg = mp_pool_map_async(p, square, in, N, sizeof(int), sizeof(int), 1, NULL);
        assert_non_null(bg);
        int nw = children_of(sup, w, 4);
        assert_true(nw == 2);
        pid_t victim = 0;
        for (int k = 0; k < 10000000 && victim == 0; k++) {
            pid_t owner = mp__lock_owner(&p->lock);
            if (owner == w[0] || owner == w[1])
                victim = owner;
        }
        if (victim != 0) {
            assert_int_equal(kill(victim, SIGSTOP), 0);
            double t0 = mpt_now();
            while (mpt_proc_state(victim) != 'T' && mpt_now() - t0 < 5)
                sched_yield();
        }
        bool held = victim != 0 && mp__lock_owner(&p->lock) == victim;
        double t0 = mpt_now();
        mp_pool_free(p); /* terminate: kills the stopped holder */
        double dt = mpt_now() - t0;
        mp_async_free(bg);
        assert_true(dt < 3.0 * SLOW);
        assert_int_equal(only_child(), 0);
        if (held)
            return; /* the case this test is about happened */
    }
    skip(); /* never caught a worker inside the lock */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        mpt_test(test_pool_map_squares_matches_serial),
        mpt_test(test_pool_map_any_chunksize_is_correct),
        mpt_test(test_pool_map_task_result_never_aliases_its_argument),
        mpt_test(test_pool_apply_returns_result),
        mpt_test(test_pool_apply_async_never_runs_more_than_processes),
        mpt_test(test_pool_map_async_get_times_out_then_succeeds),
        mpt_test(test_pool_imap_yields_input_order),
        mpt_test(test_pool_imap_unordered_covers_every_index_once),
        mpt_test(test_pool_failing_task_reports_code_and_keeps_others),
        mpt_test(test_pool_callbacks_run_in_parent_once_per_task),
        mpt_test(test_pool_error_callback_gets_closed_on_terminate),
        mpt_test(test_pool_initializer_runs_once_per_worker),
        mpt_test(test_pool_maxtasksperchild_replaces_workers),
        mpt_test(test_pool_killed_worker_fails_only_its_task),
        mpt_test(test_pool_worker_death_in_map_fails_its_chunk_only),
        mpt_test(test_pool_terminate_fails_pending_promptly),
        mpt_test(test_pool_close_join_and_state_rules),
        mpt_test(test_pool_close_wakes_every_idle_worker),
        mpt_test(test_pool_big_maps_reuse_memory_correctly),
        mpt_test(test_pool_accepts_work_from_a_forked_child),
        mpt_test(test_pool_bad_input_is_einval),
        mpt_test(test_pool_arguments_are_copied_at_submission),
        mpt_test(test_pool_zero_processes_means_cpu_count),
        mpt_test(test_pool_killed_supervisor_fails_work_never_hangs),
        mpt_test(test_pool_works_with_sigchld_ignored),
        mpt_test(test_pool_workers_die_with_their_creator),
        mpt_test(test_pool_workers_flush_stdio_and_skip_atexit),
        mpt_test(test_pool_free_leaves_no_fd_or_zombie),
        mpt_test(test_pool_wait_any_returns_each_once_in_completion_order),
        mpt_test(test_pool_wait_any_and_all_across_pools),
        mpt_test(test_pool_cancel_queued_tasks_behind_a_blocked_worker),
        mpt_test(test_pool_task_timeout_stops_a_task_that_never_returns),
        mpt_test(test_pool_results_of_any_size),
        mpt_test(test_pool_handle_freed_unread_leaks_nothing),
        mpt_test(test_pool_failing_initializer_breaks_the_pool_fast),
        mpt_test(test_pool_join_timeout_and_who_may_join),
        mpt_test(test_pool_used_from_its_own_task_refuses),
        mpt_test(test_pool_debug_pointers_warns_once),
        mpt_test(test_pool_stopped_worker_or_supervisor_never_blocks_a_timed_call),
        mpt_test(test_pool_free_with_a_worker_stopped_in_the_lock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
