/* chaos_queue.c - the queue part of the chaos run: producers and consumers
 * on three queues of different shapes, every message numbered and
 * checksummed, and an exact account at the end of what was delivered.
 *
 * Each producer incarnation takes fresh producer ids from a shared
 * counter (a new one every ID_SEQS messages) and numbers its messages
 * 0, 1, 2...; after each put returns it publishes how many it committed.
 * A consumer marks every message it takes in a shared bitmap (id, seq):
 * a bit already set is a duplicate. At the end, every committed message
 * must be marked, except as many as consumers were killed while inside a
 * get (a taken message dies with its taker); a message beyond what its
 * producer committed may only be one its producer was killed putting. */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chaos.h"

#define NQUEUES 3
#define ID_SEQS 4096       /* messages per producer id */
#define MAX_IDS (1 << 15)  /* producer ids in all: 128 M messages */
#define BIG_MSG (96 << 10) /* largest message: out of line in every queue */
#define BATCH   4          /* messages per put_many / get_many */
#define MAGIC   0x6d70712dU

/* The head of every message; the payload follows. */
struct msg {
    uint32_t magic;
    uint32_t id;  /* producer id */
    uint32_t seq; /* number within the id */
    uint32_t len; /* payload bytes */
    uint64_t sum; /* FNV-1a over the fields above and the payload */
};

/* Shared state of this part. */
struct qworld {
    mp_queue *q[NQUEUES];
    _Atomic uint32_t next_id;
    _Atomic uint64_t committed[MAX_IDS]; /* puts that returned 0, per id */
    _Atomic uint32_t inflight[MAX_IDS];  /* messages being put right now, per id */
    _Atomic uint64_t *seen;              /* MAX_IDS * ID_SEQS bits */
    _Atomic uint64_t delivered;
    _Atomic uint64_t too_small; /* gets that returned MP_EMSGSIZE as they should */
    _Atomic uint64_t out_of_ids;
    /* Counted by the supervisor when it kills a consumer inside a get: the
     * most messages that kill can have lost. */
    uint64_t may_lose;
    uint64_t lost;  /* committed, never delivered (<= may_lose) */
    uint64_t extra; /* delivered beyond committed: their producer died putting */
};

static struct qworld *Q;

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

static uint64_t msg_sum(const struct msg *m)
{
    uint64_t h = fnv(0xcbf29ce484222325ULL, m, offsetof(struct msg, sum));
    return fnv(h, m + 1, m->len);
}

/* make_msg builds message (id, seq) of a random size in buf. */
static size_t make_msg(unsigned char *buf, uint32_t id, uint32_t seq, uint64_t *rng)
{
    struct msg *m = (struct msg *)buf;
    uint64_t r = chaos_rand(rng);
    size_t len = r % 32 == 0 ? r % BIG_MSG : (r % 4 == 0 ? r % 2000 : r % 100);
    m->magic = MAGIC;
    m->id = id;
    m->seq = seq;
    m->len = (uint32_t)len;
    unsigned char *p = (unsigned char *)(m + 1);
    for (size_t i = 0; i < len; i++)
        p[i] = (unsigned char)(id * 31 + seq * 7 + i);
    m->sum = msg_sum(m);
    return sizeof *m + len;
}

/* take_msg checks a delivered message and marks it seen. */
static void take_msg(const unsigned char *buf, size_t len)
{
    struct msg m;
    if (len < sizeof m) {
        chaos_fail("queue: %zu-byte message, shorter than its header", len);
        return;
    }
    memcpy(&m, buf, sizeof m);
    if (m.magic != MAGIC || sizeof m + m.len != len || m.id >= MAX_IDS || m.seq >= ID_SEQS) {
        chaos_fail("queue: corrupt header (magic %x, id %u, seq %u, len %u, got %zu bytes)",
                   m.magic, m.id, m.seq, m.len, len);
        return;
    }
    struct msg *copy = malloc(len);
    memcpy(copy, buf, len);
    uint64_t sum = msg_sum(copy);
    free(copy);
    if (sum != m.sum) {
        chaos_fail("queue: message id %u seq %u corrupt (checksum)", m.id, m.seq);
        return;
    }
    uint64_t bit = (uint64_t)m.id * ID_SEQS + m.seq;
    uint64_t old = atomic_fetch_or(&Q->seen[bit / 64], (uint64_t)1 << (bit % 64));
    if (old & ((uint64_t)1 << (bit % 64)))
        chaos_fail("queue: message id %u seq %u delivered twice", m.id, m.seq);
    atomic_fetch_add(&Q->delivered, 1);
}

