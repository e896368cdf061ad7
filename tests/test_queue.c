/* test_queue.c - the queue's contract within one process: FIFO, sizes,
 * timeouts, Queue(3) from the tutorial, close, task_done/join, typed
 * helpers, batches and bad input. */
/* ctest-timeout: 120 */
#include "mp_test.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>

static void test_queue_keeps_fifo_order_for_every_size(void **state)
{
    (void)state;
    mp_queue *q = mp_queue_new(0);
    assert_non_null(q);
    assert_true(mp_queue_empty(q));
    assert_false(mp_queue_full(q));
    static const size_t sizes[] = {0, 1, 7, 8, 9, 100, 4096, 60000, 65536, 70000, 300000};
    size_t n = sizeof sizes / sizeof sizes[0];
    assert_int_equal(mp_queue_put(q, NULL, 0, MP_FOREVER), 0);
    for (size_t i = 0; i < n; i++) {
        char *m = malloc(sizes[i] + 1);
        for (size_t j = 0; j < sizes[i]; j++)
            m[j] = (char)(i * 31 + j);
        assert_int_equal(mp_queue_put(q, m, sizes[i], 0), 0);
        free(m);
    }
    assert_int_equal(mp_queue_qsize(q), n + 1);
    size_t len = 99;
    assert_int_equal(mp_queue_get(q, NULL, 0, &len, 0), 0);
    assert_int_equal(len, 0);
    char *buf = malloc(300000);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(mp_queue_get(q, buf, 300000, &len, 0), 0);
        assert_int_equal(len, sizes[i]);
        for (size_t j = 0; j < len; j++)
            assert_int_equal(buf[j], (char)(i * 31 + j));
    }
    assert_int_equal(mp_queue_get_nowait(q, buf, 300000, &len), MP_EEMPTY);
    assert_true(mp_queue_empty(q));
    free(buf);
    mp_queue_free(q);
}

/* The tutorial's Queue(3): full after three puts, a blocking put with a
 * 2 s timeout gives up after about 2 s, put_nowait fails at once. */
static void test_queue_of_three_behaves_like_python(void **state)
{
    (void)state;
    mp_queue *q = mp_queue_new(3);
    assert_non_null(q);
    for (int i = 0; i < 3; i++) {
        assert_false(mp_queue_full(q));
        assert_int_equal(mp_queue_put_i64(q, i, MP_FOREVER), 0);
    }
    assert_true(mp_queue_full(q));
    assert_int_equal(mp_queue_qsize(q), 3);
    double t0 = mpt_now();
    assert_int_equal(mp_queue_put_i64(q, 3, 2.0), MP_EFULL);
    double el = mpt_now() - t0;
    assert_true(el >= 2.0 - 0.02 && el < 2.0 + MPT_SLACK);
    int64_t x = 3;
    assert_int_equal(mp_queue_put_nowait(q, &x, sizeof x), MP_EFULL);
    assert_int_equal(mp_queue_qsize(q), 3);
    for (int64_t i = 0; i < 3; i++) {
        size_t len;
        assert_int_equal(mp_queue_get_nowait(q, &x, sizeof x, &len), 0);
        assert_int_equal(len, sizeof x);
        assert_int_equal(x, i);
    }
    size_t len;
    assert_int_equal(mp_queue_get_nowait(q, &x, sizeof x, &len), MP_EEMPTY);
    assert_false(mp_queue_full(q));
    assert_true(mp_queue_empty(q));
    mp_queue_free(q);
}

static void test_queue_get_times_out_when_empty(void **state)
{
    (void)state;
    mp_queue *q = mp_queue_new(0);
    char b[8];
    size_t len;
    double t0 = mpt_now();
    assert_int_equal(mp_queue_get(q, b, sizeof b, &len, 0.3), MP_EEMPTY);
    double el = mpt_now() - t0;
    assert_true(el >= 0.3 - 0.02 && el < 0.3 + MPT_SLACK);
    /* No time: a look that never sleeps (preemption is no sleep). */
    t0 = mpt_now();
    mpt_assert_never_sleeps(assert_int_equal(mp_queue_get(q, b, sizeof b, &len, -1.0), MP_EEMPTY));
    assert_true(mpt_now() - t0 < MPT_SLACK);
    mp_queue_free(q);
}

