/* test_queue_procs.c - queues between processes: a queue made after the
 * child started, a 64 MiB message through a 64 KiB ring, close waking
 * blocked processes, JoinableQueue across processes. */
/* ctest-timeout: 240 */
#include "mp_test.h"

static mp_queue *handoff; /* made before the children, carries pointers */

/* Child: receive a queue made after it started, answer on it, then read
 * the parent's reply from it. */
static int child_uses_late_queue(void *arg)
{
    (void)arg;
    mp_queue *late = NULL;
    size_t len;
    if (mp_queue_get(handoff, &late, sizeof late, &len, 10.0) != 0 || len != sizeof late)
        return 2;
    if (mp_queue_put_str(late, "from child", 5.0) != 0)
        return 3;
    /* Wait until the parent took it, so as not to take it back. */
    int64_t ack;
    if (mp_queue_get_i64(handoff, &ack, 10.0) != 0)
        return 6;
    char *s = NULL;
    if (mp_queue_get_str(late, &s, 10.0) != 0)
        return 4;
    int ok = strcmp(s, "from parent") == 0;
    free(s);
    return ok ? 0 : 5;
}

static void test_queue_created_after_child_started_works_both_ways(void **state)
{
    (void)state;
    handoff = mp_queue_new(0);
    pid_t pid = mpt_fork(child_uses_late_queue, NULL);
    /* Started and waiting in its get before the queue exists. */
    assert_true(mpt_wait_asleep(pid, 10));
    mp_queue *late = mp_queue_new(0);
    assert_non_null(late);
    assert_int_equal(mp_queue_put(handoff, &late, sizeof late, 0), 0);
    char *s = NULL;
    assert_int_equal(mp_queue_get_str(late, &s, 10.0), 0);
    assert_string_equal(s, "from child");
    free(s);
    assert_int_equal(mp_queue_put_str(late, "from parent", 0), 0);
    assert_int_equal(mp_queue_put_i64(handoff, 1, 0), 0);
    assert_int_equal(mpt_wait(pid), 0);
    mp_queue_free(late);
    mp_queue_free(handoff);
}

#define BIG (64u << 20)

static unsigned char big_byte(size_t i)
{
    return (unsigned char)((i * 2654435761u) >> 13);
}

/* Child: take the big message and check every byte. */
static int child_gets_big(void *arg)
{
    mp_queue *q = arg;
    void *m = NULL;
    size_t len = 0;
    if (mp_queue_get_alloc(q, &m, &len, 60.0) != 0)
        return 2;
    if (len != BIG)
        return 3;
    const unsigned char *b = m;
    for (size_t i = 0; i < len; i++)
        if (b[i] != big_byte(i))
            return 4;
    free(m);
    /* And one back, through a caller's buffer. */
    return mp_queue_put_str(q, "ok", 5.0) == 0 ? 0 : 5;
}

static void test_queue_carries_64_mib_message_through_64_kib_ring(void **state)
{
    (void)state;
    mp_queue *q = mp_queue_new_opts(&(mp_queue_opts){.maxsize = 1, .capacity = 64 * 1024});
    assert_non_null(q);
    unsigned char *m = malloc(BIG);
    for (size_t i = 0; i < BIG; i++)
        m[i] = big_byte(i);
    pid_t pid = mpt_fork(child_gets_big, q);
    /* A thousand hand-offs through the ring, each a wake-up that may wait
     * for a CPU on a loaded machine: a minute. */
    assert_int_equal(mp_queue_put(q, m, BIG, 60.0), 0);
    free(m);
    assert_int_equal(mpt_wait(pid), 0);
    char b[8];
    size_t len;
    assert_int_equal(mp_queue_get(q, b, sizeof b, &len, 0), 0);
    assert_int_equal(len, 2);
    assert_memory_equal(b, "ok", 2);
    mp_queue_free(q);
}

/* Child: block in get (or put), report the result and how long it took
 * after the parent's close. Exit 0 when it got MP_ECLOSED. */
static int child_blocks_in_get(void *arg)
{
    mp_queue *q = arg;
    int64_t v;
    return mp_queue_get_i64(q, &v, 10.0) == MP_ECLOSED ? 0 : 1;
}

static int child_blocks_in_put(void *arg)
{
    mp_queue *q = arg;
    return mp_queue_put_i64(q, 2, 10.0) == MP_ECLOSED ? 0 : 1;
}