/* new_id gives the caller a fresh producer id, or -1 once all are used. */
static int64_t new_id(void)
{
    uint32_t id = atomic_fetch_add(&Q->next_id, 1);
    if (id >= MAX_IDS) {
        atomic_fetch_add(&Q->out_of_ids, 1);
        return -1;
    }
    return id;
}

static int run_producer(struct slot *s, uint64_t *rng)
{
    unsigned char *buf[BATCH];
    for (int i = 0; i < BATCH; i++)
        buf[i] = malloc(sizeof(struct msg) + BIG_MSG);
    int64_t id = new_id();
    uint32_t seq = 0;
    while (!atomic_load(&W->stop) && id >= 0) {
        mp_queue *q = Q->q[chaos_rand(rng) % NQUEUES];
        bool batch = chaos_rand(rng) % 4 == 0 && seq + BATCH <= ID_SEQS;
        size_t n = batch ? BATCH : 1, lens[BATCH];
        for (size_t i = 0; i < n; i++)
            lens[i] = make_msg(buf[i], (uint32_t)id, seq + (uint32_t)i, rng);
        atomic_store(&Q->inflight[id], (uint32_t)n);
        int rc;
        size_t done = 0;
        if (batch) {
            rc = mp_queue_put_many(q, (const void *const *)buf, lens, n, &done, CHAOS_OP_BOUND);
        } else {
            rc = mp_queue_put(q, buf[0], lens[0], CHAOS_OP_BOUND);
            done = rc == 0;
        }
        seq += (uint32_t)done;
        atomic_store(&Q->committed[id], seq);
        atomic_store(&Q->inflight[id], 0);
        if (rc == MP_EFULL)
            chaos_fail("queue: put still full after %.0f s", CHAOS_OP_BOUND);
        else if (rc != 0)
            chaos_fail("queue: put returned %s", mp_err_name(rc));
        atomic_fetch_add(&s->ops, 1);
        if (seq + BATCH > ID_SEQS) {
            id = new_id();
            seq = 0;
        }
        chaos_jitter(rng, 30);
    }
    for (int i = 0; i < BATCH; i++)
        free(buf[i]);
    return 0;
}

static int run_consumer(struct slot *s, uint64_t *rng)
{
    size_t cap = sizeof(struct msg) + BIG_MSG;
    unsigned char *buf = malloc(cap * BATCH);
    int closed = 0;
    for (unsigned k = (unsigned)s->index; closed < NQUEUES; k++) {
        mp_queue *q = Q->q[k % NQUEUES];
        /* Once the producers are gone (the queues get closed then), empty
         * the queues one by one till each says closed. */
        if (atomic_load(&W->drain))
            q = Q->q[closed];
        uint64_t how = chaos_rand(rng) % 8;
        size_t len = 0;
        int rc;
        atomic_store(&s->busy, how == 0 ? BATCH : 1);
        if (how == 0) {
            size_t lens[BATCH], n = 0;
            rc = mp_queue_get_many(q, buf, cap * BATCH, lens, BATCH, &n, 0.05);
            if (rc == 0) {
                size_t off = 0;
                for (size_t i = 0; i < n; i++) {
                    take_msg(buf + off, lens[i]);
                    off += lens[i];
                }
            }
        } else if (how == 1) {
            void *m = NULL;
            rc = mp_queue_get_alloc(q, &m, &len, 0.05);
            if (rc == 0)
                take_msg(m, len);
            free(m);
        } else if (how == 2) {
            /* A buffer too small for most messages: they must stay. */
            rc = mp_queue_get(q, buf, sizeof(struct msg) + 8, &len, 0.05);
            if (rc == MP_EMSGSIZE) {
                if (len <= sizeof(struct msg) + 8)
                    chaos_fail("queue: MP_EMSGSIZE for a %zu-byte message", len);
                atomic_fetch_add(&Q->too_small, 1);
                rc = 0;
            } else if (rc == 0) {
                take_msg(buf, len);
            }
        } else {
            rc = mp_queue_get(q, buf, cap, &len, 0.05);
            if (rc == 0)
                take_msg(buf, len);
        }
        atomic_store(&s->busy, 0);
        if (rc == MP_ECLOSED && q == Q->q[closed])
            closed++;
        else if (rc != 0 && rc != MP_EEMPTY && rc != MP_ECLOSED)
            chaos_fail("queue: get returned %s", mp_err_name(rc));
        atomic_fetch_add(&s->ops, 1);
    }
    free(buf);
    return 0;
}

