/* queue.c - Python's Queue, SimpleQueue and JoinableQueue on the record
 * storage of store.h: reserve under a lock, copy outside it, publish with
 * one store; waiting, waking, close, task_done and join around that.
 *
 * Waking. A consumer that finds nothing spins briefly, then raises
 * data_flag and sleeps on data_seq; a producer, having published (a full
 * barrier), looks at data_flag and, only when it is raised, clears it,
 * bumps data_seq and wakes the sleepers. So a put makes no system call
 * unless a consumer sleeps, and both sides see each other (store, barrier,
 * load on each side). Producers waiting for room under maxsize and
 * joiners use room_* and join_* the same way. A flag left raised by a
 * process killed while it slept costs one spurious wake, not one per put.
 *
 * Locks are taken with the caller's deadline: a call that cannot get its
 * side's lock in time (its holder is stopped) times out like any wait. */
#include "mp/queue.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "mp/error.h"
#include "mp/shared.h"
#include "heap/heap.h"
#include "os/alive.h"
#include "os/clock.h"
#include "os/fence.h"
#include "os/futex.h"
#include "os/log.h"
#include "os/panic.h"
#include "os/thread.h"
#include "queue/store.h"
#include "sync/lock.h"
#include "sync/wait.h"

#define DEFAULT_CHUNK (1024u * 1024u)

/* A record that stays RESV or CLAIM this long (seconds) in front of a
 * cursor makes the cursor's next user ask whether its holder lives. */
#define HOLD_CHECK MP__WAIT_SLICE

/* Where a cursor has been seen stuck, so that a holder is asked about only
 * once it has held a record for HOLD_CHECK. */
struct stall {
    mp__qchunk *chunk; /* the record's chunk, NULL when none */
    uint64_t off;      /* the record's offset */
    double since;      /* when it was first seen held twice; 0 until then */
};

struct mp_queue {
    /* Set at creation, read-only afterwards (this line is only read). */
    uint64_t maxsize;        /* items; 0 = no limit */
    uint64_t chunk_bytes;    /* bytes per chunk, its header included */
    uint64_t inline_max;     /* largest message stored in a chunk */
    _Atomic uint32_t closed; /* set once by mp_queue_close */

    /* Each side's lock and private state on a line of its own, apart from
     * the state it publishes: the other side reads that state (a full
     * queue's producer spins on cons, an empty queue's consumer on prod),
     * and would otherwise take the line from under every lock and unlock. */

    /* Producers' line. */
    _Alignas(64) mp__lock plock; /* guards prod and gets_seen */
    uint32_t pad0;
    uint64_t gets_seen; /* a recent consumer count, for the maxsize check */
    _Alignas(64) mp__qside prod; /* the tail: chunk, offset, records reserved */

    /* Consumers' line. */
    _Alignas(64) mp__lock clock; /* guards cons and what follows */
    uint32_t pad1;
    struct stall head_stall; /* a RESV in front of the head */
    struct stall rel_stall;  /* a CLAIM in front of the release point */
    mp__qchunk *scan_chunk;  /* a chunk behind the release point's, known done */
    uint64_t scan_off;       /* up to this offset (see reclaim_behind) */
    _Alignas(64) mp__qside cons; /* the head and the release point, records taken */

    /* Wake-up words, one line per kind of sleeper. */
    _Alignas(64) _Atomic uint32_t data_seq; /* consumers sleep here */
    _Atomic uint32_t data_flag;             /* a consumer sleeps or is about to */
    _Alignas(64) _Atomic uint32_t room_seq; /* producers sleep here (maxsize) */
    _Atomic uint32_t room_flag;
    _Atomic uint64_t gets_hint; /* cons.count, published every room_batch gets */
    _Alignas(64) _Atomic uint32_t join_seq; /* mp_queue_join sleeps here */
    _Atomic uint32_t join_flag;
    _Atomic uint64_t tdone;        /* mp_queue_task_done calls */
    _Atomic uint64_t lost;         /* messages lost with a dead process: never to be task_done */
    _Atomic uint64_t dead_pending; /* DEAD records not yet skipped: counted as put, not queued */
};
_Static_assert(offsetof(struct mp_queue, plock) % 64 == 0, "producer line");
_Static_assert(offsetof(struct mp_queue, clock) % 64 == 0, "consumer line");
_Static_assert(offsetof(struct mp_queue, data_seq) % 64 == 0, "wake line");

/* ---- small helpers ------------------------------------------------------ */

static inline uint32_t state_of(const mp__qrec *r)
{
    return atomic_load_explicit(&r->state, memory_order_acquire);
}

static inline mp__qblk *rec_blk(mp__qrec *r)
{
    mp__qblk *b;
    memcpy(&b, r + 1, sizeof b);
    return b;
}

static inline bool same_pos(mp__qchunk *c1, uint64_t o1, mp__qchunk *c2, uint64_t o2)
{
    return c1 == c2 && o1 == o2;
}

/* wake_all bumps seq and wakes its sleepers when flag is raised. Call it
 * after the change the sleepers wait for, and after a full barrier. */
static inline void wake_all(_Atomic uint32_t *seq, _Atomic uint32_t *flag)
{
    if (atomic_load_explicit(flag, memory_order_seq_cst) &&
        atomic_exchange_explicit(flag, 0, memory_order_acq_rel)) {
        atomic_fetch_add_explicit(seq, 1, memory_order_release);
        mp__futex_wake(seq, INT32_MAX);
    }
}

/* sleep_on waits for seq to move past seen, having raised flag; ready()
 * is checked between raising the flag and sleeping. Returns 0 (look
 * again) or MP_ETIMEDOUT. */
static int sleep_on(mp_queue *q, _Atomic uint32_t *seq, _Atomic uint32_t *flag,
                    bool (*ready)(mp_queue *), const mp__deadline *d)
{
    uint32_t seen = atomic_load_explicit(seq, memory_order_acquire);
    atomic_exchange_explicit(flag, 1, memory_order_seq_cst);
    /* Pairs with the waker's seq_cst change (or fence) and flag load: one
     * of the two sees the other. */
    mp__fence(memory_order_seq_cst);
    if (ready(q))
        return 0;
    return mp__wait(seq, seen, d, NULL, NULL) == MP_ETIMEDOUT ? MP_ETIMEDOUT : 0;
}

