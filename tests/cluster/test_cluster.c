/* test_cluster.c - the cluster pool (mp/cluster.h). One program, run by
 * tests/cluster/run.sh in several ways:
 *
 *   mpirun -np 3 test_cluster           the suite: rank 0 runs the cmocka
 *                                       tests, ranks 1 and 2 serve them
 *   test_cluster                        the same suite on a local pool
 *   mpirun -np 3 test_cluster mismatch  rank 2's task table differs: every
 *                                       rank's mp_cluster_init is MP_EINVAL
 *   mpirun --enable-recovery -np 3 test_cluster recovery
 *                                       rank 2 is SIGKILLed mid-map: its
 *                                       chunks fail, the rest completes
 *   mpirun --enable-recovery -np 3 test_cluster rootlost
 *                                       rank 0 is SIGKILLed: the nodes
 *                                       return MP_ETIMEDOUT on their own
 *   mpirun -np 3 test_cluster exit      rank 0 returns from main with work
 *                                       out: the cluster ends at exit
 *
 * Only rank 0 runs cmocka; the other ranks return from mp_cluster_init
 * once rank 0 finalizes. Every task says which rank ran it. */
/* ctest-timeout: 180 */
#include "mp_test.h"

#include <mp/cluster.h>

/* The process that called main: on a node, the agent (its workers
 * inherit the value). */
static pid_t agent_pid;

/* True under mpirun with more than one rank. */
static bool distributed;

static mp_pool *pool;

/* ---- tasks (registered by name, as on every rank) -------------------------- */

struct sq {
    long value;   /* the square */
    int32_t rank; /* the rank whose worker ran it */
    int32_t pad;
};

static int square(const void *arg, void *result)
{
    long x = *(const long *)arg;
    *(struct sq *)result = (struct sq){x * x, mp_cluster_rank(), 0};
    return 0;
}
MP_TASK(square, sizeof(long), sizeof(struct sq))

/* In place: the result has the argument's size. */
static int negate(const void *arg, void *result)
{
    long x = *(const long *)arg;
    *(long *)result = -x;
    return 0;
}
MP_TASK(negate, sizeof(long), sizeof(long))

/* Odd numbers fail with code 7. */
static int fail_odd(const void *arg, void *result)
{
    long x = *(const long *)arg;
    if (x % 2 != 0)
        return 7;
    *(long *)result = x * 10;
    return 0;
}
MP_TASK(fail_odd, sizeof(long), sizeof(long))

/* Its worker dies. */
static int kill_worker(const void *arg, void *result)
{
    (void)arg;
    (void)result;
    raise(SIGKILL);
    return 0;
}
MP_TASK(kill_worker, 0, 0)

/* A result of any size: "n=<i>:" then i times 'x'. */
static int describe(const void *arg, void *result)
{
    (void)result;
    long i = *(const long *)arg;
    char head[32];
    int h = snprintf(head, sizeof head, "n=%ld:", i);
    char *s = mp_task_result_alloc((size_t)h + (size_t)i);
    if (s == NULL)
        return 1;
    memcpy(s, head, (size_t)h);
    memset(s + h, 'x', (size_t)i);
    return 0;
}
MP_TASK(describe, sizeof(long), 0)

struct blob {
    uint64_t v[8];
};

static uint64_t blob_sum(const struct blob *b)
{
    uint64_t s = 0;
    for (int k = 0; k < 8; k++)
        s += b->v[k] * (uint64_t)(k + 1);
    return s;
}

static int checksum(const void *arg, void *result)
{
    *(uint64_t *)result = blob_sum(arg);
    return 0;
}
MP_TASK(checksum, sizeof(struct blob), sizeof(uint64_t))

/* Sleeps ms milliseconds (the work), then squares it. */
static int slow_square(const void *arg, void *result)
{
    long ms = *(const long *)arg;
    usleep((useconds_t)ms * 1000);
    return square(arg, result);
}
MP_TASK(slow_square, sizeof(long), sizeof(struct sq))

