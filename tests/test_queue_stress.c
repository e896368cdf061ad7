/* test_queue_stress.c - many producer and consumer processes: every
 * message delivered exactly once, intact and in order per producer; and
 * the same while producers and consumers are killed at random moments. */
/* ctest-timeout: 300 */
#include "mp_test.h"

#include <stdatomic.h>

#if defined(__SANITIZE_ADDRESS__)
#define MPT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MPT_ASAN 1
#endif
#endif

/* ---- messages: producer id, sequence, checksum, then payload ---------- */

struct mhdr {
    uint32_t producer;
    uint32_t seq;
    uint64_t sum; /* hash of producer, seq and the payload */
};

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static uint64_t msg_sum(uint32_t producer, uint32_t seq, const unsigned char *p, size_t n)
{
    uint64_t h = mix(((uint64_t)producer << 32 | seq) + 1);
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

/* The size of a producer's seq-th message: spread over 0..maxlen with
 * small sizes as common as large ones (uniform in the number of bits). */
static size_t msg_size(uint32_t producer, uint32_t seq, unsigned bits)
{
    uint64_t r = mix((uint64_t)producer * 1000003u + seq);
    unsigned width = (unsigned)(r % (bits + 2));
    if (width > bits)
        return (size_t)1 << bits;
    return (size_t)((r >> 8) & (((uint64_t)1 << width) - 1));
}

/* Fill buf with the message; returns its length. Messages shorter than
 * the header carry no identity and are only counted. */
static size_t msg_make(unsigned char *buf, uint32_t producer, uint32_t seq, unsigned bits)
{
    size_t len = msg_size(producer, seq, bits);
    if (len < sizeof(struct mhdr)) {
        memset(buf, 0xee, len);
        return len;
    }
    unsigned char *pay = buf + sizeof(struct mhdr);
    size_t n = len - sizeof(struct mhdr);
    uint64_t x = mix(seq ^ ((uint64_t)producer << 40));
    for (size_t i = 0; i < n; i++) {
        if ((i & 7) == 0)
            x = mix(x + i);
        pay[i] = (unsigned char)(x >> (8 * (i & 7)));
    }
    struct mhdr h = {producer, seq, msg_sum(producer, seq, pay, n)};
    memcpy(buf, &h, sizeof h);
    return len;
}

/* Check a received message: 0 and *h filled for a full one, 1 for a
 * short (anonymous) one, -1 when corrupt. */
static int msg_check(const unsigned char *buf, size_t len, struct mhdr *h)
{
    if (len < sizeof *h) {
        for (size_t i = 0; i < len; i++)
            if (buf[i] != 0xee)
                return -1;
        return 1;
    }
    memcpy(h, buf, sizeof *h);
    const unsigned char *pay = buf + sizeof *h;
    if (h->sum != msg_sum(h->producer, h->seq, pay, len - sizeof *h))
        return -1;
    return 0;
}

/* ---- 4 producers x 4 consumers ---------------------------------------- */

#define NPROD 4
#define NCONS 4
#define MAXLEN (64u * 1024u)
#ifdef MPT_ASAN
#define PER_PRODUCER 12500
#else
#define PER_PRODUCER 50000
#endif

struct mpmc {
    mp_queue *q;
    _Atomic int bad;                  /* set by a consumer that saw something wrong */
    _Atomic uint64_t short_seen;      /* anonymous short messages received */
    _Atomic uint8_t seen[NPROD][PER_PRODUCER];
};

static struct mpmc *mm;

static int mpmc_producer(void *arg)
{
    uint32_t id = (uint32_t)(uintptr_t)arg;
    unsigned char *buf = malloc(MAXLEN);
    for (uint32_t s = 0; s < PER_PRODUCER; s++) {
        size_t len = msg_make(buf, id, s, 16);
        if (mp_queue_put(mm->q, buf, len, 20.0) != 0)
            return 2;
    }
    free(buf);
    return 0;
}

static int mpmc_consumer(void *arg)
{
    (void)arg;
    unsigned char *buf = malloc(MAXLEN);
    int64_t last[NPROD];
    for (int i = 0; i < NPROD; i++)
        last[i] = -1;
    size_t len;
    int rc;
    while ((rc = mp_queue_get(mm->q, buf, MAXLEN, &len, 20.0)) == 0) {
        struct mhdr h;
        int k = msg_check(buf, len, &h);
        if (k == 1) {
            atomic_fetch_add(&mm->short_seen, 1);
            continue;
        }
        if (k < 0 || h.producer >= NPROD || h.seq >= PER_PRODUCER ||
            len != msg_size(h.producer, h.seq, 16) || (int64_t)h.seq <= last[h.producer]) {
            atomic_store(&mm->bad, 1);
            return 3;
        }
        last[h.producer] = h.seq;
        atomic_fetch_add(&mm->seen[h.producer][h.seq], 1);
    }
    free(buf);
    return rc == MP_ECLOSED ? 0 : 4;
}

static void test_queue_four_by_four_processes_deliver_each_message_once(void **state)
{
    (void)state;
    mm = mp_shared_calloc(1, sizeof *mm);
    assert_non_null(mm);
    mm->q = mp_queue_new(256);
    assert_non_null(mm->q);
    pid_t p[NPROD], c[NCONS];
    for (int i = 0; i < NCONS; i++)
        c[i] = mpt_fork(mpmc_consumer, NULL);
    for (int i = 0; i < NPROD; i++)
        p[i] = mpt_fork(mpmc_producer, (void *)(uintptr_t)i);
    for (int i = 0; i < NPROD; i++)
        assert_int_equal(mpt_wait(p[i]), 0);
    assert_int_equal(mp_queue_close(mm->q), 0);
    for (int i = 0; i < NCONS; i++)
        assert_int_equal(mpt_wait(c[i]), 0);
    assert_int_equal(mm->bad, 0);
    uint64_t shorts = 0;
    for (uint32_t i = 0; i < NPROD; i++)
        for (uint32_t s = 0; s < PER_PRODUCER; s++) {
            if (msg_size(i, s, 16) < sizeof(struct mhdr))
                shorts++;
            else if (mm->seen[i][s] != 1)
                fail_msg("producer %u seq %u seen %u times", i, s, (unsigned)mm->seen[i][s]);
        }
    assert_int_equal(mm->short_seen, shorts);
    assert_true(shorts > 0);
    assert_int_equal(mp_queue_qsize(mm->q), 0);
    mp_queue_free(mm->q);
    mp_shared_free(mm);
}

/* ---- producers and consumers killed at random moments ----------------- */

#define ROUNDS 100
#define STABLE 2          /* producers that run throughout: ids 0 and 1 */
#define STABLE_MAX 400000 /* sequence numbers a stable producer may use */
#define VICTIM_MAX 8192   /* sequence numbers a killed producer may use */
#define KBITS 13          /* sizes up to 8 KiB through a 4 KiB ring */

struct killer {
    mp_queue *q;
    _Atomic int stop;                          /* stable producers stop */
    _Atomic int bad;                           /* corruption or order violation seen */
    _Atomic uint32_t sent[STABLE];             /* messages each stable producer put */
    _Atomic uint64_t got;                      /* messages consumed (any consumer) */
    _Atomic uint8_t stable_seen[STABLE][STABLE_MAX];
    _Atomic uint8_t victim_seen[ROUNDS][VICTIM_MAX];
};

static struct killer *kk;

static _Atomic uint8_t *kill_seen(uint32_t producer, uint32_t seq)
{
    if (producer < STABLE)
        return seq < STABLE_MAX ? &kk->stable_seen[producer][seq] : NULL;
    producer -= STABLE;
    return producer < ROUNDS && seq < VICTIM_MAX ? &kk->victim_seen[producer][seq] : NULL;
}

static int kill_producer(void *arg)
{
    uint32_t id = (uint32_t)(uintptr_t)arg;
    uint32_t max = id < STABLE ? STABLE_MAX : VICTIM_MAX;
    unsigned char *buf = malloc(1u << KBITS);
    for (uint32_t s = 0; s < max && !atomic_load(&kk->stop); s++) {
        size_t len = msg_make(buf, id, s, KBITS);
        int rc = mp_queue_put(kk->q, buf, len, 10.0);
        if (rc != 0)
            return 2;
        if (id < STABLE)
            atomic_store(&kk->sent[id], s + 1);
    }
    /* A victim that ran out of numbers waits to be killed. */
    while (id >= STABLE)
        pause();
    free(buf);
    return 0;
}

static int kill_consumer(void *arg)
{
    bool victim = arg != NULL;
    unsigned char *buf = malloc(1u << KBITS);
    static int64_t last[STABLE + ROUNDS];
    for (int i = 0; i < STABLE + ROUNDS; i++)
        last[i] = -1;
    size_t len;
    int rc;
    while ((rc = mp_queue_get(kk->q, buf, 1u << KBITS, &len, 10.0)) == 0) {
        struct mhdr h;
        int k = msg_check(buf, len, &h);
        if (k == 1)
            continue;
        _Atomic uint8_t *seen = k == 0 ? kill_seen(h.producer, h.seq) : NULL;
        if (seen == NULL || len != msg_size(h.producer, h.seq, KBITS) ||
            (int64_t)h.seq <= last[h.producer]) {
            atomic_store(&kk->bad, 1);
            return 3;
        }
        last[h.producer] = h.seq;
        atomic_fetch_add(seen, 1);
        atomic_fetch_add(&kk->got, 1);
    }
    free(buf);
    if (victim)
        return 5; /* a victim should be killed, never run dry */
    return rc == MP_ECLOSED ? 0 : 4;
}

/* The queue still flows after the kills: 1000 more messages consumed, or
 * the stable producers ran out of numbers. */
static bool flows_after_kills(void *arg)
{
    uint64_t from = *(const uint64_t *)arg;
    if (atomic_load(&kk->got) >= from + 1000)
        return true;
    for (int i = 0; i < STABLE; i++)
        if (atomic_load(&kk->sent[i]) < STABLE_MAX)
            return false;
    return true;
}

static void test_queue_survives_processes_killed_at_random_moments(void **state)
{
    (void)state;
    kk = mp_shared_calloc(1, sizeof *kk);
    assert_non_null(kk);
    /* A small ring and maxsize: wrap-around, out-of-line messages, the
     * overflow list and blocked putters are all in play when a kill hits. */
    kk->q = mp_queue_new_opts(&(mp_queue_opts){.maxsize = 48, .capacity = 4096});
    assert_non_null(kk->q);
    pid_t sp[STABLE], sc[2];
    for (int i = 0; i < 2; i++)
        sc[i] = mpt_fork(kill_consumer, NULL);
    for (int i = 0; i < STABLE; i++)
        sp[i] = mpt_fork(kill_producer, (void *)(uintptr_t)i);
    unsigned seed = 4242;
    double t0 = mpt_now();
    for (int r = 0; r < ROUNDS; r++) {
        pid_t vp = mpt_fork(kill_producer, (void *)(uintptr_t)(STABLE + r));
        pid_t vc = mpt_fork(kill_consumer, (void *)1);
        usleep((useconds_t)(rand_r(&seed) % 4000));
        kill(vp, SIGKILL);
        usleep((useconds_t)(rand_r(&seed) % 500));
        kill(vc, SIGKILL);
        assert_int_equal(mpt_wait(vp), 128 + SIGKILL);
        assert_int_equal(mpt_wait(vc), 128 + SIGKILL);
    }
    double kill_time = mpt_now() - t0;
    uint64_t got_during = atomic_load(&kk->got);
    /* Flowing meanwhile and afterwards, whatever the machine's speed: a
     * kill that wedged the queue stops both. */
    assert_true(got_during > 0);
    assert_true(mpt_until(flows_after_kills, &got_during, 30));
    atomic_store(&kk->stop, 1);
    for (int i = 0; i < STABLE; i++)
        assert_int_equal(mpt_wait(sp[i]), 0);
    assert_int_equal(mp_queue_close(kk->q), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(mpt_wait(sc[i]), 0);
    assert_int_equal(kk->bad, 0);
    print_message("%d kill rounds in %.2f s, %llu messages consumed meanwhile\n", ROUNDS,
                  kill_time, (unsigned long long)got_during);

    /* No duplicates; the only losses are messages that killed consumers
     * had taken (at most one per kill): holes below a producer's highest
     * delivered number, or below what a stable producer put. */
    uint64_t lost = 0;
    for (uint32_t p = 0; p < STABLE + ROUNDS; p++) {
        uint32_t max = p < STABLE ? STABLE_MAX : VICTIM_MAX;
        int64_t top = p < STABLE ? (int64_t)kk->sent[p] - 1 : -1;
        for (uint32_t s = 0; s < max; s++) {
            uint8_t n = *kill_seen(p, s);
            if (n > 1)
                fail_msg("producer %u seq %u delivered %u times", p, s, (unsigned)n);
            if (n == 1 && (int64_t)s > top)
                top = s;
        }
        if (p < STABLE && top >= (int64_t)kk->sent[p])
            fail_msg("stable producer %u: seq %lld delivered but never put", p, (long long)top);
        for (int64_t s = 0; s <= top; s++)
            if (msg_size(p, (uint32_t)s, KBITS) >= sizeof(struct mhdr) &&
                *kill_seen(p, (uint32_t)s) == 0)
                lost++;
    }
    print_message("%llu messages lost with killed consumers\n", (unsigned long long)lost);
    assert_true(lost <= ROUNDS);

    /* The queue still works. */
    assert_int_equal(mp_queue_qsize(kk->q), 0);
    mp_queue_free(kk->q);
    mp_queue *q = mp_queue_new(2);
    assert_int_equal(mp_queue_put_i64(q, 5, 0), 0);
    mp_queue_free(q);
    mp_shared_free(kk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        mpt_test(test_queue_four_by_four_processes_deliver_each_message_once),
        mpt_test(test_queue_survives_processes_killed_at_random_moments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
