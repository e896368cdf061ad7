/* queue.c - Python's Queue, SimpleQueue and JoinableQueue: a byte ring of
 * variable-length records in the shared heap, guarded by a robust
 * process-shared mutex, with libmp's own futex condition variables.
 *
 * Records. Each record is an 8-byte header (length << 2 | kind) followed by
 * its payload padded to 8 bytes. A message too large for the ring (more
 * than a quarter of it) is copied into a shared-heap block and the ring
 * holds a reference record. A record that would run past the end of the
 * ring is preceded by a skip marker and starts again at offset 0.
 *
 * Overflow. When the ring has no room the message goes into a block on an
 * overflow list instead, so a put never waits for ring space: only maxsize
 * makes a queue full. FIFO order holds because a message enters the ring
 * only while the overflow list is empty, and getters drain the ring before
 * the list.
 *
 * Crash safety. Every counter that changes together (head, tail, count,
 * unfinished tasks, the overflow list ends) sits in a state record kept
 * twice: a call writes the new state into the spare slot and commits it by
 * flipping one index. A process killed at any instruction leaves either
 * the old state or the new one, never a mix; a message is written fully in
 * free space before the commit that makes it visible. A getter commits the
 * removal of an out-of-line message before copying and freeing its block,
 * so a getter that dies leaks the block rather than leaving a dangling
 * reference. */
#include "mp/queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "internal/clock.h"
#include "internal/futex.h"
#include "internal/panic.h"
#include "mp/error.h"
#include "mp/shared.h"

#define QUEUE_MAGIC 0x3130657565757170ULL /* "pqueue01" */
#define DEFAULT_CAPACITY (1024u * 1024u)
#define MIN_CAPACITY 256u
#define MAX_CAPACITY (1ULL << 40)

#define REC_DATA 0u /* payload follows the header */
#define REC_OOL 1u  /* a struct ool pointer follows the header */
#define REC_SKIP 2u /* the rest of the ring up to its end is unused */
#define REC_HDR 8u

/* A blocked call re-checks this often even without a wake-up: a process
 * killed between its commit and its wake-up may have swallowed the wake-up
 * meant for us. */
#define WAIT_SLICE 0.1

/* Rounds of spinning on the condition's sequence before sleeping (about a
 * microsecond). Measured with 8-byte messages between two processes, 0,
 * 50 and 400 rounds gave the same throughput within noise; a short spin
 * still saves the sleep and wake-up when the other side is mid-call. */
#ifndef SPIN_ROUNDS
#define SPIN_ROUNDS 100
#endif

/* A message stored out of line, in its own shared-heap block. */
struct ool {
    struct ool *next; /* next message on the overflow list (valid up to ovf_tail) */
    uint64_t len;     /* message bytes */
    /* the message follows, 16-byte aligned */
};
_Static_assert(sizeof(struct ool) == 16, "out-of-line header keeps payload aligned");

/* What one commit changes. */
struct qstate {
    uint64_t head;        /* ring position of the oldest record (grows forever) */
    uint64_t tail;        /* ring position past the newest record (grows forever) */
    uint64_t count;       /* messages queued: in the ring and on the overflow list */
    uint64_t unfinished;  /* messages put minus task_done calls */
    struct ool *ovf_head; /* oldest overflow message, NULL when the list is empty */
    struct ool *ovf_tail; /* newest overflow message */
};

/* A condition variable. The futex word (seq) sits apart from the counts,
 * which the mutex guards, so that spinners reading it do not pull the
 * mutex's cache line away from the process working under it. A signal
 * bumps seq only when someone watches it, and wakes a sleeper only when
 * one sleeps without a wake-up already on its way (pending): a put that
 * follows another before the woken getter has run makes no system call. */
struct qcond {
    uint32_t waiters;  /* sleepers registered (woken ones until they relock) */
    uint32_t pending;  /* wake-ups sent to sleepers that have not relocked yet */
    uint32_t spinners; /* callers spinning on seq before they sleep */
};