static void test_queue_get_into_short_buffer_keeps_message(void **state)
{
    (void)state;
    mp_queue *q = mp_queue_new(0);
    const char msg[] = "hello, world";
    assert_int_equal(mp_queue_put(q, msg, 12, 0), 0);
    assert_int_equal(mp_queue_put_str(q, "second", 0), 0);
    char b[64];
    size_t len = 0;
    assert_int_equal(mp_queue_get(q, b, 5, &len, 0), MP_EMSGSIZE);
    assert_int_equal(len, 12);
    assert_int_equal(mp_queue_get(q, NULL, 0, &len, 0), MP_EMSGSIZE);
    assert_int_equal(len, 12);
    assert_int_equal(mp_queue_qsize(q), 2);
    int64_t v;
    assert_int_equal(mp_queue_get_i64(q, &v, 0), MP_EMSGSIZE);
    assert_int_equal(mp_queue_get(q, b, 12, &len, 0), 0);
    assert_int_equal(len, 12);
    assert_memory_equal(b, msg, 12);
    void *p = NULL;
    assert_int_equal(mp_queue_get_alloc(q, &p, &len, 0), 0);
    assert_int_equal(len, 6);
    assert_memory_equal(p, "second", 6);
    free(p);
    mp_queue_free(q);
}

/* A message larger than the ring goes out of line; the same for one that
 * finds the ring full when there is no maxsize. */
static void test_queue_without_maxsize_never_fills_a_small_ring(void **state)
{
    (void)state;
    mp_queue *q = mp_queue_new_opts(&(mp_queue_opts){.maxsize = 0, .capacity = 1024});
    assert_non_null(q);
    char m[200];
    for (int i = 0; i < 5000; i++) {
        memset(m, i & 0xff, sizeof m);
        size_t len = (size_t)(i % 201);
        assert_int_equal(mp_queue_put(q, m, len, 0), 0);
    }
    assert_int_equal(mp_queue_qsize(q), 5000);
    assert_false(mp_queue_full(q));
    /* Take half, put more: the ring and the overflow list interleave. */
    char b[200];
    size_t len;
    for (int i = 0; i < 2500; i++) {
        assert_int_equal(mp_queue_get(q, b, sizeof b, &len, 0), 0);
        assert_int_equal(len, (size_t)(i % 201));
        for (size_t j = 0; j < len; j++)
            assert_int_equal((unsigned char)b[j], i & 0xff);
    }
    for (int i = 5000; i < 7000; i++) {
        memset(m, i & 0xff, sizeof m);
        assert_int_equal(mp_queue_put(q, m, (size_t)(i % 201), 0), 0);
    }
    for (int i = 2500; i < 7000; i++) {
        assert_int_equal(mp_queue_get(q, b, sizeof b, &len, 0), 0);
        assert_int_equal(len, (size_t)(i % 201));
        for (size_t j = 0; j < len; j++)
            assert_int_equal((unsigned char)b[j], i & 0xff);
    }
    assert_true(mp_queue_empty(q));
    /* Free with messages still queued in the ring and out of line. */
    for (int i = 0; i < 100; i++)
        assert_int_equal(mp_queue_put(q, m, (size_t)i * 2, 0), 0);
    char *big = calloc(1, 5000);
    assert_int_equal(mp_queue_put(q, big, 5000, 0), 0);
    free(big);
    mp_queue_free(q);
}

/* Random sizes through a small ring against a model: wrap-around, skip
 * markers, out-of-line records and the overflow list all in play. */