/* The CPU seconds the agent process of this node has used so far. */
struct cpu {
    int32_t rank;
    int32_t pad;
    double seconds;
};

static int agent_cpu(const void *arg, void *result)
{
    (void)arg;
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)agent_pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Fields after the command's closing parenthesis: state is 3, utime 14. */
    char *p = strrchr(buf, ')');
    unsigned long utime, stime;
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
        return 2;
    *(struct cpu *)result =
        (struct cpu){mp_cluster_rank(), 0, (double)(utime + stime) / sysconf(_SC_CLK_TCK)};
    return 0;
}
MP_TASK(agent_cpu, 0, sizeof(struct cpu))

/* Not registered. */
static int stranger(const void *arg, void *result)
{
    (void)arg;
    (void)result;
    return 0;
}

/* Registered only on rank 2 in mismatch mode. */
static int extra_task(const void *arg, void *result)
{
    (void)arg;
    (void)result;
    return 0;
}

/* ---- the suite ----------------------------------------------------------------- */

static void test_cluster_counts(void **state)
{
    (void)state;
    if (distributed) {
        assert_int_equal(mp_cluster_nodes(), 3);
        assert_int_equal(mp_cluster_workers(), 4); /* 2 per node, none on rank 0 */
    } else {
        assert_int_equal(mp_cluster_nodes(), 1);
        assert_int_equal(mp_cluster_workers(), 2);
    }
    assert_int_equal(mp_cluster_rank(), 0);
}

static void test_cluster_map_uses_every_node(void **state)
{
    (void)state;
    enum { N = 1000 };
    static long in[N];
    static struct sq out[N];
    for (long i = 0; i < N; i++)
        in[i] = i;
    assert_int_equal(mp_pool_map(pool, square, in, N, sizeof *in, out, sizeof *out, 0), 0);
    int per_rank[3] = {0};
    for (long i = 0; i < N; i++) {
        assert_int_equal(out[i].value, i * i);
        assert_true(out[i].rank >= 0 && out[i].rank < 3);
        per_rank[out[i].rank]++;
    }
    if (distributed) {
        /* Rank 0 has no worker: every item ran on a node, both took some. */
        assert_int_equal(per_rank[0], 0);
        assert_true(per_rank[1] > 0);
        assert_true(per_rank[2] > 0);
    } else {
        assert_int_equal(per_rank[0], N);
    }
}

static void test_cluster_map_in_place(void **state)
{
    (void)state;
    enum { N = 333 };
    long in[N], out[N];
    for (long i = 0; i < N; i++)
        in[i] = i + 1;
    assert_int_equal(mp_pool_map(pool, negate, in, N, sizeof *in, out, sizeof *out, 10), 0);
    for (long i = 0; i < N; i++)
        assert_int_equal(out[i], -(i + 1));
}

static void test_cluster_imap_unordered(void **state)
{
    (void)state;
    enum { N = 300 };
    long in[N];
    bool seen[N] = {false};
    for (long i = 0; i < N; i++)
        in[i] = i;
    mp_imap *it = mp_pool_imap_unordered(pool, square, in, N, sizeof *in, sizeof(struct sq), 7);
    assert_non_null(it);
    struct sq r;
    size_t idx, got = 0;
    int rc;
    while ((rc = mp_imap_next(it, &r, &idx, 30.0)) == 0) {
        assert_true(idx < N);
        assert_false(seen[idx]);
        seen[idx] = true;
        assert_int_equal(r.value, (long)(idx * idx));
        got++;
    }
    assert_int_equal(rc, MP_ECLOSED);
    assert_int_equal(got, N);
    mp_imap_free(it);
}