/* The caller's wait, its deadline fixed at the first wait, so that an
 * uncontended call never reads the clock. */
typedef struct {
    double timeout; /* as given */
    bool started;   /* d is set */
    mp__deadline d;
} qwait;

static const mp__deadline *qwait_deadline(qwait *w)
{
    if (!w->started) {
        mp__deadline_init(&w->d, w->timeout);
        w->started = true;
    }
    return &w->d;
}

static const mp__deadline forever = {.forever = true};

static const mp__deadline *qwait_lock_deadline(qwait *w)
{
    /* Locks are held for a few stores only: an unstarted wait takes them
     * with its timeout, computed now. */
    return w->timeout == MP_FOREVER ? &forever : qwait_deadline(w);
}

/* stalled tells whether the record at (c, off), held by someone, has been
 * seen held for HOLD_CHECK: the first sighting is recorded, the second
 * starts the clock. */
static bool stalled(struct stall *s, mp__qchunk *c, uint64_t off)
{
    if (s->chunk != c || s->off != off) {
        s->chunk = c;
        s->off = off;
        s->since = 0;
        return false;
    }
    double now = mp__now();
    if (s->since == 0) {
        s->since = now;
        return false;
    }
    if (now - s->since < HOLD_CHECK)
        return false;
    s->since = now; /* ask again a slice later if it lives */
    return true;
}

/* ---- chunks ------------------------------------------------------------- */

/* chunk_new makes a chunk of chunk_bytes in all, header included (so a
 * power of two wastes nothing in the heap), and uses whatever the heap
 * gave beyond that. The heap's locks are waited for until d. NULL with
 * errno ENOMEM or ETIMEDOUT (mp__heap_alloc). */
static mp__qchunk *chunk_new(mp_queue *q, const mp__deadline *d)
{
    mp__qchunk *c = mp__heap_alloc(q->chunk_bytes, d);
    if (c == NULL)
        return NULL;
    atomic_init(&c->next, NULL);
    c->size = (mp_shared_usable_size(c) - sizeof *c) & ~(uint64_t)7;
    /* Nothing published at the tail yet (see head_published). */
    atomic_init(&mp__qrec_at(c, 0)->state, MP__QR_DONE);
    return c;
}

/* ---- locks and their repair -------------------------------------------- */

/* A producer died holding plock. Its committed state is whole; a chunk it
 * was linking (chunk->next set, the tail not yet moved) is taken into use
 * now, so that the chunk is not lost. Reservations it wrote past the tail
 * are not reservations: the next ones overwrite them. */
static void repair_producer(mp_queue *q)
{
    mp__qpos p;
    mp__qside_load(&q->prod, &p);
    mp__qchunk *next = atomic_load_explicit(&p.chunk->next, memory_order_acquire);
    mp__log(MP_LOG_WARN, "queue %p: a producer died holding its lock%s", (void *)q,
            next != NULL ? "; finishing the chunk it was linking" : "");
    if (next == NULL)
        return;
    mp__qrec *end = mp__qrec_at(p.chunk, p.off);
    end->lenkind = MP__QK_END;
    atomic_store_explicit(&end->state, MP__QR_PUB, memory_order_release);
    p.chunk = next;
    p.off = 0;
    mp__qside_commit(&q->prod, &p);
}

/* A consumer died holding clock. Records it marked CLAIM without
 * committing the head past them were never copied: they are published
 * again, in place. Its claims run on from the head, with the END records
 * it followed and the DEAD records it skipped between them (take); the
 * DEAD ones stay DEAD, for the next consumer to skip and count. */
static void repair_consumer(mp_queue *q)
{
    mp__qpos c, t;
    mp__qside_load(&q->cons, &c);
    mp__qside_read(&q->prod, &t);
    mp__log(MP_LOG_WARN, "queue %p: a consumer died holding its lock; its claims go back",
            (void *)q);
    while (!same_pos(c.chunk, c.off, t.chunk, t.off)) {
        mp__qrec *r = mp__qrec_at(c.chunk, c.off);
        uint32_t st = state_of(r);
        if ((r->lenkind & 3) == MP__QK_END && (st & MP__QR_STATE) == MP__QR_PUB) {
            c.chunk = atomic_load_explicit(&c.chunk->next, memory_order_acquire);
            c.off = 0;
            continue;
        }
        if ((st & MP__QR_STATE) == MP__QR_CLAIM)
            atomic_store_explicit(&r->state, MP__QR_PUB, memory_order_release);
        else if (st != MP__QR_DEAD)
            break;
        c.off += mp__qrec_size(r->lenkind);
    }
    q->head_stall.chunk = q->rel_stall.chunk = q->scan_chunk = NULL;
}

/* side_lock takes one side's lock (l, whose dead holder repair mends)
 * within the wait's deadline: 0 or MP_ETIMEDOUT. An uncontended take reads
 * no clock. */
static int side_lock(mp_queue *q, mp__lock *l, void (*repair)(mp_queue *), qwait *w)
{
    if (mp__lock_tryacquire(l))
        return 0;
    int rc = mp__lock_acquire_slow(l, qwait_lock_deadline(w));
    if (rc == MP_EOWNERDEAD) {
        repair(q);
        rc = 0;
    }
    return rc;
}

static int plock(mp_queue *q, qwait *w)
{
    return side_lock(q, &q->plock, repair_producer, w);
}

static int clock_take(mp_queue *q, qwait *w)
{
    return side_lock(q, &q->clock, repair_consumer, w);
}

/* ---- construction ------------------------------------------------------- */

