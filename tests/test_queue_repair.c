/* test_queue_repair.c - a producer or a consumer killed while it holds
 * its side's lock, at exact points inside a put or a get: the next holder
 * repairs what it left, nothing is lost but the dead one's own message,
 * and no chunk leaks.
 *
 * White box: this file compiles src/queue/queue.c itself, so that a child
 * can run reserve(), switch_chunk() or take() with the lock held and die
 * at their commit, which no outside call can reach: the page of the
 * side's cursor is made read-only in the child, and the commit's first
 * store faults. The library's own copy of queue.c is then not linked in
 * (every symbol it defines is defined here first). */
/* ctest-timeout: 60 */
#include "mp_test.h"

#include <sys/mman.h>

#include "queue/queue.c"

/* Put a record whose producer reserved it and died before publishing
 * (what a reaped RESV becomes): DEAD, skipped by every get. Returns
 * whether it went into a new chunk. */
static bool put_dead(mp_queue *q)
{
    int64_t v = -1;
    const void *msg = &v;
    size_t len = sizeof v;
    struct resv rv;
    bool need_chunk, switched = false;
    assert_true(mp__lock_tryacquire(&q->plock));
    size_t k = reserve(q, &msg, &len, 1, false, &rv, &need_chunk);
    if (k == 0 && need_chunk) {
        mp__qchunk *c = chunk_new(q, &forever);
        assert_non_null(c);
        switch_chunk(q, c);
        switched = true;
        k = reserve(q, &msg, &len, 1, false, &rv, &need_chunk);
    }
    mp__lock_release(&q->plock);
    assert_int_equal(k, 1);
    assert_true(mark_dead(q, rv.rec, atomic_load(&rv.rec->state)));
    return switched;
}

/* In the child: make the pages of cursor side read-only, so that the next
 * commit of that side faults (SIGSEGV, default action). */
static bool protect(mp__qside *side)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t from = (uintptr_t)side & ~(page - 1);
    uintptr_t to = (uintptr_t)(side + 1);
    if (mprotect((void *)from, to - from, PROT_READ) != 0)
        return false;
    mpt_die_on_fault();
    return true;
}

/* Child: take messages under the consumers' lock and die there, after
 * the claims and before the head is committed past them. */
static int take_and_die(void *arg)
{
    mp_queue *q = arg;
    if (!mp__lock_tryacquire(&q->clock))
        return 100;
    if (!protect(&q->cons))
        return 101;
    unsigned char buf[256];
    size_t lens[8];
    struct take t[8];
    int rc;
    take(q, GET_BUF, buf, sizeof buf, lens, 8, false, t, &rc);
    return 102; /* not reached: the commit faults */
}

/* How many records between the committed head and the tail are claimed. */
static int claims_ahead(mp_queue *q)
{
    mp__qpos c, t;
    mp__qside_load(&q->cons, &c);
    mp__qside_load(&q->prod, &t);
    int n = 0;
    while (!same_pos(c.chunk, c.off, t.chunk, t.off)) {
        mp__qrec *r = mp__qrec_at(c.chunk, c.off);
        if ((r->lenkind & 3) == MP__QK_END) {
            c.chunk = atomic_load(&c.chunk->next);
            c.off = 0;
            continue;
        }
        n += (state_of(r) & MP__QR_STATE) == MP__QR_CLAIM;
        c.off += mp__qrec_size(r->lenkind);
    }
    return n;
}

/* The records a consumer claimed before it died holding the lock go back,
 * those after DEAD records it skipped and after an END included: the next
 * get returns every message, in order, and the queue is empty after.
 * Before the repair walked over DEAD records, a claim after one stayed
 * CLAIM under the dead thread's id, and every later get panicked at it
 * ("record in state 0xc... at the head"; chaos found it). */
static void test_dead_consumer_claims_past_dead_records_go_back(void **state)
{
    (void)state;
    /* Dead records fill the first chunk, so that the claims cross its
     * END. Chunks of 64 KiB: pages of their own, apart from the queue's
     * (see protect). */
    mp_queue *q = mp_queue_new_opts(&(mp_queue_opts){.capacity = 64 * 1024});
    assert_non_null(q);
    assert_int_equal(mp_queue_put_i64(q, 0, 0), 0);
    put_dead(q);
    assert_int_equal(mp_queue_put_i64(q, 1, 0), 0);
    int dead = 1;
    while (!put_dead(q)) /* until one lands in the next chunk */
        assert_true(++dead < 10000);
    assert_int_equal(mp_queue_put_i64(q, 2, 0), 0);
    assert_int_equal(mp_queue_put_i64(q, 3, 0), 0);
    assert_int_equal(mp_queue_qsize(q), 4);

    /* The child claims all four (skipping the dead records, crossing
     * the END) and dies before its commit. */
    assert_int_equal(mpt_wait(mpt_fork(take_and_die, q)), 128 + SIGSEGV);
    assert_int_equal(mp__qside_count(&q->cons), 0);
    assert_int_equal(claims_ahead(q), 4);

    int64_t got[8];
    size_t lens[8], n = 0;
    assert_int_equal(mp_queue_get_many(q, got, sizeof got, lens, 8, &n, 10.0), 0);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(lens[i], sizeof(int64_t));
        assert_int_equal(got[i], (int64_t)i);
    }
    assert_int_equal(mp_queue_qsize(q), 0);
    size_t len;
    assert_int_equal(mp_queue_get(q, got, sizeof got, &len, 0), MP_EEMPTY);
    /* The queue goes on. */
    assert_int_equal(mp_queue_put_i64(q, 4, 0), 0);
    assert_int_equal(mp_queue_get_i64(q, &got[0], 1.0), 0);
    assert_int_equal(got[0], 4);
    mp_queue_free(q);
}