static void test_cluster_imap_ordered_codes(void **state)
{
    (void)state;
    enum { N = 40 };
    long in[N];
    for (long i = 0; i < N; i++)
        in[i] = i;
    mp_imap *it = mp_pool_imap(pool, fail_odd, in, N, sizeof *in, sizeof(long), 3);
    assert_non_null(it);
    for (size_t i = 0; i < N; i++) {
        long r = -1;
        size_t idx;
        int rc = mp_imap_next(it, &r, &idx, 30.0);
        assert_int_equal(idx, i);
        if (i % 2) {
            assert_int_equal(rc, MP_ETASK);
            assert_int_equal(mp_imap_task_error(it), 7);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(r, (long)i * 10);
        }
    }
    long r;
    size_t idx;
    assert_int_equal(mp_imap_next(it, &r, &idx, 1.0), MP_ECLOSED);
    mp_imap_free(it);
}

static _Atomic int cb_ok, cb_err, cb_err_code, cb_task_error;
static _Atomic long cb_sum;

static void on_result(void *result, void *userdata)
{
    (void)userdata;
    atomic_fetch_add(&cb_sum, ((struct sq *)result)->value);
    atomic_fetch_add(&cb_ok, 1);
}

static void on_error(int code, int task_error, void *userdata)
{
    (void)userdata;
    atomic_store(&cb_err_code, code);
    atomic_store(&cb_task_error, task_error);
    atomic_fetch_add(&cb_err, 1);
}

static void test_cluster_apply_async_callbacks(void **state)
{
    (void)state;
    enum { N = 20 };
    mp_callbacks cb = {on_result, on_error, NULL};
    mp_async *a[N];
    long expect = 0;
    for (long i = 0; i < N; i++) {
        a[i] = mp_pool_apply_async(pool, square, &i, sizeof i, sizeof(struct sq), &cb);
        assert_non_null(a[i]);
        expect += i * i;
    }
    long odd = 3;
    mp_callbacks ecb = {NULL, on_error, NULL};
    mp_async *bad = mp_pool_apply_async(pool, fail_odd, &odd, sizeof odd, sizeof(long), &ecb);
    assert_non_null(bad);
    for (int i = 0; i < N; i++) {
        struct sq r;
        assert_int_equal(mp_async_get(a[i], &r, 30.0), 0);
        assert_int_equal(r.value, (long)i * i);
        mp_async_free(a[i]);
    }
    long r;
    assert_int_equal(mp_async_get(bad, &r, 30.0), MP_ETASK);
    assert_int_equal(mp_async_task_error(bad), 7);
    mp_async_free(bad);
    /* get returns only after the callback ran. */
    assert_int_equal(atomic_load(&cb_ok), N);
    assert_int_equal(atomic_load(&cb_sum), expect);
    assert_int_equal(atomic_load(&cb_err), 1);
    assert_int_equal(atomic_load(&cb_err_code), MP_ETASK);
    assert_int_equal(atomic_load(&cb_task_error), 7);
}

static void test_cluster_task_code_is_etask(void **state)
{
    (void)state;
    enum { N = 50 };
    long in[N], out[N];
    for (long i = 0; i < N; i++) {
        in[i] = i;
        out[i] = -1;
    }
    assert_int_equal(mp_pool_map(pool, fail_odd, in, N, sizeof *in, out, sizeof *out, 4), MP_ETASK);
    /* map fills the results it can. */
    for (long i = 0; i < N; i += 2)
        assert_int_equal(out[i], i * 10);
}