MP_EXTERN mp_queue *mp_queue_new_opts(const mp_queue_opts *opts)
{
    mp_queue_opts o = opts != NULL ? *opts : (mp_queue_opts){0};
    uint64_t bytes = o.capacity == 0 ? DEFAULT_CHUNK : o.capacity;
    if (bytes > MP__QCHUNK_MAX) {
        errno = ENOMEM;
        return NULL;
    }
    if (bytes < MP__QCHUNK_MIN)
        bytes = MP__QCHUNK_MIN;
    /* The heap aligns blocks of 64 bytes or more to 64: the cache-line
     * layout holds. */
    mp_queue *q = mp_shared_calloc(1, sizeof *q);
    if (q == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    q->maxsize = o.maxsize;
    q->chunk_bytes = bytes;
    /* A message bigger than a quarter of a chunk would leave little room
     * for others: it goes out of line. */
    uint64_t quarter = (bytes - sizeof(mp__qchunk)) / 4 - MP__QREC_HDR;
    q->inline_max = quarter < MP__QLEN_MAX ? quarter : MP__QLEN_MAX;
    mp__lock_init(&q->plock);
    mp__lock_init(&q->clock);
    mp__qchunk *c = chunk_new(q, &forever);
    if (c == NULL) {
        mp_shared_free(q);
        errno = ENOMEM;
        return NULL;
    }
    mp__qpos p = {.chunk = c, .rchunk = c};
    mp__qside_commit(&q->prod, &p);
    mp__qside_commit(&q->cons, &p);
    return q;
}

MP_EXTERN mp_queue *mp_queue_new(size_t maxsize)
{
    return mp_queue_new_opts(&(mp_queue_opts){.maxsize = maxsize});
}

/* blk_of returns the out-of-line block of record r, or NULL. */
static mp__qblk *blk_of(mp__qrec *r)
{
    return (r->lenkind & 3) == MP__QK_OOL ? rec_blk(r) : NULL;
}

/* free_blk_of frees the out-of-line block of a record that has one and
 * whose block nobody freed yet. */
static void free_blk_of(mp__qrec *r)
{
    mp_shared_free(blk_of(r));
}

MP_EXTERN void mp_queue_free(mp_queue *q)
{
    if (q == NULL)
        return;
    mp__qpos c, t;
    mp__qside_load(&q->cons, &c);
    mp__qside_load(&q->prod, &t);
    mp__qchunk *ch = c.rchunk;
    uint64_t off = c.roff;
    /* Every record still stored, consumed or not: a block is freed unless
     * its consumer got as far as DONE (it frees the block itself). */
    while (!same_pos(ch, off, t.chunk, t.off)) {
        mp__qrec *r = mp__qrec_at(ch, off);
        if ((r->lenkind & 3) == MP__QK_END) {
            mp__qchunk *next = atomic_load_explicit(&ch->next, memory_order_acquire);
            mp_shared_free(ch);
            ch = next;
            off = 0;
            continue;
        }
        uint32_t st = state_of(r);
        if (st != MP__QR_DONE && st != MP__QR_DEAD)
            free_blk_of(r);
        off += mp__qrec_size(r->lenkind);
    }
    mp_shared_free(ch);
    mp_shared_free(q);
}

/* ---- put ---------------------------------------------------------------- */

/* Can a put go on? Room under maxsize, or the queue closed (the put then
 * fails at once). */
static bool has_room(mp_queue *q)
{
    if (atomic_load_explicit(&q->closed, memory_order_acquire))
        return true;
    mp__qpos p;
    mp__qside_read(&q->prod, &p);
    return p.count - mp__qside_count(&q->cons) < q->maxsize;
}

/* Room for a batch: what a full queue's producer spins for. Polling the
 * consumers' cursor, which they write on every get, would pull that line
 * to the producer's core and back once per message; instead consumers
 * publish their count in gets_hint every room_batch gets, and a spinning
 * producer waits for that much room. The hint lags, so it only decides
 * when to stop spinning; has_room, exact, decides whether to sleep.
 *
 * Large messages are the exception: a get of one publishes the hint at
 * once (a store beside a copy of kilobytes), and a producer of one spins
 * for a single place. Waiting for a batch of them outlasted the spin, and
 * the producer slept and was woken at every few messages. */
#define ROOM_BIG 4096 /* bytes: a message this large moves the hint by itself */

static uint64_t room_batch(const mp_queue *q)
{
    uint64_t b = q->maxsize / 8;
    return b < 1 ? 1 : b > 64 ? 64 : b;
}

static bool has_hint_room(mp_queue *q, uint64_t need)
{
    if (atomic_load_explicit(&q->closed, memory_order_acquire))
        return true;
    uint64_t gets = atomic_load_explicit(&q->gets_hint, memory_order_relaxed);
    mp__qpos p;
    mp__qside_read(&q->prod, &p);
    return p.count - gets + need <= q->maxsize;
}

static bool has_batch_room(mp_queue *q)
{
    return has_hint_room(q, room_batch(q));
}

static bool has_one_room(mp_queue *q)
{
    return has_hint_room(q, 1);
}

/* What a producer reserved: where to copy each message, then publish. */
struct resv {
    mp__qrec *rec;   /* the record */
    const void *msg; /* the bytes to copy in */
    size_t len;
};

/* Reserve records for msgs[0..n), as many as fit the chunk and maxsize:
 * all in the chunk, or (ool) one out of line, whose block the caller
 * makes after the lock. Lock held. Returns how many were reserved (0: the
 * queue is full, or the chunk needs a successor: *need_chunk), after
 * committing them. */
static size_t reserve(mp_queue *q, const void *const *msgs, const size_t *lens, size_t n, bool ool,
                      struct resv *out, bool *need_chunk)
{
    mp__qpos p;
    mp__qside_load(&q->prod, &p);
    uint32_t me = (uint32_t)mp__tid() & MP__QR_TID;
    size_t k = 0;
    *need_chunk = false;
    while (k < n) {
        if (q->maxsize != 0 && p.count - q->gets_seen >= q->maxsize) {
            q->gets_seen = mp__qside_count(&q->cons);
            if (p.count - q->gets_seen >= q->maxsize)
                break;
        }
        size_t len = lens[k];
        uint32_t lenkind = ool ? MP__QK_OOL : (uint32_t)len << 2 | MP__QK_DATA;
        uint64_t size = mp__qrec_size(lenkind);
        if (p.off + size + MP__QREC_HDR > p.chunk->size) {
            *need_chunk = true;
            break;
        }
        mp__qrec *r = mp__qrec_at(p.chunk, p.off);
        r->lenkind = lenkind;
        if (ool)
            memset(r + 1, 0, sizeof(mp__qblk *)); /* no block yet */
        atomic_store_explicit(&r->state, MP__QR_RESV | me, memory_order_relaxed);
        out[k].rec = r;
        out[k].msg = msgs[k];
        out[k].len = len;
        p.off += size;
        p.count++;
        k++;
    }
    if (k > 0) {
        /* The record at the new tail reads as not published, whatever an
         * earlier use of the chunk's memory left there, so that a waiting
         * consumer can watch its head record alone (head_published). The
         * reserve check left room there for a header. */
        atomic_store_explicit(&mp__qrec_at(p.chunk, p.off)->state, MP__QR_DONE,
                              memory_order_relaxed);
        mp__qside_commit(&q->prod, &p);
    }
    return k;
}

/* Link chunk c after the tail chunk and move the tail into it. Lock held. */
static void switch_chunk(mp_queue *q, mp__qchunk *c)
{
    mp__qpos p;
    mp__qside_load(&q->prod, &p);
    /* The link first: a producer that dies from here on leaves it for the
     * next holder to finish (repair_producer). */
    atomic_store_explicit(&p.chunk->next, c, memory_order_release);
    mp__qrec *end = mp__qrec_at(p.chunk, p.off);
    end->lenkind = MP__QK_END;
    /* Release: a consumer reads the kind once it sees PUB (take). */
    atomic_store_explicit(&end->state, MP__QR_PUB, memory_order_release);
    p.chunk = c;
    p.off = 0;
    mp__qside_commit(&q->prod, &p);
}

/* Publish the reserved record r as DEAD: nothing to deliver (its producer
 * died, or could not store its message). Counted in dead_pending until a
 * consumer skips it, so that qsize never counts it. */
static bool mark_dead(mp_queue *q, mp__qrec *r, uint32_t resv)
{
    atomic_fetch_add(&q->dead_pending, 1);
    if (atomic_compare_exchange_strong(&r->state, &resv, MP__QR_DEAD))
        return true;
    atomic_fetch_sub(&q->dead_pending, 1);
    return false;
}

/* Copy the reserved messages in and publish them, then wake consumers.
 * An out-of-line message gets its block first, the record pointing to it
 * before anything else (so a repair frees it if we die); the heap's locks
 * are waited for until d. Returns 0, MP_EMSGSIZE when the heap cannot hold
 * that block, or MP_EFULL when d passed behind a process stopped in the
 * heap (the record is then published DEAD: that message is not queued). */
static int publish(mp_queue *q, const struct resv *rv, size_t k, const mp__deadline *d)
{
    int rc = 0;
    for (size_t i = 0; i < k; i++) {
        mp__qrec *r = rv[i].rec;
        void *dst = r + 1;
        if ((r->lenkind & 3) == MP__QK_OOL) {
            mp__qblk *blk = mp__heap_alloc(sizeof *blk + rv[i].len, d);
            if (blk == NULL) {
                rc = errno == ETIMEDOUT ? MP_EFULL : MP_EMSGSIZE;
                mark_dead(q, r, atomic_load_explicit(&r->state, memory_order_relaxed));
                continue;
            }
            memcpy(r + 1, &blk, sizeof blk);
            blk->len = rv[i].len;
            dst = blk + 1;
        }
        if (rv[i].len > 0)
            mp__qcopy(dst, rv[i].msg, rv[i].len);
        /* A full barrier, so that the flag is read after it (see top). */
        atomic_exchange_explicit(&r->state, MP__QR_PUB, memory_order_seq_cst);
    }
    wake_all(&q->data_seq, &q->data_flag);
    return rc;
}

/* Put n messages in order, waiting as the timeout allows while the queue
 * is full. *done counts the messages put. */
static int put_many(mp_queue *q, const void *const *msgs, const size_t *lens, size_t n,
                    size_t *done, double timeout)
{
    qwait w = {.timeout = timeout};
    struct resv rv[64];
    size_t i = 0;
    int rc = 0;
    while (i < n && rc == 0) {
        bool ool = lens[i] > q->inline_max;
        size_t batch = 1;
        while (!ool && i + batch < n && batch < 64 && lens[i + batch] <= q->inline_max)
            batch++;
        if (plock(q, &w) != 0) {
            rc = MP_EFULL; /* timed out behind a stopped producer */
            break;
        }
        if (atomic_load_explicit(&q->closed, memory_order_acquire)) {
            mp__lock_release(&q->plock);
            rc = MP_ECLOSED;
            break;
        }
        bool need_chunk;
        size_t k = reserve(q, msgs + i, lens + i, batch, ool, rv, &need_chunk);
        if (k == 0 && need_chunk) {
            /* Made under the lock: a chunk made outside it would be lost
             * by a producer killed while it waits for the lock. */
            mp__qchunk *c = chunk_new(q, qwait_lock_deadline(&w));
            if (c == NULL) {
                mp__lock_release(&q->plock);
                /* ETIMEDOUT: behind a process stopped in the heap. */
                rc = errno == ETIMEDOUT ? MP_EFULL : MP_ENOMEM;
                break;
            }
            switch_chunk(q, c);
            k = reserve(q, msgs + i, lens + i, batch, ool, rv, &need_chunk);
        }
        mp__lock_release(&q->plock);
        if (k > 0) {
            rc = publish(q, rv, k, qwait_lock_deadline(&w));
            if (rc == 0)
                i += k;
            continue;
        }
        /* Full: wait for room, spinning first while consumers run (a
         * sleeping producer lets them drain the queue and go to sleep
         * too). */
        if (!(w.timeout > 0)) {
            rc = MP_EFULL;
            break;
        }
        const mp__deadline *d = qwait_deadline(&w);
        bool (*room)(mp_queue *) = lens[i] >= ROOM_BIG ? has_one_room : has_batch_room;
        if (mp__spin_until((bool (*)(void *))room, q, d) || has_room(q))
            continue;
        if (sleep_on(q, &q->room_seq, &q->room_flag, has_room, d) != 0 && !has_room(q))
            rc = MP_EFULL;
    }
    if (done != NULL)
        *done = i;
    return rc;
}

MP_EXTERN int mp_queue_put(mp_queue *q, const void *msg, size_t len, double timeout)
{
    if (q == NULL || (msg == NULL && len > 0) || isnan(timeout))
        return MP_EINVAL;
    /* The common case in one go: a small message, the lock free, room in
     * the chunk and under maxsize, the queue open. */
    if (len <= q->inline_max && mp__lock_tryacquire(&q->plock)) {
        struct resv rv;
        bool need_chunk;
        size_t k = atomic_load_explicit(&q->closed, memory_order_relaxed)
                       ? 0
                       : reserve(q, &msg, &len, 1, false, &rv, &need_chunk);
        mp__lock_release(&q->plock);
        if (k == 1)
            return publish(q, &rv, 1, &forever); /* inline: no allocation */
    }
    return put_many(q, &msg, &len, 1, NULL, timeout);
}

MP_EXTERN int mp_queue_put_nowait(mp_queue *q, const void *msg, size_t len)
{
    return mp_queue_put(q, msg, len, 0);
}

MP_EXTERN int mp_queue_put_many(mp_queue *q, const void *const *msgs, const size_t *lens, size_t n,
                                size_t *done, double timeout)
{
    if (done != NULL)
        *done = 0;
    if (q == NULL || (n > 0 && (msgs == NULL || lens == NULL)) || isnan(timeout))
        return MP_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (msgs[i] == NULL && lens[i] > 0)
            return MP_EINVAL;
    return put_many(q, msgs, lens, n, done, timeout);
}

/* ---- get ---------------------------------------------------------------- */

enum get_mode {
    GET_BUF,   /* into buf, any length up to cap */
    GET_EXACT, /* into buf, exactly cap bytes (typed gets) */
    GET_ALLOC, /* into a malloc'd copy, NUL-terminated */
};

/* One message taken: its record, where its bytes are, where they go. */
struct take {
    mp__qrec *rec;
    const void *src;
    mp__qblk *blk; /* out of line: freed once copied */
    size_t len;
    unsigned char *dst;
};

/* The holder of the record r at (c, off), state st, has held it for a
 * while: if it died, undo what it left. A dead producer's record becomes
 * DEAD (skipped, its block freed); a dead consumer's becomes DONE (its
 * block freed). Lock held. Returns true when r changed. */
static bool reap_holder(mp_queue *q, mp__qrec *r, uint32_t st)
{
    pid_t tid = (pid_t)(st & MP__QR_TID);
    if (mp__tid_alive(tid))
        return false;
    bool resv = (st & MP__QR_STATE) == MP__QR_RESV;
    mp__heap_prefault(blk_of(r)); /* the state changes, then the block goes */
    if (resv ? !mark_dead(q, r, st) : !atomic_compare_exchange_strong(&r->state, &st, MP__QR_DONE))
        return true; /* it moved on: it lives after all */
    mp__log(MP_LOG_WARN, "queue %p: thread %d died %s a message; %s", (void *)q, (int)tid,
            resv ? "putting" : "getting",
            resv ? "skipped, never delivered" : "dropped, never delivered twice");
    free_blk_of(r);
    if (!resv) {
        /* Taken (counted) but never delivered: nobody will task_done it.
         * A DEAD record is counted when it is skipped. */
        atomic_fetch_add(&q->lost, 1);
        wake_all(&q->join_seq, &q->join_flag);
    }
    return true;
}

/* Is every record of chunk b done with (DONE or DEAD up to its END)? The
 * walk starts where the last one on b stopped. Lock held. */
static bool chunk_done(mp_queue *q, mp__qchunk *b)
{
    uint64_t off = q->scan_chunk == b ? q->scan_off : 0;
    for (;;) {
        mp__qrec *r = mp__qrec_at(b, off);
        uint32_t st = state_of(r);
        if (st != MP__QR_DONE && st != MP__QR_DEAD)
            break;
        off += mp__qrec_size(r->lenkind);
    }
    q->scan_chunk = b;
    q->scan_off = off;
    mp__qrec *r = mp__qrec_at(b, off);
    return state_of(r) == MP__QR_PUB && (r->lenkind & 3) == MP__QK_END;
}

/* The release point is held at a record another consumer is still copying
 * out (or a stopped one is): chunks the head has left since, every record
 * in them done with, are unlinked and freed (into *spent) instead of piling
 * up behind it, one chunk per time slice of that consumer. Only the sweep,
 * under the lock, follows the links between the release point and the
 * head. A process killed after an unlink loses that chunk. Lock held. */
static size_t reclaim_behind(mp_queue *q, const mp__qpos *c, mp__qchunk **spent, size_t max)
{
    size_t n = 0;
    if (c->rchunk == c->chunk)
        return 0; /* the chunks after it are the head's future, not its past */
    mp__qchunk *prev = c->rchunk;
    mp__qchunk *b = atomic_load_explicit(&prev->next, memory_order_acquire);
    while (n < max && b != c->chunk) {
        mp__qchunk *next = atomic_load_explicit(&b->next, memory_order_acquire);
        if (!chunk_done(q, b))
            break; /* the slow consumer's batch reached into it */
        atomic_store_explicit(&prev->next, next, memory_order_release);
        q->scan_chunk = NULL;
        spent[n++] = b;
        b = next;
    }
    return n;
}

/* Advance the release point over records that are done with, freeing the
 * chunks it leaves (into *spent, freed by the caller after the commit).
 * Lock held. */
static size_t sweep(mp_queue *q, mp__qpos *c, mp__qchunk **spent, size_t max_spent)
{
    size_t n = 0;
    bool reaping = false; /* a dead holder was found: ask about the next at once */
    while (!same_pos(c->rchunk, c->roff, c->chunk, c->off)) {
        mp__qrec *r = mp__qrec_at(c->rchunk, c->roff);
        uint32_t st = state_of(r);
        if ((st & MP__QR_STATE) == MP__QR_CLAIM) {
            /* A consumer is still copying it out, or died doing so. */
            if (!(reaping || stalled(&q->rel_stall, c->rchunk, c->roff)) || !reap_holder(q, r, st))
                return n + reclaim_behind(q, c, spent + n, max_spent - n);
            reaping = true;
            continue;
        }
        if ((r->lenkind & 3) == MP__QK_END) {
            if (n == max_spent)
                break;
            if (q->scan_chunk == c->rchunk)
                q->scan_chunk = NULL;
            spent[n++] = c->rchunk;
            c->rchunk = atomic_load_explicit(&c->rchunk->next, memory_order_acquire);
            c->roff = 0;
            continue;
        }
        /* DONE, or DEAD: nothing more to do with it. */
        c->roff += mp__qrec_size(r->lenkind);
    }
    return n;
}

/* Nothing more will come: closed, with every reserved message taken. */
static bool drained_closed(mp_queue *q)
{
    if (!atomic_load_explicit(&q->closed, memory_order_acquire))
        return false;
    return mp__qside_count(&q->prod) == mp__qside_count(&q->cons);
}

/* Is the record at c published (PUB, DEAD or END)? seq_cst: a sleeper's
 * last look pairs with the producer's publish (see top). Its callers may
 * hold a stale head, hence MP__NO_TSAN (see data_ready). */
MP__NO_TSAN static inline bool published_at(const mp__qpos *c)
{
    uint32_t st = atomic_load_explicit(&mp__qrec_at(c->chunk, c->off)->state, memory_order_seq_cst);
    return (st & MP__QR_STATE) == MP__QR_PUB;
}

/* Is the next message ready, or the queue closed? For sleepers' last
 * look, without the lock: a stale answer costs a retry or a slice, never
 * a lost message. The head read may be stale by the time its record is
 * looked at, and its chunk already reused for another message's bytes
 * (heap memory stays mapped): hence MP__NO_TSAN. */
MP__NO_TSAN static bool data_ready(mp_queue *q)
{
    if (drained_closed(q))
        return true;
    mp__qpos c, t;
    mp__qside_read(&q->cons, &c);
    mp__qside_read(&q->prod, &t);
    return !same_pos(c.chunk, c.off, t.chunk, t.off) && published_at(&c);
}

/* The spinning consumer's question: has the record at the head been
 * published (or the queue closed)? It reads the consumers' line and the
 * head record only, never the producers' line, which a producer writes at
 * every put: polled from another core, that line would be taken from
 * under each put. The record at the tail always reads as not published
 * (reserve clears it), so this cannot run past the tail; a stale head
 * (another consumer moved it, its chunk reused) gives at worst a wrong
 * answer, which only ends the spin early or late: the lock and take()
 * decide. Hence MP__NO_TSAN, as data_ready. */
MP__NO_TSAN static bool head_published(mp_queue *q)
{
    if (atomic_load_explicit(&q->closed, memory_order_relaxed))
        return true;
    mp__qpos c;
    mp__qside_read(&q->cons, &c);
    return published_at(&c);
}

/* Is the head c at the tail? Reads the producers' line. */
static bool at_tail(mp_queue *q, const mp__qpos *c)
{
    mp__qpos t;
    mp__qside_read(&q->prod, &t);
    return same_pos(c->chunk, c->off, t.chunk, t.off);
}

/* Take up to max messages under the lock (held), committing the head past
 * them; ask says to ask at once whether the producer of a record still
 * being written at the head lives. Returns how many (0 with *rc set: MP_EEMPTY when nothing is
 * published, MP_EMSGSIZE when the first does not fit, with lens[0] its
 * length). out receives each one; GET_ALLOC's buffer comes from *alloc
 * (allocated by the caller for *alloc_len bytes, or MP_ENOMEM asks it to
 * make one of lens[0] + 1 bytes first). */
static size_t take(mp_queue *q, enum get_mode mode, unsigned char *buf, size_t cap, size_t *lens,
                   size_t max, bool ask, struct take *out, int *rc)
{
    mp__qpos c, was;
    mp__qside_load(&q->cons, &c);
    was = c;
    mp__qchunk *spent[8];
    size_t nspent = sweep(q, &c, spent, 8);
    uint32_t me = (uint32_t)mp__tid() & MP__QR_TID;
    size_t n = 0, used = 0;
    uint64_t skipped = 0;
    bool reaping = false; /* a dead producer was found: ask about the next at once */
    *rc = MP_EEMPTY;
    while (n < max) {
        mp__qrec *r = mp__qrec_at(c.chunk, c.off);
        uint32_t st = state_of(r);
        /* The head record's state alone says where the head is, so that
         * a consumer that keeps up never reads the producers' line, which
         * every put writes: polled from another core, that line would be
         * pulled from under the next put. DONE is the record at the tail
         * (reserve writes it there before committing; chunk_new at offset
         * 0), RESV one being written (reserved, committed or about to
         * be), PUB or DEAD one before the tail. Only an END record, which
         * is published before the tail moves into the next chunk, and a
         * stuck RESV about to be reaped ask where the tail is. lenkind is
         * read once the state says it was written. */
        if (st == MP__QR_DONE)
            break;
        if ((st & MP__QR_STATE) == MP__QR_RESV) {
            /* Being written. Its producer may have died: asked at the
             * front of a call that is about to sleep (ask), or after it
             * has held the record for a while; a record not committed yet
             * is not in the queue (its producer died holding the lock:
             * repair_producer forgets it). */
            if (n == 0 && (ask || reaping || stalled(&q->head_stall, c.chunk, c.off)) &&
                !at_tail(q, &c) && reap_holder(q, r, st)) {
                reaping = true;
                continue;
            }
            break;
        }
        uint32_t kind = r->lenkind & 3;
        if (kind == MP__QK_END && st == MP__QR_PUB && at_tail(q, &c))
            break;
        if (st == MP__QR_DEAD) {
            c.off += mp__qrec_size(r->lenkind);
            c.count++;
            skipped++; /* uncounted from dead_pending after the commit */
            continue;
        }
        if (kind == MP__QK_END) {
            c.chunk = atomic_load_explicit(&c.chunk->next, memory_order_acquire);
            c.off = 0;
            continue;
        }
        if (st != MP__QR_PUB)
            mp__panic("queue %p: record in state %#x at the head", (void *)q, st);
        struct take *t = &out[n];
        t->rec = r;
        t->blk = kind == MP__QK_OOL ? rec_blk(r) : NULL;
        t->len = t->blk != NULL ? t->blk->len : r->lenkind >> 2;
        t->src = t->blk != NULL ? (const void *)(t->blk + 1) : (const void *)(r + 1);
        bool fits = mode == GET_EXACT   ? t->len == cap
                    : mode == GET_ALLOC ? t->len < cap
                                        : t->len <= cap - used;
        if (!fits) {
            if (n == 0) {
                lens[0] = t->len;
                *rc = mode == GET_ALLOC ? MP_ENOMEM : MP_EMSGSIZE;
            }
            break;
        }
        t->dst = buf != NULL ? buf + used : NULL;
        atomic_store_explicit(&r->state, MP__QR_CLAIM | me, memory_order_relaxed);
        lens[n] = t->len;
        used += t->len;
        c.off += mp__qrec_size(r->lenkind);
        c.count++;
        n++;
        if (t->blk != NULL || mode != GET_BUF)
            break; /* one at a time, and an out-of-line one ends a batch */
    }
    if (!same_pos(c.chunk, c.off, was.chunk, was.off) || nspent > 0 ||
        !same_pos(c.rchunk, c.roff, was.rchunk, was.roff))
        mp__qside_commit(&q->cons, &c);
    if (q->maxsize != 0 && (c.count / room_batch(q) != was.count / room_batch(q) ||
                            (n > 0 && lens[n - 1] >= ROOM_BIG)))
        atomic_store_explicit(&q->gets_hint, c.count, memory_order_relaxed);
    if (skipped > 0) {
        /* Right after the commit that counts them taken, not before: a
         * consumer killed in between would leave qsize one too high for
         * good (the next one skips the same records again). */
        atomic_fetch_sub(&q->dead_pending, skipped);
        atomic_fetch_add(&q->lost, skipped);
        wake_all(&q->join_seq, &q->join_flag);
    }
    for (size_t i = 0; i < nspent; i++)
        mp_shared_free(spent[i]);
    if (n > 0)
        *rc = 0;
    return n;
}

/* Copy taken messages out and let go of their records. Called right after
 * the consumers' lock is released: the room a producer waits for is the
 * consumer count committed before that release (an exchange), so reading
 * room_flag after it needs no fence of its own on top (mp__fence_after_rmw). */
static void deliver(mp_queue *q, struct take *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (t[i].len > 0)
            mp__qcopy(t[i].dst, t[i].src, t[i].len);
        if (t[i].blk != NULL) /* out of line only: no call on the inline path */
            mp__heap_prefault(t[i].blk);
        atomic_store_explicit(&t[i].rec->state, MP__QR_DONE, memory_order_release);
        /* After DONE: a block freed first could be freed twice, by a
         * repair that took its holder for dead. Nothing between the two
         * may fault (see mp__heap_prefault). */
        mp_shared_free(t[i].blk);
    }
    if (q->maxsize != 0) {
        mp__fence_after_rmw();
        wake_all(&q->room_seq, &q->room_flag);
    }
}