struct mp_queue {
    uint64_t magic;         /* QUEUE_MAGIC while alive */
    void *block;            /* the shared-heap block holding the queue */
    uint64_t maxsize;       /* items; 0 = no limit */
    uint64_t cap;           /* ring bytes, a power of two */
    uint64_t inline_max;    /* largest message stored inside the ring */
    /* What every call changes, packed on as few cache lines as possible
     * since it all moves with the mutex. */
    _Alignas(64) pthread_mutex_t lock; /* robust, process-shared; guards what follows */
    _Atomic uint32_t cur;   /* index of the current state; flipping it commits */
    _Atomic uint32_t closed; /* set once by mp_queue_close, under the mutex */
    struct qcond not_empty; /* getters wait here */
    struct qcond not_full;  /* putters wait here (maxsize reached) */
    struct qcond all_done;  /* join waits here (unfinished == 0) */
    struct qstate st[2];    /* current and spare state */
    /* The futex words of the three conditions, on their own line. */
    _Alignas(64) _Atomic uint32_t not_empty_seq; /* bumped to wake getters */
    _Atomic uint32_t not_full_seq; /* bumped to wake putters */
    _Atomic uint32_t all_done_seq; /* bumped to wake join */
    _Alignas(64) unsigned char ring[]; /* cap bytes of records */
};
_Static_assert(offsetof(struct mp_queue, ring) % 64 == 0, "ring starts on a cache line");
_Static_assert(offsetof(struct mp_queue, lock) % 64 == 0, "mutex starts a cache line");
_Static_assert(offsetof(struct mp_queue, not_empty_seq) % 64 == 0, "futex words on their own line");

/* ---- small helpers ---------------------------------------------------- */

static inline uint64_t pad8(uint64_t n)
{
    return (n + 7) & ~(uint64_t)7;
}

static inline struct qstate *state(mp_queue *q)
{
    return &q->st[atomic_load_explicit(&q->cur, memory_order_relaxed)];
}

/* Commit s: write it into the spare slot, then flip the index with one
 * release store, so a crash leaves the old state or the new one. */
static inline void commit(mp_queue *q, const struct qstate *s)
{
    uint32_t c = atomic_load_explicit(&q->cur, memory_order_relaxed);
    q->st[c ^ 1] = *s;
    atomic_store_explicit(&q->cur, c ^ 1, memory_order_release);
}

static inline unsigned char *ring_at(mp_queue *q, uint64_t pos)
{
    return q->ring + (pos & (q->cap - 1));
}

/* memcpy for message bytes: most messages are small, and for them a call
 * into the library costs more than the copy. */
static inline void copy_bytes(void *dst, const void *src, size_t len)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (len >= 8 && len <= 16) {
        memcpy(d, s, 8);
        memcpy(d + len - 8, s + len - 8, 8);
    } else if (len < 8) {
        for (size_t i = 0; i < len; i++)
            d[i] = s[i];
    } else {
        memcpy(d, s, len);
    }
}

static inline void *ool_data(struct ool *b)
{
    return b + 1;
}

/* Copy a message into a fresh out-of-line block; NULL when the shared heap
 * cannot hold it. */
static struct ool *ool_new(const void *msg, size_t len)
{
    if (len > SIZE_MAX - sizeof(struct ool))
        return NULL;
    struct ool *b = mp_shared_malloc(sizeof *b + len);
    if (b == NULL)
        return NULL;
    b->next = NULL;
    b->len = len;
    if (len > 0)
        memcpy(ool_data(b), msg, len);
    return b;
}

/* Signal c once, with the mutex held: returns how many sleepers to wake
 * (0 or 1) once the mutex is released. */
static inline int signal_locked(struct qcond *c, _Atomic uint32_t *seq)
{
    if (c->waiters > c->pending) {
        c->pending++;
        atomic_fetch_add_explicit(seq, 1, memory_order_release);
        return 1;
    }
    if (c->spinners != 0)
        atomic_fetch_add_explicit(seq, 1, memory_order_release);
    return 0;
}