static void test_cluster_worker_killed_fails_that_task_only(void **state)
{
    (void)state;
    enum { N = 8 };
    mp_async *kill = mp_pool_apply_async(pool, kill_worker, NULL, 0, 0, NULL);
    assert_non_null(kill);
    mp_async *a[N];
    for (long i = 0; i < N; i++) {
        a[i] = mp_pool_apply_async(pool, square, &i, sizeof i, sizeof(struct sq), NULL);
        assert_non_null(a[i]);
    }
    assert_int_equal(mp_async_get(kill, NULL, 60.0), MP_EWORKERDIED);
    mp_async_free(kill);
    for (long i = 0; i < N; i++) {
        struct sq r;
        assert_int_equal(mp_async_get(a[i], &r, 60.0), 0);
        assert_int_equal(r.value, i * i);
        if (distributed)
            assert_true(r.rank == 1 || r.rank == 2);
        mp_async_free(a[i]);
    }
    /* The worker was replaced: the whole pool still works. */
    long in[64];
    struct sq out[64];
    for (long i = 0; i < 64; i++)
        in[i] = i;
    assert_int_equal(mp_pool_map(pool, square, in, 64, sizeof *in, out, sizeof *out, 1), 0);
    for (long i = 0; i < 64; i++)
        assert_int_equal(out[i].value, i * i);
}

static void test_cluster_unregistered_is_einval(void **state)
{
    (void)state;
    long x = 1, r;
    assert_int_equal(mp_pool_apply(pool, stranger, &x, sizeof x, &r, sizeof r), MP_EINVAL);
    long in[4] = {1, 2, 3, 4}, out[4];
    assert_int_equal(mp_pool_map(pool, stranger, in, 4, sizeof *in, out, sizeof *out, 0),
                     MP_EINVAL);
    errno = 0;
    assert_null(mp_pool_map_async(pool, stranger, in, 4, sizeof *in, sizeof *out, 0, NULL));
    assert_int_equal(errno, EINVAL);
    assert_null(mp_pool_imap_unordered(pool, stranger, in, 4, sizeof *in, sizeof *out, 0));
    /* Registered, but with other sizes. */
    int small = 2;
    assert_int_equal(mp_pool_apply(pool, negate, &small, sizeof small, &r, sizeof r), MP_EINVAL);
    assert_int_equal(mp_pool_apply(pool, negate, &x, sizeof x, &small, sizeof small), MP_EINVAL);
    /* The table is frozen. */
    assert_int_equal(mp_task_register("stranger", stranger, 8, 8), MP_ESTATE);
    /* A registered one still runs. */
    assert_int_equal(mp_pool_apply(pool, negate, &x, sizeof x, &r, sizeof r), 0);
    assert_int_equal(r, -1);
}

static void test_cluster_result_of_any_size(void **state)
{
    (void)state;
    for (long i = 0; i < 3000; i += 1499) {
        mp_async *a = mp_pool_apply_async(pool, describe, &i, sizeof i, 0, NULL);
        assert_non_null(a);
        void *s;
        size_t len;
        assert_int_equal(mp_async_get_alloc(a, &s, &len, 30.0), 0);
        char head[32];
        int h = snprintf(head, sizeof head, "n=%ld:", i);
        assert_int_equal(len, (size_t)h + (size_t)i);
        assert_memory_equal(s, head, (size_t)h);
        for (long k = 0; k < i; k++)
            assert_int_equal(((char *)s)[h + k], 'x');
        free(s);
        mp_async_free(a);
    }
    enum { N = 60 };
    long in[N];
    for (long i = 0; i < N; i++)
        in[i] = i;
    mp_imap *it = mp_pool_imap(pool, describe, in, N, sizeof *in, 0, 4);
    assert_non_null(it);
    for (long i = 0; i < N; i++) {
        void *s;
        size_t len, idx;
        assert_int_equal(mp_imap_next_alloc(it, &s, &len, &idx, 30.0), 0);
        assert_int_equal(idx, (size_t)i);
        char head[32];
        int h = snprintf(head, sizeof head, "n=%ld:", i);
        assert_int_equal(len, (size_t)h + (size_t)i);
        assert_memory_equal(s, head, (size_t)h);
        free(s);
    }
    mp_imap_free(it);
}