/* Remove up to max messages, waiting for the first as the timeout allows.
 * GET_BUF packs them one after another into buf, lens[i] getting each
 * length; GET_EXACT takes one of exactly cap bytes; GET_ALLOC one into a
 * malloc'd copy in *out. */
static int get_many(mp_queue *q, enum get_mode mode, void *buf, size_t cap, size_t *lens,
                    size_t max, size_t *got, void **out, double timeout)
{
    qwait w = {.timeout = timeout};
    struct take t[64];
    unsigned char *abuf = NULL; /* GET_ALLOC's buffer */
    size_t acap = 0;
    if (max > 64)
        max = 64;
    int rc;
    for (int round = 0;; round++) {
        if (clock_take(q, &w) != 0) {
            rc = MP_EEMPTY; /* timed out behind a stopped consumer */
            break;
        }
        bool ask = round > 0; /* we have spun or slept: is the head stuck? */
        size_t n = mode == GET_ALLOC ? take(q, mode, abuf, acap, lens, 1, ask, t, &rc)
                                     : take(q, mode, buf, cap, lens, max, ask, t, &rc);
        mp__lock_release(&q->clock);
        if (n > 0) {
            deliver(q, t, n);
            if (mode == GET_ALLOC) {
                abuf[lens[0]] = '\0';
                *out = abuf;
                abuf = NULL;
            }
            if (got != NULL)
                *got = n;
            return 0;
        }
        if (rc == MP_ENOMEM) {
            /* GET_ALLOC found a message longer than its buffer: make one
             * (outside the lock) and look again. */
            free(abuf);
            acap = lens[0] + 1;
            if ((abuf = malloc(acap)) == NULL)
                break;
            continue;
        }
        if (rc != MP_EEMPTY)
            break;
        if (drained_closed(q)) {
            rc = MP_ECLOSED;
            break;
        }
        if (!(w.timeout > 0))
            break;
        const mp__deadline *d = qwait_deadline(&w);
        if (round == 0) {
            /* Spin, then look again (asking about a stuck head). */
            mp__spin_until((bool (*)(void *))head_published, q, d);
            continue;
        }
        if (sleep_on(q, &q->data_seq, &q->data_flag, data_ready, d) != 0 && !data_ready(q)) {
            rc = drained_closed(q) ? MP_ECLOSED : MP_EEMPTY;
            break;
        }
    }
    free(abuf);
    if (got != NULL)
        *got = 0;
    return rc;
}

