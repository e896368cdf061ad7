/* queue.c - Python's Queue, SimpleQueue and JoinableQueue: argument
 * checks, the lock, waiting and waking, close and join around the record
 * storage of internal/qring.h.
 *
 * Locking. One futex lock (internal/lock.h) guards the storage and the
 * condition counts. Every change to the storage is committed by a single
 * store (see qring.h), so a process killed while holding the lock leaves a
 * whole state behind: the next locker takes the lock over and only has to
 * wake every sleeper, in case the dead process swallowed a wake-up meant
 * for one of them. */
#include "mp/queue.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "sync/lock.h"
#include "queue/cond.h"
#include "queue/ring.h"
#include "mp/error.h"
#include "mp/shared.h"

#define QUEUE_MAGIC      0x3230657565757170ULL /* "pqueue02" */
#define DEFAULT_CAPACITY (1024u * 1024u)

struct mp_queue {
    uint64_t magic;   /* QUEUE_MAGIC while alive */
    void *block;      /* the shared-heap block holding the queue */
    uint64_t maxsize; /* items; 0 = no limit */
    /* Written by every call, under the lock. */
    _Alignas(64) mp__lock lock; /* owner tid; guards what follows and the ring */
    _Atomic uint32_t closed;    /* set once by mp_queue_close, under the lock */
    mp__qcond not_empty;        /* getters wait here */
    mp__qcond not_full;         /* putters wait here (maxsize reached) */
    mp__qcond all_done;         /* join waits here (unfinished == 0) */
    /* The futex words of the three conditions, on their own line. */
    _Alignas(64) _Atomic uint32_t not_empty_seq; /* bumped to wake getters */
    _Atomic uint32_t not_full_seq;               /* bumped to wake putters */
    _Atomic uint32_t all_done_seq;               /* bumped to wake join */
    _Alignas(64) mp__qring ring;                 /* the records; its bytes follow */
};
_Static_assert(offsetof(struct mp_queue, lock) % 64 == 0, "lock starts a cache line");
_Static_assert(offsetof(struct mp_queue, not_empty_seq) % 64 == 0, "futex words on their own line");
_Static_assert(offsetof(struct mp_queue, ring) % 64 == 0, "ring starts on a cache line");

/* ---- lock and conditions ---------------------------------------------- */

static inline const mp__qstate *state(const mp_queue *q)
{
    return mp__qring_state(&q->ring);
}

/* Take the lock. When the last holder died inside a call, the state is
 * whole (see the top of this file); wake every sleeper in case the dead
 * process took a wake-up meant for one of them. MP_EOWNERDEAD thus stops
 * here: the lock is ours either way. */
static void q_lock(mp_queue *q)
{
    if (mp__lock_tryacquire(&q->lock))
        return;
    if (mp__lock_hold(&q->lock) != MP_EOWNERDEAD)
        return;
    mp__qcond_broadcast(&q->not_empty, &q->not_empty_seq);
    mp__qcond_broadcast(&q->not_full, &q->not_full_seq);
    mp__qcond_broadcast(&q->all_done, &q->all_done_seq);
}

static inline void q_unlock(mp_queue *q)
{
    (void)mp__lock_release(&q->lock);
}

static void locker_lock(void *q)
{
    q_lock(q);
}

static void locker_unlock(void *q)
{
    q_unlock(q);
}

/* Wait on c (see mp__qcond_wait), dropping and retaking q's lock. */
static int q_wait(mp_queue *q, mp__qcond *c, _Atomic uint32_t *seq, mp__qwait *w)
{
    const mp__qlocker l = {locker_lock, locker_unlock, q};
    return mp__qcond_wait(c, seq, w, &l);
}

/* ---- construction ----------------------------------------------------- */

