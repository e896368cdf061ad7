/* test_queue_store.c - the queue's storage: chunks hold many small
 * messages each, keep FIFO order across chunks and out-of-line messages,
 * and every block and chunk goes back to the shared heap when drained or
 * freed. */
/* ctest-timeout: 60 */
#include "mp_test.h"

/* 50 000 small messages: each costs its 16-byte record in a chunk, not a
 * heap block of its own, and the chunks are freed as they are drained. */
static void test_queue_chunks_pack_small_messages(void **state)
{
    (void)state;
    enum { N = 50000, CHUNK = 16 * 1024 };
    mp_queue *q = mp_queue_new_opts(&(mp_queue_opts){.capacity = CHUNK});
    assert_non_null(q);
    size_t before = mpt_heap_in_use();
    for (int64_t i = 0; i < N; i++)
        assert_int_equal(mp_queue_put_i64(q, i, 0), 0);
    size_t per_msg = (mpt_heap_in_use() - before) / N;
    print_message("%zu heap bytes per queued 8-byte message\n", per_msg);
    assert_true(per_msg <= 17);
    assert_int_equal(mp_queue_qsize(q), N);
    /* Drain half, put more: order holds across chunks. */
    int64_t next = 0, v;
    for (; next < N / 2; next++) {
        assert_int_equal(mp_queue_get_i64(q, &v, 0), 0);
        assert_int_equal(v, next);
    }
    for (int64_t i = N; i < N + 1000; i++)
        assert_int_equal(mp_queue_put_i64(q, i, 0), 0);
    for (; next < N + 1000; next++) {
        assert_int_equal(mp_queue_get_i64(q, &v, 0), 0);
        assert_int_equal(v, next);
    }
    assert_int_equal(mp_queue_get_i64(q, &v, 0), MP_EEMPTY);
    /* Drained: every chunk but the one the cursors are in is freed. */
    assert_true(mpt_heap_in_use() <= before + CHUNK + 64);
    mp_queue_free(q);
}

/* Batches cross from one chunk into the next, with big (out-of-line)
 * messages among them. */
static void test_queue_get_many_crosses_chunks(void **state)
{
    (void)state;
    enum { N = 3000 };
    mp_queue *q = mp_queue_new_opts(&(mp_queue_opts){.capacity = 2048});
    assert_non_null(q);
    static char m[3000], b[64 * 1024];
    for (int i = 0; i < N; i++) {
        size_t len = i % 97 == 0 ? 2000 : (size_t)(i % 41);
        memset(m, i & 0xff, len);
        assert_int_equal(mp_queue_put(q, m, len, 0), 0);
    }
    int i = 0;
    while (i < N) {
        size_t lens[17], n;
        assert_int_equal(mp_queue_get_many(q, b, sizeof b, lens, 17, &n, 0), 0);
        size_t off = 0;
        for (size_t k = 0; k < n; k++, i++) {
            size_t len = i % 97 == 0 ? 2000 : (size_t)(i % 41);
            assert_int_equal(lens[k], len);
            for (size_t j = 0; j < len; j++)
                assert_int_equal((unsigned char)b[off + j], i & 0xff);
            off += len;
        }
    }
    assert_true(mp_queue_empty(q));
    mp_queue_free(q);
}

/* Freeing a queue that still holds messages in chunks and out of line
 * gives all of it back. */
static void test_queue_free_returns_everything_it_holds(void **state)
{
    (void)state;
    size_t before = mpt_heap_in_use();
    mp_queue *q = mp_queue_new_opts(&(mp_queue_opts){.capacity = 1024});
    assert_non_null(q);
    static char m[5000];
    for (int i = 0; i < 2000; i++)
        assert_int_equal(mp_queue_put(q, m, i % 50 == 0 ? sizeof m : (size_t)(i % 60), 0), 0);
    assert_true(mpt_heap_in_use() > before + 2000 * 8);
    mp_queue_free(q);
    assert_int_equal(mpt_heap_in_use(), before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        mpt_test(test_queue_chunks_pack_small_messages),
        mpt_test(test_queue_get_many_crosses_chunks),
        mpt_test(test_queue_free_returns_everything_it_holds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