/* Wake every sleeper on c (the mutex is held). */
static void wake_all(struct qcond *c, _Atomic uint32_t *seq)
{
    c->pending = c->waiters;
    atomic_fetch_add_explicit(seq, 1, memory_order_release);
    mp__futex_wake(seq, INT32_MAX);
}

static inline void wake(_Atomic uint32_t *seq, unsigned n)
{
    if (n > 0)
        mp__futex_wake(seq, n > INT32_MAX ? INT32_MAX : (int)n);
}

/* Take the mutex. When the last holder died inside a call, the state is
 * whole (see the top of this file); wake every sleeper in case the dead
 * process took a wake-up meant for one of them, then mark it consistent. */
static void q_lock(mp_queue *q)
{
    int rc = pthread_mutex_lock(&q->lock);
    if (rc == 0)
        return;
    if (rc != EOWNERDEAD)
        mp__panic("queue lock failed: %d", rc);
    wake_all(&q->not_empty, &q->not_empty_seq);
    wake_all(&q->not_full, &q->not_full_seq);
    wake_all(&q->all_done, &q->all_done_seq);
    pthread_mutex_consistent(&q->lock);
}

static void q_unlock(mp_queue *q)
{
    pthread_mutex_unlock(&q->lock);
}

/* ---- waiting ---------------------------------------------------------- */

/* One blocking call's wait: the timeout, turned into a deadline at the
 * first wait so that an uncontended call never reads the clock. */
struct waiter {
    double timeout;  /* as given; NaN has been refused */
    bool started;    /* deadline set */
    bool spun;       /* the spin before the first sleep is done */
    mp__deadline d;  /* valid once started */
};

static inline struct waiter waiter_init(double timeout)
{
    return (struct waiter){.timeout = timeout};
}

/* Wait on c with the mutex held on entry and on return. Returns 0 when the
 * caller should re-check its condition, MP_ETIMEDOUT when the time is up
 * (the caller checked its condition after the last wait, so it may fail). */
static int q_wait(mp_queue *q, struct qcond *c, _Atomic uint32_t *seqp, struct waiter *w)
{
    if (!w->started) {
        if (!(w->timeout > 0))
            return MP_ETIMEDOUT;
        mp__deadline_init(&w->d, w->timeout);
        w->started = true;
    }
    uint32_t seq = atomic_load_explicit(seqp, memory_order_acquire);
    if (SPIN_ROUNDS > 0 && !w->spun) {
        /* A short spin: the other side often acts within a microsecond,
         * and then nobody pays for a system call. */
        w->spun = true;
        c->spinners++;
        q_unlock(q);
        for (int i = 0; i < SPIN_ROUNDS; i++) {
            if (atomic_load_explicit(seqp, memory_order_acquire) != seq)
                break;
            mp__cpu_relax();
        }
        q_lock(q);
        c->spinners--;
        return 0;
    }
    if (mp__deadline_expired(&w->d))
        return MP_ETIMEDOUT;
    c->waiters++;
    q_unlock(q);
    mp__deadline slice = mp__deadline_min(&w->d, WAIT_SLICE);
    (void)mp__futex_wait(seqp, seq, &slice);
    q_lock(q);
    /* A process killed while registered leaves waiters (and maybe
     * pending) one too high for good: later signals may then make a
     * system call for nobody, but never miss a sleeper. */
    c->waiters--;
    if (c->pending > 0)
        c->pending--;
    return 0;
}

/* ---- construction ----------------------------------------------------- */