/* get_one is get_many's common case in one go: the lock free and a
 * message published. Returns 0 when it took one, else MP_EEMPTY. */
static inline int get_one(mp_queue *q, enum get_mode mode, void *buf, size_t cap, size_t *len)
{
    if (!mp__lock_tryacquire(&q->clock))
        return MP_EEMPTY;
    struct take t;
    int rc;
    size_t n = take(q, mode, buf, cap, len, 1, false, &t, &rc);
    mp__lock_release(&q->clock);
    if (n == 0)
        return MP_EEMPTY;
    deliver(q, &t, 1);
    return 0;
}

MP_EXTERN int mp_queue_get(mp_queue *q, void *buf, size_t cap, size_t *len, double timeout)
{
    if (q == NULL || (buf == NULL && cap > 0) || len == NULL || isnan(timeout))
        return MP_EINVAL;
    if (get_one(q, GET_BUF, buf, cap, len) == 0)
        return 0;
    return get_many(q, GET_BUF, buf, cap, len, 1, NULL, NULL, timeout);
}

MP_EXTERN int mp_queue_get_nowait(mp_queue *q, void *buf, size_t cap, size_t *len)
{
    return mp_queue_get(q, buf, cap, len, 0);
}

MP_EXTERN int mp_queue_get_alloc(mp_queue *q, void **msg, size_t *len, double timeout)
{
    if (q == NULL || msg == NULL || len == NULL || isnan(timeout))
        return MP_EINVAL;
    return get_many(q, GET_ALLOC, NULL, 0, len, 1, NULL, msg, timeout);
}