static void test_cluster_big_arguments(void **state)
{
    (void)state;
    enum { N = 40000 }; /* 2.5 MiB of arguments: copied in while queued */
    struct blob *in = malloc(N * sizeof *in);
    uint64_t *out = malloc(N * sizeof *out);
    assert_non_null(in);
    assert_non_null(out);
    for (size_t i = 0; i < N; i++)
        for (int k = 0; k < 8; k++)
            in[i].v[k] = i * 8 + (uint64_t)k;
    assert_int_equal(mp_pool_map(pool, checksum, in, N, sizeof *in, out, sizeof *out, 0), 0);
    for (size_t i = 0; i < N; i++)
        assert_true(out[i] == blob_sum(&in[i]));
    free(in);
    free(out);
}

static void test_cluster_idle_nodes_sleep(void **state)
{
    (void)state;
    if (!distributed)
        skip();
    /* Eight applies at once: the dispatcher deals them out in turn, so
     * both nodes usually report. */
    struct cpu before[8], after[8];
    mp_async *a[8];
    for (int i = 0; i < 8; i++)
        assert_non_null(a[i] = mp_pool_apply_async(pool, agent_cpu, NULL, 0, sizeof *before, NULL));
    for (int i = 0; i < 8; i++) {
        assert_int_equal(mp_async_get(a[i], &before[i], 30.0), 0);
        mp_async_free(a[i]);
    }
    /* Idle for a second: nothing to do for anyone. */
    usleep(1000 * 1000);
    for (int i = 0; i < 8; i++)
        assert_non_null(a[i] = mp_pool_apply_async(pool, agent_cpu, NULL, 0, sizeof *after, NULL));
    for (int i = 0; i < 8; i++) {
        assert_int_equal(mp_async_get(a[i], &after[i], 30.0), 0);
        mp_async_free(a[i]);
    }
    double first[3] = {-1, -1, -1}, last[3] = {-1, -1, -1};
    for (int i = 0; i < 8; i++) {
        int b = before[i].rank, e = after[i].rank;
        assert_true(b >= 1 && b <= 2 && e >= 1 && e <= 2);
        if (first[b] < 0 || before[i].seconds < first[b])
            first[b] = before[i].seconds;
        if (after[i].seconds > last[e])
            last[e] = after[i].seconds;
    }
    for (int r = 1; r <= 2; r++) {
        if (first[r] < 0 || last[r] < 0)
            continue; /* one node took every apply: nothing to compare there */
        /* A polling loop that spins would use most of that second. */
        print_message("rank %d agent: %.3f s of CPU over 1 s idle\n", r, last[r] - first[r]);
        assert_true(last[r] - first[r] < 0.1);
    }
}