static void test_queue_matches_a_model_with_random_traffic(void **state)
{
    (void)state;
    mp_queue *q = mp_queue_new_opts(&(mp_queue_opts){.capacity = 4096});
    enum { N = 20000 };
    static size_t sizes[N];
    unsigned seed = 12345;
    size_t put = 0, got = 0;
    char *m = malloc(8192), *b = malloc(8192);
    while (got < N) {
        int r = rand_r(&seed) % 3;
        if (put < N && (r != 0 || put == got)) {
            size_t len = (size_t)rand_r(&seed) % ((rand_r(&seed) % 4 == 0) ? 8000 : 300);
            sizes[put] = len;
            for (size_t j = 0; j < len; j++)
                m[j] = (char)(put + j * 3);
            assert_int_equal(mp_queue_put(q, m, len, 0), 0);
            put++;
        } else {
            size_t len;
            assert_int_equal(mp_queue_get(q, b, 8192, &len, 0), 0);
            assert_int_equal(len, sizes[got]);
            for (size_t j = 0; j < len; j++)
                assert_int_equal(b[j], (char)(got + j * 3));
            got++;
        }
        assert_int_equal(mp_queue_qsize(q), put - got);
    }
    free(m);
    free(b);
    mp_queue_free(q);
}

static void test_queue_typed_helpers_round_trip(void **state)
{
    (void)state;
    mp_queue *q = mp_queue_new(0);
    assert_int_equal(mp_queue_put_i64(q, -42, 0), 0);
    assert_int_equal(mp_queue_put_f64(q, 3.25, 0), 0);
    assert_int_equal(mp_queue_put_str(q, "abc", 0), 0);
    assert_int_equal(mp_queue_put_str(q, "", 0), 0);
    int64_t i;
    double d;
    char *s;
    assert_int_equal(mp_queue_get_i64(q, &i, 0), 0);
    assert_int_equal(i, -42);
    assert_int_equal(mp_queue_get_f64(q, &d, 0), 0);
    assert_true(d == 3.25);
    /* A 3-byte message is not an int64: it stays. */
    assert_int_equal(mp_queue_get_i64(q, &i, 0), MP_EMSGSIZE);
    assert_int_equal(mp_queue_get_f64(q, &d, 0), MP_EMSGSIZE);
    assert_int_equal(mp_queue_get_str(q, &s, 0), 0);
    assert_string_equal(s, "abc");
    free(s);
    assert_int_equal(mp_queue_get_str(q, &s, 0), 0);
    assert_string_equal(s, "");
    free(s);
    assert_int_equal(mp_queue_get_str(q, &s, 0), MP_EEMPTY);
    mp_queue_free(q);
}

static void test_queue_rejects_bad_input(void **state)
{
    (void)state;
    mp_queue *q = mp_queue_new(0);
    char b[8];
    size_t len;
    void *p;
    char *s;
    int64_t i;
    double d;
    assert_int_equal(mp_queue_put(NULL, b, 1, 0), MP_EINVAL);
    assert_int_equal(mp_queue_put(q, NULL, 1, 0), MP_EINVAL);
    assert_int_equal(mp_queue_put(q, b, 1, NAN), MP_EINVAL);
    assert_int_equal(mp_queue_put_nowait(NULL, b, 1), MP_EINVAL);
    assert_int_equal(mp_queue_get(NULL, b, 8, &len, 0), MP_EINVAL);
    assert_int_equal(mp_queue_get(q, NULL, 8, &len, 0), MP_EINVAL);
    assert_int_equal(mp_queue_get(q, b, 8, NULL, 0), MP_EINVAL);
    assert_int_equal(mp_queue_get(q, b, 8, &len, NAN), MP_EINVAL);
    assert_int_equal(mp_queue_get_nowait(q, NULL, 1, &len), MP_EINVAL);
    assert_int_equal(mp_queue_get_alloc(q, NULL, &len, 0), MP_EINVAL);
    assert_int_equal(mp_queue_get_alloc(q, &p, NULL, 0), MP_EINVAL);
    assert_int_equal(mp_queue_get_alloc(NULL, &p, &len, 0), MP_EINVAL);
    assert_int_equal(mp_queue_put_str(q, NULL, 0), MP_EINVAL);
    assert_int_equal(mp_queue_get_str(q, NULL, 0), MP_EINVAL);
    assert_int_equal(mp_queue_get_i64(q, NULL, 0), MP_EINVAL);
    assert_int_equal(mp_queue_get_f64(q, NULL, 0), MP_EINVAL);
    assert_int_equal(mp_queue_put_i64(NULL, 1, 0), MP_EINVAL);
    assert_int_equal(mp_queue_get_i64(NULL, &i, 0), MP_EINVAL);
    assert_int_equal(mp_queue_put_f64(q, 1.0, NAN), MP_EINVAL);
    assert_int_equal(mp_queue_get_f64(q, &d, NAN), MP_EINVAL);
    assert_int_equal(mp_queue_get_str(NULL, &s, 0), MP_EINVAL);
    assert_int_equal(mp_queue_close(NULL), MP_EINVAL);
    assert_int_equal(mp_queue_task_done(NULL), MP_EINVAL);
    assert_int_equal(mp_queue_join(NULL, 0), MP_EINVAL);
    assert_int_equal(mp_queue_join(q, NAN), MP_EINVAL);
    assert_int_equal(mp_queue_put_many(q, NULL, NULL, 1, NULL, 0), MP_EINVAL);
    size_t n = 7;
    assert_int_equal(mp_queue_get_many(q, b, 8, &len, 0, &n, 0), MP_EINVAL);
    assert_int_equal(n, 0);
    assert_int_equal(mp_queue_qsize(NULL), 0);
    assert_true(mp_queue_empty(NULL));
    assert_false(mp_queue_full(NULL));
    /* Nothing was queued by the failed calls. */
    assert_int_equal(mp_queue_qsize(q), 0);
    mp_queue_free(NULL);
    mp_queue_free(q);
    q = mp_queue_new_opts(NULL);
    assert_non_null(q);
    assert_int_equal(mp_queue_put(q, b, 8, 0), 0);
    mp_queue_free(q);
    errno = 0;
    assert_null(mp_queue_new_opts(&(mp_queue_opts){.capacity = SIZE_MAX}));
    assert_int_equal(errno, ENOMEM);
}