MP_EXTERN mp_queue *mp_queue_new_opts(const mp_queue_opts *opts)
{
    mp_queue_opts o = opts != NULL ? *opts : (mp_queue_opts){0};
    uint64_t cap = o.capacity == 0 ? DEFAULT_CAPACITY : o.capacity;
    if (cap > MAX_CAPACITY) {
        errno = ENOMEM;
        return NULL;
    }
    uint64_t p2 = MIN_CAPACITY;
    while (p2 < cap)
        p2 <<= 1;
    /* The heap aligns to 16 bytes; the cache-line layout wants 64. */
    void *block = mp_shared_malloc(sizeof(mp_queue) + p2 + 48);
    if (block == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    mp_queue *q = (mp_queue *)(((uintptr_t)block + 63) & ~(uintptr_t)63);
    memset(q, 0, sizeof *q);
    q->block = block;
    pthread_mutexattr_t attr;
    int rc = pthread_mutexattr_init(&attr);
    if (rc == 0)
        rc = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    if (rc == 0)
        rc = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    if (rc == 0)
        rc = pthread_mutex_init(&q->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    if (rc != 0) {
        mp_shared_free(block);
        errno = rc;
        return NULL;
    }
    q->maxsize = o.maxsize;
    q->cap = p2;
    /* A message bigger than a quarter of the ring would leave little room
     * for others; it goes out of line. */
    q->inline_max = p2 / 4 - REC_HDR;
    q->magic = QUEUE_MAGIC;
    return q;
}

MP_EXTERN mp_queue *mp_queue_new(size_t maxsize)
{
    return mp_queue_new_opts(&(mp_queue_opts){.maxsize = maxsize});
}

MP_EXTERN void mp_queue_free(mp_queue *q)
{
    if (q == NULL)
        return;
    struct qstate *s = state(q);
    /* Free what is still queued out of line. */
    uint64_t head = s->head;
    while (head != s->tail) {
        uint64_t pos = head & (q->cap - 1);
        uint64_t h;
        memcpy(&h, q->ring + pos, sizeof h);
        if ((h & 3) == REC_SKIP) {
            head += q->cap - pos;
            continue;
        }
        if ((h & 3) == REC_OOL) {
            struct ool *b;
            memcpy(&b, q->ring + pos + REC_HDR, sizeof b);
            mp_shared_free(b);
            head += REC_HDR + sizeof(void *);
        } else {
            head += REC_HDR + pad8(h >> 2);
        }
    }
    for (struct ool *b = s->ovf_head; b != NULL;) {
        struct ool *next = b == s->ovf_tail ? NULL : b->next;
        mp_shared_free(b);
        b = next;
    }
    pthread_mutex_destroy(&q->lock);
    q->magic = 0;
    mp_shared_free(q->block);
}

/* ---- put -------------------------------------------------------------- */

/* Append one message; the mutex is held and the queue is neither closed
 * nor full. *blk is the message's out-of-line copy when the caller made one
 * (it is consumed on success). Returns 0 or MP_ENOMEM. */
static int push(mp_queue *q, const void *msg, size_t len, struct ool **blk)
{
    struct qstate s = *state(q);
    if (s.ovf_head == NULL) {
        uint64_t rec = *blk != NULL ? REC_HDR + sizeof(void *) : REC_HDR + pad8(len);
        uint64_t pos = s.tail & (q->cap - 1);
        uint64_t to_end = q->cap - pos;
        uint64_t need = rec <= to_end ? rec : to_end + rec;
        if (q->cap - (s.tail - s.head) >= need) {
            if (rec > to_end) {
                /* Skip to the start; written in free space, so it is
                 * seen only with the record after it. */
                uint64_t skip = REC_SKIP;
                memcpy(q->ring + pos, &skip, sizeof skip);
                pos = 0;
            }
            unsigned char *r = q->ring + pos;
            uint64_t h;
            if (*blk != NULL) {
                h = (uint64_t)len << 2 | REC_OOL;
                memcpy(r + REC_HDR, blk, sizeof(void *));
                *blk = NULL;
            } else {
                h = (uint64_t)len << 2 | REC_DATA;
                copy_bytes(r + REC_HDR, msg, len);
            }
            memcpy(r, &h, sizeof h);
            s.tail += need;
            s.count++;
            s.unfinished++;
            commit(q, &s);
            return 0;
        }
    }
    /* The ring is full, or earlier messages wait on the overflow list:
     * append to the list to keep FIFO order. */
    struct ool *b = *blk;
    if (b == NULL && (b = ool_new(msg, len)) == NULL)
        return MP_ENOMEM;
    *blk = NULL;
    b->next = NULL;
    /* Linking from the old tail before the commit is harmless: readers
     * follow next only up to ovf_tail. */
    if (s.ovf_tail != NULL)
        s.ovf_tail->next = b;
    else
        s.ovf_head = b;
    s.ovf_tail = b;
    s.count++;
    s.unfinished++;
    commit(q, &s);
    return 0;
}

static inline bool is_full(mp_queue *q)
{
    return q->maxsize != 0 && state(q)->count >= q->maxsize;
}

/* Put n messages in order, blocking as the timeout allows while the queue
 * is full. *done counts the messages put. */
static int put_many(mp_queue *q, const void *const *msgs, const size_t *lens, size_t n,
                    size_t *done, double timeout)
{
    struct waiter w = waiter_init(timeout);
    struct ool *blk = NULL;
    size_t i = 0;
    int rc = 0;
    unsigned nwake = 0;
    while (i < n && rc == 0) {
        const void *msg = msgs[i];
        size_t len = lens[i];
        /* Big messages are copied out of line before taking the mutex. */
        if (len > q->inline_max && blk == NULL && (blk = ool_new(msg, len)) == NULL) {
            rc = MP_EMSGSIZE;
            break;
        }
        q_lock(q);
        for (;;) {
            if (atomic_load_explicit(&q->closed, memory_order_relaxed)) {
                rc = MP_ECLOSED;
                break;
            }
            if (!is_full(q)) {
                rc = push(q, msg, len, &blk);
                if (rc == 0) {
                    i++;
                    nwake += signal_locked(&q->not_empty, &q->not_empty_seq);
                }
                /* Stay under the mutex for the following small messages. */
                if (rc != 0 || i == n || lens[i] > q->inline_max)
                    break;
                msg = msgs[i];
                len = lens[i];
                continue;
            }
            /* About to sleep: let the getters in first. */
            wake(&q->not_empty_seq, nwake);
            nwake = 0;
            if (q_wait(q, &q->not_full, &q->not_full_seq, &w) != 0) {
                rc = MP_EFULL;
                break;
            }
        }
        q_unlock(q);
    }
    wake(&q->not_empty_seq, nwake);
    if (blk != NULL)
        mp_shared_free(blk);
    if (done != NULL)
        *done = i;
    return rc;
}

MP_EXTERN int mp_queue_put(mp_queue *q, const void *msg, size_t len, double timeout)
{
    if (q == NULL || (msg == NULL && len > 0) || isnan(timeout))
        return MP_EINVAL;
    if (len <= q->inline_max) {
        /* The common case in one go: room in the ring, nobody to wait for. */
        q_lock(q);
        if (!atomic_load_explicit(&q->closed, memory_order_relaxed) && !is_full(q) &&
            state(q)->ovf_head == NULL) {
            struct ool *none = NULL;
            if (push(q, msg, len, &none) == 0) {
                int nwake = signal_locked(&q->not_empty, &q->not_empty_seq);
                q_unlock(q);
                wake(&q->not_empty_seq, (unsigned)nwake);
                return 0;
            }
        }
        q_unlock(q);
    }
    return put_many(q, &msg, &len, 1, NULL, timeout);
}

MP_EXTERN int mp_queue_put_nowait(mp_queue *q, const void *msg, size_t len)
{
    return mp_queue_put(q, msg, len, 0);
}

MP_EXTERN int mp_queue_put_many(mp_queue *q, const void *const *msgs, const size_t *lens,
                                size_t n, size_t *done, double timeout)
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

/* ---- get -------------------------------------------------------------- */

enum get_mode {
    GET_BUF,   /* into buf, any length up to cap */
    GET_EXACT, /* into buf, exactly cap bytes (typed gets) */
    GET_ALLOC, /* into a malloc'd copy, NUL-terminated */
};

/* The message at the head, as found under the mutex. */
struct head_msg {
    uint64_t len;       /* message bytes */
    const void *data;   /* inline payload, or NULL when out of line */
    struct ool *blk;    /* out-of-line block, or NULL */
    struct qstate next; /* the state once it is removed */
};

/* Find the oldest message; count > 0. */
static void peek(mp_queue *q, struct head_msg *m)
{
    struct qstate s = *state(q);
    if (s.head != s.tail) {
        uint64_t pos = s.head & (q->cap - 1);
        uint64_t h;
        memcpy(&h, q->ring + pos, sizeof h);
        if ((h & 3) == REC_SKIP) {
            s.head += q->cap - pos;
            pos = 0;
            memcpy(&h, q->ring, sizeof h);
        }
        if ((h & 3) == REC_OOL) {
            memcpy(&m->blk, q->ring + pos + REC_HDR, sizeof m->blk);
            m->data = NULL;
            m->len = m->blk->len;
            s.head += REC_HDR + sizeof(void *);
        } else if ((h & 3) == REC_DATA) {
            m->blk = NULL;
            m->len = h >> 2;
            m->data = q->ring + pos + REC_HDR;
            s.head += REC_HDR + pad8(m->len);
        } else {
            mp__panic("queue %p: bad record %#llx", (void *)q, (unsigned long long)h);
        }
        if (s.tail - s.head > q->cap)
            mp__panic("queue %p: head passed tail", (void *)q);
    } else {
        if (s.ovf_head == NULL)
            mp__panic("queue %p: count %llu with nothing queued", (void *)q,
                      (unsigned long long)s.count);
        m->blk = s.ovf_head;
        m->data = NULL;
        m->len = m->blk->len;
        if (s.ovf_head == s.ovf_tail)
            s.ovf_head = s.ovf_tail = NULL;
        else
            s.ovf_head = s.ovf_head->next;
    }
    s.count--;
    m->next = s;
}

/* Remove up to max messages, waiting for the first as the timeout allows.
 * GET_BUF packs them one after another into buf, lens[i] getting each
 * length; the other modes take one message (max == 1), GET_EXACT into buf,
 * the allocating ones into *out. */
static int get_many(mp_queue *q, enum get_mode mode, void *buf, size_t cap, size_t *lens,
                    size_t max, size_t *got, void **out, double timeout)
{
    struct waiter w = waiter_init(timeout);
    struct ool *blk = NULL;     /* out-of-line message to copy after unlocking */
    unsigned char *blk_dst = NULL;
    struct ool *done = NULL;    /* small out-of-line messages copied, to free */
    size_t n = 0, used = 0;
    int rc = 0;
    unsigned nwake = 0;
    q_lock(q);
    while (state(q)->count == 0) {
        if (atomic_load_explicit(&q->closed, memory_order_relaxed)) {
            rc = MP_ECLOSED;
            goto out_unlock;
        }
        if (q_wait(q, &q->not_empty, &q->not_empty_seq, &w) != 0) {
            rc = MP_EEMPTY;
            goto out_unlock;
        }
    }
    while (n < max && state(q)->count > 0) {
        struct head_msg m;
        peek(q, &m);
        unsigned char *dst;
        if (mode == GET_ALLOC) {
            /* malloc(0) may return NULL; ask for at least one byte. */
            dst = malloc(m.len + 1);
            if (dst == NULL) {
                rc = MP_ENOMEM;
                break;
            }
            dst[m.len] = '\0';
            *out = dst;
        } else {
            bool fits = mode == GET_EXACT ? m.len == cap : m.len <= cap - used;
            if (!fits) {
                /* Leave it queued; only the first one is an error. */
                if (n == 0) {
                    lens[0] = m.len;
                    rc = MP_EMSGSIZE;
                }
                break;
            }
            dst = (unsigned char *)buf + used;
        }
        if (m.data != NULL)
            copy_bytes(dst, m.data, m.len);
        /* Commit before touching an out-of-line block: a getter killed
         * from here on loses this message (and leaks its block) but never
         * leaves a reference to freed memory behind. */
        commit(q, &m.next);
        lens[n++] = m.len;
        used += m.len;
        nwake += signal_locked(&q->not_full, &q->not_full_seq);
        if (m.blk != NULL) {
            if (m.len > q->inline_max) {
                /* Copy a big one without holding the mutex; the batch
                 * ends here. */
                blk = m.blk;
                blk_dst = dst;
                break;
            }
            /* A small one from the overflow list: copy now, free later. */
            if (m.len > 0)
                memcpy(dst, ool_data(m.blk), m.len);
            m.blk->next = done;
            done = m.blk;
        }
    }
out_unlock:
    q_unlock(q);
    if (blk != NULL) {
        if (lens[n - 1] > 0)
            memcpy(blk_dst, ool_data(blk), lens[n - 1]);
        mp_shared_free(blk);
    }
    while (done != NULL) {
        struct ool *next = done->next;
        mp_shared_free(done);
        done = next;
    }
    wake(&q->not_full_seq, nwake);
    if (got != NULL)
        *got = n;
    return n > 0 ? 0 : rc;
}

MP_EXTERN int mp_queue_get(mp_queue *q, void *buf, size_t cap, size_t *len, double timeout)
{
    if (q == NULL || (buf == NULL && cap > 0) || len == NULL || isnan(timeout))
        return MP_EINVAL;
    /* The common case in one go: a small message in the ring that fits. */
    q_lock(q);
    if (state(q)->count > 0) {
        struct head_msg m;
        peek(q, &m);
        if (m.blk == NULL && m.len <= cap) {
            copy_bytes(buf, m.data, m.len);
            commit(q, &m.next);
            int nwake = signal_locked(&q->not_full, &q->not_full_seq);
            q_unlock(q);
            wake(&q->not_full_seq, (unsigned)nwake);
            *len = m.len;
            return 0;
        }
    }
    q_unlock(q);
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

/* ---- state ------------------------------------------------------------ */

MP_EXTERN size_t mp_queue_qsize(const mp_queue *cq)
{
    if (cq == NULL)
        return 0;
    mp_queue *q = (mp_queue *)cq; /* the mutex lives in the object */
    q_lock(q);
    size_t n = state(q)->count;
    q_unlock(q);
    return n;
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
    q_lock(q);
    atomic_store_explicit(&q->closed, 1, memory_order_release);
    /* Every waiter re-checks and sees the flag. */
    wake_all(&q->not_empty, &q->not_empty_seq);
    wake_all(&q->not_full, &q->not_full_seq);
    q_unlock(q);
    return 0;
}

MP_EXTERN bool mp_queue_closed(const mp_queue *q)
{
    return q != NULL && atomic_load_explicit(&q->closed, memory_order_acquire) != 0;
}

/* ---- JoinableQueue ---------------------------------------------------- */

MP_EXTERN int mp_queue_task_done(mp_queue *q)
{
    if (q == NULL)
        return MP_EINVAL;
    q_lock(q);
    struct qstate s = *state(q);
    if (s.unfinished == 0) {
        q_unlock(q);
        return MP_EVALUE;
    }
    s.unfinished--;
    commit(q, &s);
    if (s.unfinished == 0 && q->all_done.waiters + q->all_done.spinners > 0)
        wake_all(&q->all_done, &q->all_done_seq);
    q_unlock(q);
    return 0;
}

MP_EXTERN int mp_queue_join(mp_queue *q, double timeout)
{
    if (q == NULL || isnan(timeout))
        return MP_EINVAL;
    struct waiter w = waiter_init(timeout);
    int rc = 0;
    q_lock(q);
    while (state(q)->unfinished != 0) {
        if (q_wait(q, &q->all_done, &q->all_done_seq, &w) != 0) {
            rc = MP_ETIMEDOUT;
            break;
        }
    }
    q_unlock(q);
    return rc;
}

/* ---- typed helpers ---------------------------------------------------- */

MP_EXTERN int mp_queue_put_i64(mp_queue *q, int64_t v, double timeout)
{
    return mp_queue_put(q, &v, sizeof v, timeout);
}

MP_EXTERN int mp_queue_get_i64(mp_queue *q, int64_t *v, double timeout)
{
    size_t len;
    if (q == NULL || v == NULL || isnan(timeout))
        return MP_EINVAL;
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
