/* test_queue_crash.c - processes that die inside queue calls: a producer
 * killed between reserving its record and publishing it, a consumer
 * killed while copying a message out, and a thousand SIGKILLs inside puts
 * and gets of large messages. The others never stall past their timeouts,
 * never see a message twice, and the shared heap gets its blocks back.
 *
 * A death at an exact point: the child copies from (or into) a buffer it
 * cannot read (or write), so it faults inside the queue's copy, after the
 * reservation (or the claim) and before the publication (or the release). */
/* ctest-timeout: 240 */
#include "mp_test.h"

#include <sys/mman.h>

#include "heap/heap.h"

/* A buffer of n bytes that faults when touched. */
static void *trap_buffer(size_t n)
{
    void *p = mmap(NULL, n, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

struct msg {
    int64_t id;      /* unique per message */
    char fill[2040]; /* some bytes to copy */
};

static int put_id(mp_queue *q, int64_t id)
{
    struct msg m;
    m.id = id;
    memset(m.fill, (int)(id & 0x7f), sizeof m.fill);
    return mp_queue_put(q, &m, sizeof m, 5.0);
}

struct producer_arg {
    mp_queue *q;
    int64_t id; /* the good message it puts first */
    size_t bad; /* bytes of the message it dies putting */
};

/* Child: one good message, then a put from a buffer that faults. */
static int producer_dies_in_put(void *arg)
{
    struct producer_arg *a = arg;
    if (put_id(a->q, a->id) != 0)
        return 2;
    void *trap = trap_buffer(a->bad);
    if (trap == NULL)
        return 3;
    mpt_die_on_fault();
    mp_queue_put(a->q, trap, a->bad, 5.0);
    return 4; /* not reached: the copy faults */
}

/* 200 producers die between reserving and publishing, ten at a time;
 * the messages put around them all arrive, once each, in order, each get
 * returning within its timeout, and the blocks of the out-of-line ones
 * come back to the heap. */
static void test_queue_producer_killed_between_reserve_and_publish(void **state)
{
    (void)state;
    enum { ROUNDS = 20, PER_ROUND = 10 };
    size_t before = mpt_heap_in_use();
    mp_queue *q = mp_queue_new_opts(&(mp_queue_opts){.capacity = 64 * 1024});
    assert_non_null(q);
    int64_t next_live = 1000000; /* the parent's own messages */
    for (int round = 0; round < ROUNDS; round++) {
        for (int k = 0; k < PER_ROUND; k++) {
            int64_t id = round * PER_ROUND + k;
            /* Half in the chunk, half out of line (over a quarter chunk). */
            struct producer_arg a = {q, id, k % 2 == 0 ? 1024 : 100 * 1024};
            pid_t pid = mpt_fork(producer_dies_in_put, &a);
            int st = mpt_wait(pid);
            assert_true(st != 0 && st != 2 && st != 3 && st != 4); /* died in the put */
        }
        assert_int_equal(put_id(q, next_live), 0);
        /* Out: each round's ten good messages, then the parent's. */
        for (int k = 0; k <= PER_ROUND; k++) {
            struct msg m;
            size_t len = 0;
            double t0 = mpt_now();
            int rc = mp_queue_get(q, &m, sizeof m, &len, 5.0);
            double took = mpt_now() - t0;
            assert_int_equal(rc, 0);
            assert_true(took < 5.0 + 1.0);
            assert_int_equal(len, sizeof m);
            int64_t want = k < PER_ROUND ? round * PER_ROUND + k : next_live;
            assert_int_equal(m.id, want);
            assert_int_equal((unsigned char)m.fill[100], (unsigned char)(want & 0x7f));
        }
        next_live++;
    }
    assert_int_equal(mp_queue_qsize(q), 0);
    size_t dummy;
    assert_int_equal(mp_queue_get_nowait(q, NULL, 0, &dummy), MP_EEMPTY);
    mp_queue_free(q);
    assert_int_equal(mpt_heap_in_use(), before);
}

struct consumer_arg {
    mp_queue *q;
    size_t cap; /* bytes of the trap buffer it gets into */
};

/* Child: a get into a buffer that faults. */
static int consumer_dies_in_get(void *arg)
{
    struct consumer_arg *a = arg;
    void *trap = trap_buffer(a->cap);
    if (trap == NULL)
        return 3;
    mpt_die_on_fault();
    size_t len;
    mp_queue_get(a->q, trap, a->cap, &len, 5.0);
    return 4; /* not reached */
}

/* Consumers die while copying messages out: each message they took is
 * lost, not delivered again; the ones behind arrive; the release point
 * passes the dead claims, so drained chunks and the dead consumers'
 * out-of-line blocks come back to the heap. */
static void test_queue_consumer_killed_while_copying_out(void **state)
{
    (void)state;
    enum { N = 40 };
    size_t before = mpt_heap_in_use();
    mp_queue *q = mp_queue_new_opts(&(mp_queue_opts){.capacity = 16 * 1024});
    assert_non_null(q);
    static char big[20000];
    for (int i = 0; i < N; i++) {
        /* A message for the dying consumer (in place or out of line)... */
        memset(big, i, sizeof big);
        size_t len = i % 2 == 0 ? 1000 : sizeof big;
        assert_int_equal(mp_queue_put(q, big, len, 0), 0);
        struct consumer_arg a = {q, sizeof big};
        pid_t pid = mpt_fork(consumer_dies_in_get, &a);
        int st = mpt_wait(pid);
        assert_true(st != 0 && st != 3 && st != 4);
        /* ...then one for us, which must be next. */
        assert_int_equal(put_id(q, i), 0);
        struct msg m;
        size_t got = 0;
        assert_int_equal(mp_queue_get(q, &m, sizeof m, &got, 5.0), 0);
        assert_int_equal(got, sizeof m);
        assert_int_equal(m.id, i);
    }
    assert_int_equal(mp_queue_qsize(q), 0);
    /* The dead consumers' claims hold the release point until they are
     * found dead (after a wait slice): a waiting get finds them. */
    size_t dummy;
    for (int i = 0; i < 5; i++)
        assert_int_equal(mp_queue_get(q, NULL, 0, &dummy, 0.1), MP_EEMPTY);
    assert_true(mpt_heap_in_use() <= before + 16 * 1024 + 1024);
    mp_queue_free(q);
    assert_int_equal(mpt_heap_in_use(), before);
}

struct churn {
    mp_queue *q;
    _Atomic int ops; /* put/get pairs done, by every child */
};

#define CHURN_MSG (200u * 1024u)

/* Child: put and get 200 KB messages until killed. */
static int churn_child(void *arg)
{
    struct churn *c = arg;
    unsigned char *msg = malloc(CHURN_MSG), *buf = malloc(CHURN_MSG);
    if (msg == NULL || buf == NULL)
        return 2;
    memset(msg, 0x5a, CHURN_MSG);
    for (;;) {
        size_t len;
        if (mp_queue_put(c->q, msg, CHURN_MSG, 5.0) != 0)
            return 3;
        int rc = mp_queue_get(c->q, buf, CHURN_MSG, &len, 5.0);
        if (rc != 0 && rc != MP_EEMPTY)
            return 4;
        atomic_fetch_add(&c->ops, 1);
    }
}

/* 1000 SIGKILLs of processes inside puts and gets of 200 KB messages (out
 * of line in this queue): after a drain, the heap's use is back within
 * 2 MiB of where it was. */
static void test_queue_thousand_kills_inside_big_puts_and_gets_leak_nothing(void **state)
{
    (void)state;
    double t0 = mpt_now();
    enum { KILLS = 1000 };
    size_t before = mpt_heap_in_use();
    struct churn *c = mp_shared_calloc(1, sizeof *c);
    assert_non_null(c);
    c->q = mp_queue_new_opts(&(mp_queue_opts){.capacity = 256 * 1024});
    assert_non_null(c->q);
    srand(7);
    for (int k = 0; k < KILLS; k++) {
        int at = atomic_load(&c->ops) + 1 + rand() % 3;
        pid_t pid = mpt_fork(churn_child, c);
        /* Let it get into its stride, then kill it wherever it is. */
        double end = mpt_now() + 10.0;
        while (atomic_load(&c->ops) < at && mpt_now() < end) {
            int st;
            if (waitpid(pid, &st, WNOHANG) == pid)
                fail_msg("churn child %d exited early: %d", k, st);
            usleep(100); /* leave the CPU to the child */
        }
        kill(pid, SIGKILL);
        assert_int_equal(mpt_wait(pid), 128 + SIGKILL);
    }
    /* Drain: what dead producers reserved is skipped and what dead
     * consumers claimed is dropped once they are found dead, which takes
     * a wait slice of being stuck. */
    static unsigned char buf[CHURN_MSG];
    size_t len;
    int empties = 0;
    while (empties < 5) {
        int rc = mp_queue_get(c->q, buf, sizeof buf, &len, 0.1);
        if (rc == MP_EEMPTY)
            empties++;
        else
            assert_int_equal(rc, 0);
    }
    /* What the allocator held for the dead (their caches, pages out for
     * punching) comes back before an allocation would fail; take it back
     * now, so that in_use counts live blocks and what the kills lost. */
    size_t drained = mpt_heap_in_use();
    mp__deadline d;
    mp__deadline_init(&d, 10.0);
    mp__heap_reclaim(&d);
    size_t after = mpt_heap_in_use();
    print_message("heap in use: %zu before, %zu after %d kills and a drain, %zu after a reclaim "
                  "(%.1f s)\n",
                  before, drained, KILLS, after, mpt_now() - t0);
    assert_true(after <= before + 2 * 1024 * 1024);
    mp_queue_free(c->q);
    mp_shared_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        mpt_test(test_queue_producer_killed_between_reserve_and_publish),
        mpt_test(test_queue_consumer_killed_while_copying_out),
        mpt_test(test_queue_thousand_kills_inside_big_puts_and_gets_leak_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