static void test_queue_close_drains_then_reports_closed(void **state)
{
    (void)state;
    mp_queue *q = mp_queue_new(0);
    assert_false(mp_queue_closed(q));
    assert_int_equal(mp_queue_put_i64(q, 1, 0), 0);
    assert_int_equal(mp_queue_put_i64(q, 2, 0), 0);
    assert_int_equal(mp_queue_close(q), 0);
    assert_int_equal(mp_queue_close(q), 0);
    assert_true(mp_queue_closed(q));
    assert_int_equal(mp_queue_put_i64(q, 3, MP_FOREVER), MP_ECLOSED);
    int64_t v;
    assert_int_equal(mp_queue_get_i64(q, &v, MP_FOREVER), 0);
    assert_int_equal(v, 1);
    assert_int_equal(mp_queue_get_i64(q, &v, MP_FOREVER), 0);
    assert_int_equal(v, 2);
    /* Closed and drained: at once, never asleep, even with no timeout. */
    double t0 = mpt_now();
    mpt_assert_never_sleeps(assert_int_equal(mp_queue_get_i64(q, &v, MP_FOREVER), MP_ECLOSED));
    assert_true(mpt_now() - t0 < MPT_SLACK);
    mp_queue_free(q);
}

struct blocked {
    mp_queue *q;
    _Atomic pid_t tid; /* the thread's kernel id, once it runs */
    int rc;
    double woke;
};

static void *blocked_getter(void *arg)
{
    struct blocked *b = arg;
    atomic_store(&b->tid, gettid());
    int64_t v;
    b->rc = mp_queue_get_i64(b->q, &v, 10.0);
    b->woke = mpt_now();
    return NULL;
}

static void *blocked_putter(void *arg)
{
    struct blocked *b = arg;
    atomic_store(&b->tid, gettid());
    b->rc = mp_queue_put_i64(b->q, 9, 10.0);
    b->woke = mpt_now();
    return NULL;
}

static bool tid_known(void *arg)
{
    return atomic_load(&((struct blocked *)arg)->tid) != 0;
}

/* Waits until the thread of b has started and sleeps (in its call). */
static bool blocked_asleep(struct blocked *b)
{
    return mpt_until(tid_known, b, 10) && mpt_wait_asleep(atomic_load(&b->tid), 10);
}

