/* test_queue_repair.c - a consumer killed while it holds the consumers'
 * lock, at exact points inside a get: the next consumer repairs what it
 * left and loses nothing.
 *
 * White box: this file compiles src/queue/queue.c itself, so that a child
 * can stop inside take() with the lock held (it _exits there), which no
 * outside call can reach. The library's own copy of queue.c is then not
 * linked in (every symbol it defines is defined here first). */
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

/* The child dies of its fault, not of a handler a sanitizer installed. */
static void die_on_fault(void)
{
    signal(SIGSEGV, SIG_DFL);
    signal(SIGBUS, SIG_DFL);
}

/* Child: take messages under the consumers' lock and die there, after
 * the claims and before the head is committed past them: the pages of
 * the consumers' cursor are made read-only, so the commit faults. */
static int take_and_die(void *arg)
{
    mp_queue *q = arg;
    if (!mp__lock_tryacquire(&q->clock))
        return 100;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t from = (uintptr_t)&q->cons & ~(page - 1);
    uintptr_t to = (uintptr_t)(&q->cons + 1);
    if (mprotect((void *)from, to - from, PROT_READ) != 0)
        return 101;
    die_on_fault();
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
     * (see take_and_die). */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        mpt_test(test_dead_consumer_claims_past_dead_records_go_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
