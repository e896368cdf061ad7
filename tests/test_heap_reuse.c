/* test_heap_reuse.c - a small heap (MP_HEAP_SIZE=64M) filled to the brim
 * with queue messages and drained serves any size again: one 32 MiB
 * block, a new queue, a 100 000-item pool map. The program runs itself
 * again with MP_HEAP_SIZE=64M when started without it (the heap is mapped
 * when libmp is loaded, before main). */
/* ctest-timeout: 240 */
#include "mp_test.h"

#include "heap/heap.h"

static int square(const void *arg, void *result)
{
    *(int64_t *)result = *(const int64_t *)arg * *(const int64_t *)arg;
    return 0;
}

/* fill_and_drain puts msg_size-byte messages into an unbounded queue
 * until the heap is full (MP_ENOMEM), then takes every one back. */
static void fill_and_drain(size_t msg_size)
{
    mp_queue *q = mp_queue_new(0);
    assert_non_null(q);
    char *msg = malloc(msg_size), *buf = malloc(msg_size);
    memset(msg, 'm', msg_size);
    long n = 0;
    int rc;
    while ((rc = mp_queue_put(q, msg, msg_size, 0)) == 0)
        n++;
    assert_int_equal(rc, MP_ENOMEM);
    mp_heap_stats st;
    assert_int_equal(mp_shared_stats(&st), 0);
    print_message("%zu-byte messages: %ld queued, in_use %zu MiB of %zu\n", msg_size, n,
                  st.in_use >> 20, st.reserved >> 20);
    /* The heap really was full: most of it held messages. */
    assert_true((size_t)n * msg_size > st.reserved / 2);
    size_t len;
    long got = 0;
    while (mp_queue_get(q, buf, msg_size, &len, 0) == 0) {
        assert_int_equal(len, msg_size);
        got++;
    }
    assert_int_equal(got, n);
    mp_queue_free(q);
    free(msg);
    free(buf);
}

/* after_drain: what a drained heap must serve. */
static void after_drain(void)
{
    mp_heap_stats st;
    assert_int_equal(mp_shared_stats(&st), 0);
    print_message("drained: in_use %zu KiB, free %zu MiB, largest %zu MiB\n", st.in_use >> 10,
                  st.free >> 20, st.largest_free >> 20);
    char *big = mp_shared_malloc(32u << 20);
    assert_non_null(big);
    memset(big, 1, 32u << 20);
    mp_shared_free(big);
    mp_queue *q = mp_queue_new(0);
    assert_non_null(q);
    assert_int_equal(mp_queue_put_i64(q, 42, 0), 0);
    int64_t v = 0;
    assert_int_equal(mp_queue_get_i64(q, &v, 0), 0);
    assert_int_equal(v, 42);
    mp_queue_free(q);
    enum { N = 100000 };
    int64_t *in = malloc(N * sizeof *in), *out = malloc(N * sizeof *out);
    for (int64_t i = 0; i < N; i++)
        in[i] = i;
    mp_pool *pool = mp_pool_new(2);
    assert_non_null(pool);
    assert_int_equal(mp_pool_map(pool, square, in, N, sizeof *in, out, sizeof *out, 0), 0);
    for (int64_t i = 0; i < N; i++)
        assert_int_equal(out[i], i * i);
    assert_int_equal(mp_pool_close(pool), 0);
    assert_int_equal(mp_pool_join(pool), 0);
    mp_pool_free(pool);
    free(in);
    free(out);
    char why[256] = "";
    int rc = mp__heap_check(why, sizeof why);
    if (rc != 0)
        print_error("heap check: %s\n", why);
    assert_int_equal(rc, 0);
}

static void test_drained_heap_of_100_byte_messages_serves_any_size(void **state)
{
    (void)state;
    fill_and_drain(100);
    after_drain();
}

static void test_drained_heap_of_3_kb_messages_serves_any_size(void **state)
{
    (void)state;
    fill_and_drain(3000);
    after_drain();
}

static void test_drained_heap_of_100_kb_messages_serves_any_size(void **state)
{
    (void)state;
    fill_and_drain(100 * 1000);
    after_drain();
}

/* Bursts one after the other, each drained before the next. */
static void test_bursts_of_every_size_in_turn_leave_the_heap_whole(void **state)
{
    (void)state;
    size_t sizes[] = {100, 100 * 1000, 3000, 100, 100 * 1000};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        fill_and_drain(sizes[i]);
    after_drain();
}

int main(int argc, char **argv)
{
    (void)argc;
    const char *size = getenv("MP_HEAP_SIZE");
    if (size == NULL || strcmp(size, "64M") != 0) {
        setenv("MP_HEAP_SIZE", "64M", 1);
        execv("/proc/self/exe", argv);
        perror("test_heap_reuse: execv");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        mpt_test(test_drained_heap_of_100_byte_messages_serves_any_size),
        mpt_test(test_drained_heap_of_3_kb_messages_serves_any_size),
        mpt_test(test_drained_heap_of_100_kb_messages_serves_any_size),
        mpt_test(test_bursts_of_every_size_in_turn_leave_the_heap_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