static void test_queue_close_wakes_blocked_threads(void **state)
{
    (void)state;
    mp_queue *empty = mp_queue_new(0);
    mp_queue *full = mp_queue_new(1);
    assert_int_equal(mp_queue_put_i64(full, 1, 0), 0);
    struct blocked g[2] = {{.q = empty}, {.q = empty}}, p = {.q = full};
    pthread_t tg[2], tp;
    for (int i = 0; i < 2; i++)
        pthread_create(&tg[i], NULL, blocked_getter, &g[i]);
    pthread_create(&tp, NULL, blocked_putter, &p);
    for (int i = 0; i < 2; i++)
        assert_true(blocked_asleep(&g[i]));
    assert_true(blocked_asleep(&p));
    double t0 = mpt_now();
    assert_int_equal(mp_queue_close(empty), 0);
    assert_int_equal(mp_queue_close(full), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(tg[i], NULL);
    pthread_join(tp, NULL);
    /* Woken by the close, not by their 10 s timeouts. */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(g[i].rc, MP_ECLOSED);
        assert_true(g[i].woke - t0 < MPT_SLACK);
    }
    assert_int_equal(p.rc, MP_ECLOSED);
    assert_true(p.woke - t0 < MPT_SLACK);
    mp_queue_free(empty);
    mp_queue_free(full);
}

static void test_queue_task_done_and_join(void **state)
{
    (void)state;
    mp_queue *q = mp_queue_new(0);
    assert_int_equal(mp_queue_task_done(q), MP_EVALUE);
    assert_int_equal(mp_queue_join(q, 0), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(mp_queue_put_i64(q, i, 0), 0);
    double t0 = mpt_now();
    assert_int_equal(mp_queue_join(q, 0.2), MP_ETIMEDOUT);
    double el = mpt_now() - t0;
    assert_true(el >= 0.2 - 0.02 && el < 0.2 + MPT_SLACK);
    int64_t v;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(mp_queue_get_i64(q, &v, 0), 0);
        assert_int_equal(mp_queue_join(q, 0), MP_ETIMEDOUT);
        assert_int_equal(mp_queue_task_done(q), 0);
    }
    assert_int_equal(mp_queue_join(q, 0), 0);
    assert_int_equal(mp_queue_join(q, MP_FOREVER), 0);
    assert_int_equal(mp_queue_task_done(q), MP_EVALUE);
    mp_queue_free(q);
}

static void *task_worker(void *arg)
{
    mp_queue *q = arg;
    int64_t v;
    while (mp_queue_get_i64(q, &v, 5.0) == 0) {
        usleep(1000);
        mp_queue_task_done(q);
    }
    return NULL;
}

static void test_queue_join_returns_when_workers_finish(void **state)
{
    (void)state;
    mp_queue *q = mp_queue_new(0);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, task_worker, q);
    for (int i = 0; i < 50; i++)
        assert_int_equal(mp_queue_put_i64(q, i, 0), 0);
    assert_int_equal(mp_queue_join(q, 10.0), 0);
    assert_int_equal(mp_queue_qsize(q), 0);
    assert_int_equal(mp_queue_close(q), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    mp_queue_free(q);
}