MP_EXTERN mp_queue *mp_queue_new_opts(const mp_queue_opts *opts)
{
    mp_queue_opts o = opts != NULL ? *opts : (mp_queue_opts){0};
    uint64_t cap = o.capacity == 0 ? DEFAULT_CAPACITY : o.capacity;
    size_t ring = mp__qring_bytes(cap);
    if (ring == 0) {
        errno = ENOMEM;
        return NULL;
    }
    /* The heap aligns to 16 bytes; the cache-line layout wants 64. */
    size_t head = offsetof(mp_queue, ring);
    void *block = mp_shared_malloc(head + ring + 48);
    if (block == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    mp_queue *q = (mp_queue *)(((uintptr_t)block + 63) & ~(uintptr_t)63);
    memset(q, 0, head);
    q->block = block;
    q->maxsize = o.maxsize;
    mp__lock_init(&q->lock);
    mp__qring_init(&q->ring, cap);
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
    mp__qring_destroy(&q->ring);
    q->magic = 0;
    mp_shared_free(q->block);
}

/* ---- put -------------------------------------------------------------- */

static inline bool is_full(const mp_queue *q)
{
    return q->maxsize != 0 && state(q)->count >= q->maxsize;
}

/* Put n messages in order, blocking as the timeout allows while the queue
 * is full. *done counts the messages put. */
static int put_many(mp_queue *q, const void *const *msgs, const size_t *lens, size_t n,
                    size_t *done, double timeout)
{
    mp__qwait w = mp__qwait_init(timeout);
    uint64_t inline_max = q->ring.inline_max;
    mp__qblk *blk = NULL;
    size_t i = 0;
    int rc = 0;
    unsigned nwake = 0;
    while (i < n && rc == 0) {
        const void *msg = msgs[i];
        size_t len = lens[i];
        /* Big messages are copied out of line before taking the lock. */
        if (len > inline_max && blk == NULL && (blk = mp__qblk_new(msg, len)) == NULL) {
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
                rc = mp__qring_push(&q->ring, msg, len, &blk);
                if (rc == 0) {
                    i++;
                    nwake += mp__qcond_signal(&q->not_empty, &q->not_empty_seq);
                }
                /* Stay under the lock for the following small messages. */
                if (rc != 0 || i == n || lens[i] > inline_max)
                    break;
                msg = msgs[i];
                len = lens[i];
                continue;
            }
            /* About to sleep: let the getters in first. */
            mp__qcond_wake(&q->not_empty_seq, nwake);
            nwake = 0;
            if (q_wait(q, &q->not_full, &q->not_full_seq, &w) != 0) {
                rc = MP_EFULL;
                break;
            }
        }
        q_unlock(q);
    }
    mp__qcond_wake(&q->not_empty_seq, nwake);
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
    if (len <= q->ring.inline_max) {
        /* The common case in one go: not closed, not full. */
        q_lock(q);
        if (!atomic_load_explicit(&q->closed, memory_order_relaxed) && !is_full(q)) {
            mp__qblk *none = NULL;
            if (mp__qring_push(&q->ring, msg, len, &none) == 0) {
                int nwake = mp__qcond_signal(&q->not_empty, &q->not_empty_seq);
                q_unlock(q);
                mp__qcond_wake(&q->not_empty_seq, (unsigned)nwake);
                return 0;
            }
            mp_shared_free(none); /* a block push made before failing */
        }
        q_unlock(q);
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

/* ---- get -------------------------------------------------------------- */

enum get_mode {
    GET_BUF,   /* into buf, any length up to cap */
    GET_EXACT, /* into buf, exactly cap bytes (typed gets) */
    GET_ALLOC, /* into a malloc'd copy, NUL-terminated */
};

/* Where the message m goes: *dst, or MP_EMSGSIZE / MP_ENOMEM (it stays
 * queued). used bytes of buf are taken by earlier messages of the batch. */
static int get_dst(enum get_mode mode, const mp__qmsg *m, void *buf, size_t cap, size_t used,
                   void **out, unsigned char **dst)
{
    if (mode == GET_ALLOC) {
        /* malloc(0) may return NULL; ask for at least one byte. */
        unsigned char *p = malloc(m->len + 1);
        if (p == NULL)
            return MP_ENOMEM;
        p[m->len] = '\0';
        *out = p;
        *dst = p;
        return 0;
    }
    bool fits = mode == GET_EXACT ? m->len == cap : m->len <= cap - used;
    if (!fits)
        return MP_EMSGSIZE;
    /* A zero-length message may go to a NULL buffer: no pointer math on it. */
    *dst = buf != NULL ? (unsigned char *)buf + used : NULL;
    return 0;
}

/* Remove up to max messages, waiting for the first as the timeout allows.
 * GET_BUF packs them one after another into buf, lens[i] getting each
 * length; the other modes take one message (max == 1), GET_EXACT into buf,
 * GET_ALLOC into *out. */
static int get_many(mp_queue *q, enum get_mode mode, void *buf, size_t cap, size_t *lens,
                    size_t max, size_t *got, void **out, double timeout)
{
    mp__qwait w = mp__qwait_init(timeout);
    mp__qblk *blk = NULL; /* out-of-line message to copy after unlocking */
    unsigned char *blk_dst = NULL;
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
        mp__qmsg m;
        mp__qring_peek(&q->ring, &m);
        unsigned char *dst;
        rc = get_dst(mode, &m, buf, cap, used, out, &dst);
        if (rc != 0) {
            /* Leave it queued; only the first one is an error. */
            if (n == 0 && rc == MP_EMSGSIZE)
                lens[0] = m.len;
            break;
        }
        if (m.data != NULL)
            mp__qring_copy(dst, m.data, m.len);
        /* Commit before touching an out-of-line block: a getter killed
         * from here on loses this message (and leaks its block) but never
         * leaves a reference to freed memory behind. */
        mp__qring_take(&q->ring, &m);
        lens[n++] = m.len;
        used += m.len;
        nwake += mp__qcond_signal(&q->not_full, &q->not_full_seq);
        if (m.blk != NULL) {
            /* Copy a big one without holding the lock; the batch ends. */
            blk = m.blk;
            blk_dst = dst;
            break;
        }
    }
out_unlock:
    q_unlock(q);
    if (blk != NULL) {
        if (lens[n - 1] > 0)
            memcpy(blk_dst, mp__qblk_data(blk), lens[n - 1]);
        mp_shared_free(blk);
    }
    mp__qcond_wake(&q->not_full_seq, nwake);
    if (got != NULL)
        *got = n;
    return n > 0 ? 0 : rc;
}

MP_EXTERN int mp_queue_get(mp_queue *q, void *buf, size_t cap, size_t *len, double timeout)
{
    if (q == NULL || (buf == NULL && cap > 0) || len == NULL || isnan(timeout))
        return MP_EINVAL;
    /* The common case in one go: a message stored in place that fits. */
    q_lock(q);
    if (state(q)->count > 0) {
        mp__qmsg m;
        mp__qring_peek(&q->ring, &m);
        if (m.blk == NULL && m.len <= cap) {
            mp__qring_copy(buf, m.data, m.len);
            mp__qring_take(&q->ring, &m);
            int nwake = mp__qcond_signal(&q->not_full, &q->not_full_seq);
            q_unlock(q);
            mp__qcond_wake(&q->not_full_seq, (unsigned)nwake);
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
    mp_queue *q = (mp_queue *)cq; /* the lock lives in the object */
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
    mp__qcond_broadcast(&q->not_empty, &q->not_empty_seq);
    mp__qcond_broadcast(&q->not_full, &q->not_full_seq);
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
    int rc = mp__qring_task_done(&q->ring);
    if (rc == 0 && state(q)->unfinished == 0 && q->all_done.waiters + q->all_done.spinners > 0)
        mp__qcond_broadcast(&q->all_done, &q->all_done_seq);
    q_unlock(q);
    return rc;
}

MP_EXTERN int mp_queue_join(mp_queue *q, double timeout)
{
    if (q == NULL || isnan(timeout))
        return MP_EINVAL;
    mp__qwait w = mp__qwait_init(timeout);
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