MP_EXTERN int mp_queue_get_many(mp_queue *q, void *buf, size_t cap, size_t *lens, size_t max,
                                size_t *n, double timeout)
{
    if (n != NULL)
        *n = 0;
    if (q == NULL || (buf == NULL && cap > 0) || lens == NULL || max == 0 || n == NULL ||
        isnan(timeout))
        return MP_EINVAL;
    return get_many(q, GET_BUF, buf, cap, lens, max, n, NULL, timeout);
}

/* ---- state -------------------------------------------------------------- */

MP_EXTERN size_t mp_queue_qsize(const mp_queue *q)
{
    if (q == NULL)
        return 0;
    /* Consumers first: their count never passes the producers'. DEAD
     * records were reserved but hold no message. */
    uint64_t gets = mp__qside_count(&q->cons) + atomic_load(&q->dead_pending);
    uint64_t puts = mp__qside_count(&q->prod);
    return puts > gets ? (size_t)(puts - gets) : 0;
}

MP_EXTERN bool mp_queue_empty(const mp_queue *q)
{
    return mp_queue_qsize(q) == 0;
}

MP_EXTERN bool mp_queue_full(const mp_queue *q)
{
    return q != NULL && q->maxsize != 0 && mp_queue_qsize(q) >= q->maxsize;
}