/* Last: it closes the pool. */
static void test_cluster_close_join_waits_for_remote(void **state)
{
    (void)state;
    enum { N = 24 };
    long in[N];
    for (long i = 0; i < N; i++)
        in[i] = 20; /* milliseconds each */
    mp_async *a =
        mp_pool_map_async(pool, slow_square, in, N, sizeof *in, sizeof(struct sq), 1, NULL);
    assert_non_null(a);
    assert_int_equal(mp_pool_close(pool), 0);
    assert_int_equal(mp_pool_join(pool), 0);
    /* join returned after the remote chunks were committed. */
    assert_true(mp_async_ready(a));
    struct sq out[N];
    assert_int_equal(mp_async_get(a, out, 0), 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(out[i].value, 400);
    mp_async_free(a);
    long x = 1;
    assert_null(mp_pool_apply_async(pool, square, &x, sizeof x, sizeof(struct sq), NULL));
    assert_int_equal(errno, EPIPE);
}

/* These tests share the one cluster pool main made (mp_cluster_init runs
 * once a process), whose supervisor and workers (the local pool's, run
 * without mpirun) live from test to test: mp_test.h's fixture (mpt_test),
 * which ends every process below this one between tests, would kill them.
 * So they are registered without it; each ends what it starts, and
 * mp_leakcheck checks the whole run. */
#define cluster_test(f)                                                                            \
    {                                                                                              \
#f, f, NULL, NULL, NULL                                                                    \
    }

static int run_suite(void)
{
    const struct CMUnitTest tests[] = {
        cluster_test(test_cluster_counts),
        cluster_test(test_cluster_map_uses_every_node),
        cluster_test(test_cluster_map_in_place),
        cluster_test(test_cluster_imap_unordered),
        cluster_test(test_cluster_imap_ordered_codes),
        cluster_test(test_cluster_apply_async_callbacks),
        cluster_test(test_cluster_task_code_is_etask),
        cluster_test(test_cluster_worker_killed_fails_that_task_only),
        cluster_test(test_cluster_unregistered_is_einval),
        cluster_test(test_cluster_result_of_any_size),
        cluster_test(test_cluster_big_arguments),
        cluster_test(test_cluster_idle_nodes_sleep),
        cluster_test(test_cluster_close_join_waits_for_remote),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* ---- recovery: rank 2 is killed mid-map ------------------------------------------ */

/* On rank 2, the third item its (only) worker runs SIGKILLs the agent
 * process; everywhere else it is slow_square. */
static int square_or_kill_node(const void *arg, void *result)
{
    static int ran;
    if (mp_cluster_rank() == 2 && ++ran == 3) {
        kill(agent_pid, SIGKILL);
        pause(); /* the node's supervisor takes this worker down */
    }
    return slow_square(arg, result);
}
MP_TASK(square_or_kill_node, sizeof(long), sizeof(struct sq))

static void test_cluster_node_lost_mid_map(void **state)
{
    (void)state;
    if (!distributed)
        skip();
    enum { N = 40 };
    long in[N];
    for (long i = 0; i < N; i++)
        in[i] = 30; /* milliseconds each */
    double t0 = mpt_now();
    mp_imap *it = mp_pool_imap(pool, square_or_kill_node, in, N, sizeof *in, sizeof(struct sq), 1);
    assert_non_null(it);
    int ok = 0, died = 0, on2 = 0;
    for (size_t i = 0; i < N; i++) {
        struct sq r;
        size_t idx;
        int rc = mp_imap_next(it, &r, &idx, 60.0);
        assert_int_equal(idx, i);
        if (rc == MP_EWORKERDIED) {
            died++;
            continue;
        }
        assert_int_equal(rc, 0);
        assert_int_equal(r.value, 900);
        on2 += r.rank == 2;
        ok++;
    }
    mp_imap_free(it);
    double took = mpt_now() - t0;
    print_message("node lost: %d items ok (%d on rank 2 before), %d failed, %.2f s\n", ok, on2,
                  died, took);
    /* Rank 2 held at most two chunks (two per worker) when it died, and
     * answered one or two before (the second answer may have been on its
     * way out when the agent was killed). */
    assert_true(died >= 1 && died <= 2);
    assert_int_equal(ok + died, N);
    assert_true(on2 >= 1 && on2 <= 2);
    assert_true(took < 30.0);
    assert_int_equal(mp_cluster_nodes(), 2);
    assert_int_equal(mp_cluster_workers(), 1);

    /* The rest goes on, on rank 1. */
    long sq_in[20];
    struct sq out[20];
    for (long i = 0; i < 20; i++)
        sq_in[i] = i;
    assert_int_equal(mp_pool_map(pool, square, sq_in, 20, sizeof *sq_in, out, sizeof *out, 2), 0);
    for (long i = 0; i < 20; i++) {
        assert_int_equal(out[i].value, i * i);
        assert_int_equal(out[i].rank, 1);
    }

    /* Terminate with work out on the node: pending results fail at once. */
    long slow[8];
    for (int i = 0; i < 8; i++)
        slow[i] = 200;
    mp_async *a =
        mp_pool_map_async(pool, slow_square, slow, 8, sizeof *slow, sizeof(struct sq), 1, NULL);
    assert_non_null(a);
    assert_int_equal(mp_pool_terminate(pool), 0);
    struct sq res[8];
    assert_int_equal(mp_async_get(a, res, 5.0), MP_ECLOSED);
    mp_async_free(a);
}

/* Rank 0's verdict for run.sh, which cannot trust mpirun's status. */
static int report(bool ok, const char *why)
{
    const char *path = getenv("MP_TEST_STATUS_FILE");
    FILE *f = path != NULL ? fopen(path, "w") : NULL;
    if (f != NULL) {
        fputs(ok ? "ok" : why, f);
        fclose(f);
    }
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    agent_pid = getpid();
    const char *mode = argc > 1 ? argv[1] : "suite";
    const char *r = getenv("OMPI_COMM_WORLD_RANK");
    if (strcmp(mode, "mismatch") == 0 && r != NULL && strcmp(r, "2") == 0)
        mp_task_register("extra_task", extra_task, 0, 0);

    mp_cluster_opts o = {.pool.processes = 2};
    if (strcmp(mode, "recovery") == 0 || strcmp(mode, "rootlost") == 0) {
        o.pool.processes = 1;
        o.node_timeout = 2.0;
    }
    double t0 = mpt_now();
    int rc = mp_cluster_init(&argc, &argv, &o, &pool);
    bool root = r == NULL || strcmp(r, "0") == 0;
    if (strcmp(mode, "rootlost") == 0) {
        if (root) /* the program's own rank dies, as a crash would */
            raise(SIGKILL);
        /* Every node gives up node_timeout after rank 0 fell silent. */
        double took = mpt_now() - t0;
        bool ok = rc == MP_ETIMEDOUT && took >= 2.0 && took < 30.0;
        if (!ok)
            fprintf(stderr, "rank %s: mp_cluster_init returned %s after %.2f s\n", r,
                    mp_err_name(rc), took);
        return strcmp(r, "1") == 0 ? report(ok, "a node did not time out") : !ok;
    }
    if (strcmp(mode, "mismatch") == 0) {
        bool ok = rc == MP_EINVAL && pool == NULL;
        if (!ok)
            fprintf(stderr, "rank %s: mp_cluster_init returned %d (%s), not MP_EINVAL\n",
                    r ? r : "-", rc, mp_err_name(rc));
        return root ? report(ok, "mp_cluster_init did not fail with MP_EINVAL") : !ok;
    }
    if (rc == MP_CLUSTER_SERVED)
        return 0;
    if (rc != MP_CLUSTER_ROOT) {
        fprintf(stderr, "mp_cluster_init: %s\n", mp_strerror(rc));
        return root ? report(false, "mp_cluster_init failed") : 1;
    }
    distributed = mp_cluster_nodes() > 1;
    if (strcmp(mode, "exit") == 0) {
        /* Work out on the nodes, nothing joined, no finalize: the at-exit
         * finalize terminates the pool and stops the nodes. */
        long ms[8] = {300, 300, 300, 300, 300, 300, 300, 300};
        mp_async *a =
            mp_pool_map_async(pool, slow_square, ms, 8, sizeof *ms, sizeof(struct sq), 1, NULL);
        return report(a != NULL && !mp_async_ready(a), "could not leave work out");
    }
    int failed;
    if (strcmp(mode, "recovery") == 0) {
        const struct CMUnitTest tests[] = {cluster_test(test_cluster_node_lost_mid_map)};
        failed = cmocka_run_group_tests(tests, NULL, NULL);
    } else {
        failed = run_suite();
    }
    int fin = mp_cluster_finalize();
    if (fin != 0)
        fprintf(stderr, "mp_cluster_finalize: %s\n", mp_strerror(fin));
    return report(failed == 0 && fin == 0, failed ? "tests failed" : "finalize failed");
}