static const struct role queue_roles[] = {
    {"producer", 3, run_producer, false},
    {"consumer", 3, run_consumer, true},
};

static int queue_init(void)
{
    Q = mp_shared_calloc(1, sizeof *Q);
    if (Q == NULL)
        return -1;
    Q->seen = mp_shared_calloc((size_t)MAX_IDS * ID_SEQS / 64, sizeof(uint64_t));
    /* A tiny ring (most messages out of line, much wrapping), a bounded
     * queue (producers wait for room), and a mid-sized ring. */
    Q->q[0] = mp_queue_new_opts(&(mp_queue_opts){.capacity = 256});
    Q->q[1] = mp_queue_new_opts(&(mp_queue_opts){.maxsize = 8});
    Q->q[2] = mp_queue_new_opts(&(mp_queue_opts){.capacity = 8192});
    for (int i = 0; i < NQUEUES; i++)
        if (Q->q[i] == NULL)
            return -1;
    return Q->seen == NULL ? -1 : 0;
}

/* A consumer killed inside a get may take up to what that get could
 * return with it. */
static void queue_killed(struct slot *s)
{
    if (s->role->run == run_consumer)
        Q->may_lose += (uint64_t)atomic_load(&s->busy);
}

/* Producers are stopped first (the supervisor joins every non-waiter);
 * the queues are closed once they are gone, so consumers drain and end. */
static void queue_producers_done(void)
{
    for (int i = 0; i < NQUEUES; i++)
        mp_queue_close(Q->q[i]);
}

static void queue_check(void)
{
    uint32_t ids = atomic_load(&Q->next_id);
    if (ids > MAX_IDS)
        ids = MAX_IDS;
    for (uint32_t id = 0; id < ids; id++) {
        uint64_t committed = atomic_load(&Q->committed[id]);
        uint64_t maybe = committed + atomic_load(&Q->inflight[id]);
        for (uint64_t seq = 0; seq < ID_SEQS; seq++) {
            uint64_t bit = (uint64_t)id * ID_SEQS + seq;
            bool seen = atomic_load(&Q->seen[bit / 64]) & ((uint64_t)1 << (bit % 64));
            if (seq < committed && !seen)
                Q->lost++;
            else if (seq >= committed && seen && seq < maybe)
                Q->extra++;
            else if (seq >= maybe && seen)
                chaos_fail("queue: id %u seq %" PRIu64 " delivered but never put (%" PRIu64
                           " committed)",
                           id, seq, committed);
        }
    }
    if (Q->lost > Q->may_lose)
        chaos_fail("queue: %" PRIu64 " messages lost, but consumers killed inside a get could "
                   "lose at most %" PRIu64,
                   Q->lost, Q->may_lose);
    for (int i = 0; i < NQUEUES; i++)
        if (mp_queue_qsize(Q->q[i]) != 0)
            chaos_fail("queue %d: %zu messages left after the drain", i, mp_queue_qsize(Q->q[i]));
}

static void queue_report(void)
{
    printf("queue_messages_delivered: %" PRIu64 "\n", atomic_load(&Q->delivered));
    printf("queue_messages_lost: %" PRIu64 "\n", Q->lost);
    printf("queue_messages_may_lose: %" PRIu64 "\n", Q->may_lose);
    printf("queue_messages_put_by_killed: %" PRIu64 "\n", Q->extra);
    printf("queue_msgsize_checks: %" PRIu64 "\n", atomic_load(&Q->too_small));
    if (atomic_load(&Q->out_of_ids) > 0)
        printf("queue_producer_ids_exhausted: %" PRIu64 "\n", atomic_load(&Q->out_of_ids));
}

static void queue_free_all(void)
{
    for (int i = 0; i < NQUEUES; i++)
        mp_queue_free(Q->q[i]);
    mp_shared_free(Q->seen);
    mp_shared_free(Q);
}

const struct chaos_module chaos_queue_module = {
    .name = "queue",
    .init = queue_init,
    .roles = queue_roles,
    .nroles = sizeof queue_roles / sizeof *queue_roles,
    .killed = queue_killed,
    .producers_done = queue_producers_done,
    .check = queue_check,
    .report = queue_report,
    .fini = queue_free_all,
};