MP_EXTERN int mp_queue_close(mp_queue *q)
{
    if (q == NULL)
        return MP_EINVAL;
    atomic_store_explicit(&q->closed, 1, memory_order_seq_cst);
    /* Every sleeper looks again and sees the flag. */
    atomic_fetch_add(&q->data_seq, 1);
    atomic_fetch_add(&q->room_seq, 1);
    mp__futex_wake(&q->data_seq, INT32_MAX);
    mp__futex_wake(&q->room_seq, INT32_MAX);
    return 0;
}

MP_EXTERN bool mp_queue_closed(const mp_queue *q)
{
    return q != NULL && atomic_load_explicit(&q->closed, memory_order_acquire) != 0;
}

/* ---- JoinableQueue ------------------------------------------------------ */

/* Messages put and not yet matched by task_done (nor lost with a dead
 * process). */
static uint64_t unfinished(mp_queue *q)
{
    uint64_t done = atomic_load(&q->tdone) + atomic_load(&q->lost);
    uint64_t puts = mp__qside_count(&q->prod);
    return puts > done ? puts - done : 0;
}

static bool all_done(mp_queue *q)
{
    return unfinished(q) == 0;
}

MP_EXTERN int mp_queue_task_done(mp_queue *q)
{
    if (q == NULL)
        return MP_EINVAL;
    uint64_t t = atomic_load(&q->tdone);
    do {
        if (t + atomic_load(&q->lost) >= mp__qside_count(&q->prod))
            return MP_EVALUE;
    } while (!atomic_compare_exchange_weak(&q->tdone, &t, t + 1));
    wake_all(&q->join_seq, &q->join_flag);
    return 0;
}