static void test_queue_close_wakes_blocked_processes(void **state)
{
    (void)state;
    mp_queue *empty = mp_queue_new(0);
    mp_queue *full = mp_queue_new(1);
    assert_int_equal(mp_queue_put_i64(full, 1, 0), 0);
    pid_t g[3], p[2];
    for (int i = 0; i < 3; i++)
        g[i] = mpt_fork(child_blocks_in_get, empty);
    for (int i = 0; i < 2; i++)
        p[i] = mpt_fork(child_blocks_in_put, full);
    /* Each blocked in its call, asleep in the kernel, before the close. */
    for (int i = 0; i < 3; i++)
        assert_true(mpt_wait_asleep(g[i], 10));
    for (int i = 0; i < 2; i++)
        assert_true(mpt_wait_asleep(p[i], 10));
    double t0 = mpt_now();
    assert_int_equal(mp_queue_close(empty), 0);
    assert_int_equal(mp_queue_close(full), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(mpt_wait(g[i]), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(mpt_wait(p[i]), 0);
    /* Woken by the close, long before their own 10 s timeouts. */
    assert_true(mpt_now() - t0 < MPT_SLACK);
    /* The message put before the close is still there. */
    int64_t v;
    assert_int_equal(mp_queue_get_i64(full, &v, 0), 0);
    assert_int_equal(v, 1);
    assert_int_equal(mp_queue_get_i64(full, &v, 0), MP_ECLOSED);
    mp_queue_free(empty);
    mp_queue_free(full);
}

/* Child: a blocked getter is woken by a put from another process. */
static int child_waits_for_message(void *arg)
{
    mp_queue *q = arg;
    int64_t v = 0;
    if (mp_queue_get_i64(q, &v, 10.0) != 0)
        return 1;
    return v == 77 ? 0 : 2;
}

static void test_queue_put_wakes_getter_in_other_process(void **state)
{
    (void)state;
    mp_queue *q = mp_queue_new(0);
    pid_t pid = mpt_fork(child_waits_for_message, q);
    /* The getter sleeps in the kernel before the put: the put's wake ends
     * its wait (else it times out after 10 s and exits 1). */
    assert_true(mpt_wait_asleep(pid, 10));
    double t0 = mpt_now();
    assert_int_equal(mp_queue_put_i64(q, 77, 0), 0);
    assert_int_equal(mpt_wait(pid), 0);
    assert_true(mpt_now() - t0 < MPT_SLACK);
    mp_queue_free(q);
}

/* Child: a JoinableQueue worker. */
static int child_task_worker(void *arg)
{
    mp_queue *q = arg;
    int64_t v;
    int rc;
    while ((rc = mp_queue_get_i64(q, &v, 10.0)) == 0) {
        usleep(2000);
        if (mp_queue_task_done(q) != 0)
            return 2;
    }
    return rc == MP_ECLOSED ? 0 : 3;
}

static void test_queue_join_waits_for_workers_in_other_processes(void **state)
{
    (void)state;
    mp_queue *q = mp_queue_new(0);
    pid_t w[2];
    for (int i = 0; i < 2; i++)
        w[i] = mpt_fork(child_task_worker, q);
    /* From before the first put: 40 tasks of 2 ms on two workers cannot be
     * done in under 40 ms. (Measured from after the puts, the workers may
     * have done most of them while a preempted parent was still putting.) */
    double t0 = mpt_now();
    for (int i = 0; i < 40; i++)
        assert_int_equal(mp_queue_put_i64(q, i, 0), 0);
    assert_int_equal(mp_queue_join(q, 10.0), 0);
    assert_true(mpt_now() - t0 >= 0.04);
    assert_int_equal(mp_queue_qsize(q), 0);
    assert_int_equal(mp_queue_task_done(q), MP_EVALUE);
    assert_int_equal(mp_queue_close(q), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(mpt_wait(w[i]), 0);
    mp_queue_free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        mpt_test(test_queue_created_after_child_started_works_both_ways),
        mpt_test(test_queue_carries_64_mib_message_through_64_kib_ring),
        mpt_test(test_queue_close_wakes_blocked_processes),
        mpt_test(test_queue_put_wakes_getter_in_other_process),
        mpt_test(test_queue_join_waits_for_workers_in_other_processes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