static void test_queue_batches_keep_order_and_sizes(void **state)
{
    (void)state;
    mp_queue *q = mp_queue_new_opts(&(mp_queue_opts){.maxsize = 10, .capacity = 1024});
    char data[10][300];
    const void *msgs[12];
    size_t lens[12];
    for (int i = 0; i < 12; i++) {
        int k = i % 10;
        memset(data[k], 'a' + k, sizeof data[k]);
        msgs[i] = data[k];
        lens[i] = (size_t)(i * 27) % 301; /* 0, 27, ..., 243 */
    }
    lens[9] = 290; /* over a quarter of the ring: out of line */
    size_t done = 99;
    /* Only 10 fit: the last two wait for room, then fail. */
    assert_int_equal(mp_queue_put_many(q, msgs, lens, 12, &done, 0.1), MP_EFULL);
    assert_int_equal(done, 10);
    assert_int_equal(mp_queue_qsize(q), 10);
    char buf[1500];
    size_t got[8], n = 0;
    /* The first 0+27+54+81+108+135+162 bytes fit in 600; 189 more do not. */
    assert_int_equal(mp_queue_get_many(q, buf, 600, got, 8, &n, 0), 0);
    assert_int_equal(n, 7);
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(got[i], lens[i]);
        for (size_t j = 0; j < got[i]; j++)
            assert_int_equal(buf[off + j], 'a' + (int)i);
        off += got[i];
    }
    /* A first message larger than the buffer stays. */
    assert_int_equal(mp_queue_get_many(q, buf, 10, got, 8, &n, 0), MP_EMSGSIZE);
    assert_int_equal(n, 0);
    assert_int_equal(got[0], lens[7]);
    assert_int_equal(mp_queue_get_many(q, buf, sizeof buf, got, 8, &n, 0), 0);
    assert_int_equal(n, 3);
    assert_int_equal(got[2], lens[9]);
    off = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < got[i]; j++)
            assert_int_equal(buf[off + j], 'a' + 7 + (int)i);
        off += got[i];
    }
    assert_int_equal(mp_queue_get_many(q, buf, sizeof buf, got, 8, &n, 0), MP_EEMPTY);
    assert_int_equal(n, 0);
    assert_int_equal(mp_queue_put_many(q, msgs, lens, 0, &done, 0), 0);
    assert_int_equal(done, 0);
    mp_queue_free(q);
}

/* Threads: two producers, two consumers, exact-once and per-producer
 * order. */
struct tstate {
    mp_queue *q;
    int id;
    int bad;
    unsigned char seen[2][20000];
};
static struct tstate tshared;

static void *thr_producer(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (uint32_t s = 0; s < 20000; s++) {
        uint32_t m[2] = {(uint32_t)id, s};
        if (mp_queue_put(tshared.q, m, sizeof m, 5.0) != 0)
            tshared.bad = 1;
    }
    return NULL;
}

static void *thr_consumer(void *arg)
{
    (void)arg;
    int64_t last[2] = {-1, -1};
    uint32_t m[2];
    size_t len;
    while (mp_queue_get(tshared.q, m, sizeof m, &len, 5.0) == 0) {
        if (len != sizeof m || m[0] > 1 || m[1] >= 20000 || (int64_t)m[1] <= last[m[0]]) {
            tshared.bad = 1;
            continue;
        }
        last[m[0]] = m[1];
        __atomic_fetch_add(&tshared.seen[m[0]][m[1]], 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void test_queue_threads_deliver_each_message_once(void **state)
{
    (void)state;
    tshared.q = mp_queue_new(64);
    pthread_t p[2], c[2];
    for (int i = 0; i < 2; i++) {
        pthread_create(&c[i], NULL, thr_consumer, NULL);
        pthread_create(&p[i], NULL, thr_producer, (void *)(intptr_t)i);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(p[i], NULL);
    mp_queue_close(tshared.q);
    for (int i = 0; i < 2; i++)
        pthread_join(c[i], NULL);
    assert_int_equal(tshared.bad, 0);
    for (int i = 0; i < 2; i++)
        for (int s = 0; s < 20000; s++)
            assert_int_equal(tshared.seen[i][s], 1);
    mp_queue_free(tshared.q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        mpt_test(test_queue_keeps_fifo_order_for_every_size),
        mpt_test(test_queue_of_three_behaves_like_python),
        mpt_test(test_queue_get_times_out_when_empty),
        mpt_test(test_queue_get_into_short_buffer_keeps_message),
        mpt_test(test_queue_without_maxsize_never_fills_a_small_ring),
        mpt_test(test_queue_matches_a_model_with_random_traffic),
        mpt_test(test_queue_typed_helpers_round_trip),
        mpt_test(test_queue_rejects_bad_input),
        mpt_test(test_queue_close_drains_then_reports_closed),
        mpt_test(test_queue_close_wakes_blocked_threads),
        mpt_test(test_queue_task_done_and_join),
        mpt_test(test_queue_join_returns_when_workers_finish),
        mpt_test(test_queue_batches_keep_order_and_sizes),
        mpt_test(test_queue_threads_deliver_each_message_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