MP_EXTERN int mp_queue_join(mp_queue *q, double timeout)
{
    if (q == NULL || isnan(timeout))
        return MP_EINVAL;
    mp__deadline d;
    mp__deadline_init(&d, timeout);
    while (!all_done(q)) {
        if (sleep_on(q, &q->join_seq, &q->join_flag, all_done, &d) != 0 && !all_done(q))
            return MP_ETIMEDOUT;
    }
    return 0;
}

/* ---- typed helpers ------------------------------------------------------ */

MP_EXTERN int mp_queue_put_i64(mp_queue *q, int64_t v, double timeout)
{
    return mp_queue_put(q, &v, sizeof v, timeout);
}

MP_EXTERN int mp_queue_get_i64(mp_queue *q, int64_t *v, double timeout)
{
    size_t len;
    if (q == NULL || v == NULL || isnan(timeout))
        return MP_EINVAL;
    if (get_one(q, GET_EXACT, v, sizeof *v, &len) == 0)
        return 0;
    return get_many(q, GET_EXACT, v, sizeof *v, &len, 1, NULL, NULL, timeout);
}

MP_EXTERN int mp_queue_put_f64(mp_queue *q, double v, double timeout)
{
    return mp_queue_put(q, &v, sizeof v, timeout);
}

MP_EXTERN int mp_queue_get_f64(mp_queue *q, double *v, double timeout)
{
    size_t len;
    if (q == NULL || v == NULL || isnan(timeout))
        return MP_EINVAL;
    if (get_one(q, GET_EXACT, v, sizeof *v, &len) == 0)
        return 0;
    return get_many(q, GET_EXACT, v, sizeof *v, &len, 1, NULL, NULL, timeout);
}

MP_EXTERN int mp_queue_put_str(mp_queue *q, const char *s, double timeout)
{
    if (s == NULL)
        return MP_EINVAL;
    return mp_queue_put(q, s, strlen(s), timeout);
}

MP_EXTERN int mp_queue_get_str(mp_queue *q, char **s, double timeout)
{
    size_t len;
    if (q == NULL || s == NULL || isnan(timeout))
        return MP_EINVAL;
    return get_many(q, GET_ALLOC, NULL, 0, &len, 1, NULL, (void **)s, timeout);
}