enum { BIG = 16000 }; /* four fill a 64 KiB chunk, a fifth needs the next */

/* Child: reserve a record under the producers' lock and die at the
 * commit that would move the tail past it. */
static int reserve_and_die(void *arg)
{
    mp_queue *q = arg;
    int64_t v = 99;
    const void *msg = &v;
    size_t len = sizeof v;
    struct resv rv;
    bool need_chunk;
    if (!mp__lock_tryacquire(&q->plock))
        return 100;
    if (!protect(&q->prod))
        return 101;
    reserve(q, &msg, &len, 1, false, &rv, &need_chunk);
    return 102; /* not reached */
}

/* A producer killed holding its lock, its record written and the tail not
 * yet moved past it: the record is not in the queue. A get neither
 * returns it nor takes it for a dead producer's (reaping it would move the
 * head past the tail); the next put takes the lock over and writes over
 * it. */
static void test_producer_dead_before_its_commit_left_nothing(void **state)
{
    (void)state;
    mp_queue *q = mp_queue_new(0);
    assert_non_null(q);
    assert_int_equal(mp_queue_put_i64(q, 1, 0), 0);
    assert_int_equal(mpt_wait(mpt_fork(reserve_and_die, q)), 128 + SIGSEGV);
    assert_int_equal(mp_queue_qsize(q), 1);
    int64_t v;
    assert_int_equal(mp_queue_get_i64(q, &v, 1.0), 0);
    assert_int_equal(v, 1);
    /* Long enough to ask about the record at the tail (a wait slice). */
    assert_int_equal(mp_queue_get_i64(q, &v, 0.3), MP_EEMPTY);
    assert_int_equal(atomic_load(&q->dead_pending), 0);
    assert_int_equal(mp_queue_put_i64(q, 2, 5.0), 0);
    assert_int_equal(mp_queue_qsize(q), 1);
    assert_int_equal(mp_queue_get_i64(q, &v, 1.0), 0);
    assert_int_equal(v, 2);
    assert_int_equal(mp_queue_qsize(q), 0);
    mp_queue_free(q);
}

/* Child: its message needs a new chunk; make it, link it, publish the END
 * record that leads to it, and die at the commit that would move the tail
 * into it. */
static int switch_and_die(void *arg)
{
    mp_queue *q = arg;
    static char big[BIG];
    const void *msg = big;
    size_t len = sizeof big;
    struct resv rv;
    bool need_chunk;
    if (!mp__lock_tryacquire(&q->plock))
        return 100;
    if (reserve(q, &msg, &len, 1, false, &rv, &need_chunk) != 0 || !need_chunk)
        return 103; /* the chunk was not full */
    mp__qchunk *c = chunk_new(q, &forever);
    if (c == NULL)
        return 104;
    if (!protect(&q->prod))
        return 101;
    switch_chunk(q, c);
    return 102; /* not reached */
}

/* A producer killed holding its lock, between linking a new chunk (its END
 * record published) and moving the tail into it: a get at that END stops
 * there (it is the tail), and the next put finishes the switch, so that
 * the chunk is used, not lost: every heap byte comes back with the queue. */
static void test_producer_dead_inside_a_chunk_switch_loses_no_chunk(void **state)
{
    (void)state;
    size_t before = mpt_heap_in_use();
    mp_queue *q = mp_queue_new_opts(&(mp_queue_opts){.capacity = 64 * 1024});
    assert_non_null(q);
    static char big[BIG];
    for (int i = 0; i < 4; i++) {
        memset(big, 'a' + i, sizeof big);
        assert_int_equal(mp_queue_put(q, big, sizeof big, 0), 0);
    }
    assert_int_equal(mpt_wait(mpt_fork(switch_and_die, q)), 128 + SIGSEGV);
    mp__qpos t;
    mp__qside_load(&q->prod, &t);
    assert_non_null(atomic_load(&t.chunk->next)); /* linked, the tail not moved */
    size_t len;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(mp_queue_get(q, big, sizeof big, &len, 1.0), 0);
        assert_int_equal(len, sizeof big);
        assert_int_equal(big[0], 'a' + i);
    }
    assert_int_equal(mp_queue_get(q, big, sizeof big, &len, 0.3), MP_EEMPTY);
    memset(big, 'z', sizeof big);
    assert_int_equal(mp_queue_put(q, big, sizeof big, 5.0), 0);
    mp__qpos t2;
    mp__qside_load(&q->prod, &t2);
    assert_ptr_equal(t2.chunk, atomic_load(&t.chunk->next)); /* the dead one's chunk */
    assert_int_equal(mp_queue_get(q, big, sizeof big, &len, 1.0), 0);
    assert_int_equal(big[0], 'z');
    assert_int_equal(mp_queue_qsize(q), 0);
    mp_queue_free(q);
    assert_int_equal(mpt_heap_in_use(), before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        mpt_test(test_dead_consumer_claims_past_dead_records_go_back),
        mpt_test(test_producer_dead_before_its_commit_left_nothing),
        mpt_test(test_producer_dead_inside_a_chunk_switch_loses_no_chunk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
