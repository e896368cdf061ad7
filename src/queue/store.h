/* store.h - the queue's storage: records in a list of chunks, a producer
 * cursor and a consumer cursor on cache lines of their own, and the states
 * that let a reader tell a record being written from one being read.
 *
 * Records. A chunk is a shared-heap block holding records one after the
 * other, each an 8-byte header then its payload padded to 8 bytes: the
 * message itself (DATA), a pointer to an out-of-line block for a message
 * too large for a chunk (OOL), or nothing (END: the rest of this chunk is
 * unused, go on in chunk->next). Chunks are filled front to back, linked in
 * order, and freed once every record in them has been consumed; so the
 * queue holds as many chunks as its backlog needs, and a put never waits
 * for room (only maxsize, a count of messages, makes a queue full).
 *
 * Cursors. Producers reserve records at the tail under the producer lock;
 * consumers take them at the head under the consumer lock. Each lock and
 * each cursor sits on its own cache line, so a producer and a consumer on
 * different cores share only the lines of the records themselves. Neither
 * lock is held across a copy of message bytes:
 *   put: lock, reserve the record (header RESV|tid), advance the tail,
 *        unlock; copy the message in; publish (header PUB, one store).
 *   get: lock, check the head record is PUB, mark it CLAIM|tid, advance
 *        the head, unlock; copy the message out; mark it DONE (one store).
 * A third cursor, the release point, trails the head: it passes records
 * once they are DONE, in order, and frees each chunk it leaves behind.
 * While it is held at a record still being copied out, the chunks behind
 * the head that are all DONE are unlinked and freed out of order
 * (queue.c, reclaim_behind), so a slow consumer holds back one chunk.
 *
 * Record states (the header's first word; tid is the kernel thread id):
 *   RESV|tid   reserved, being written by a producer
 *   PUB        published: a consumer may take it
 *   DEAD       published as nothing: its producer died before publishing
 *   CLAIM|tid  taken by a consumer, being copied out
 *   DONE       consumed: the release point may pass it
 * Records between the release point and the tail were all written in the
 * current life of their chunk (a reservation writes RESV before the tail
 * moves past it), so these states are never confused with stale bytes.
 *
 * Crash safety. Each cursor is a small state kept twice and committed by
 * one store of a commit counter (mp__qside), so a holder killed anywhere
 * leaves the old state or the new one; the lock's next holder (it gets
 * MP_EOWNERDEAD) finishes or forgets what the dead one left half done
 * (queue.c, repair_producer and repair_consumer). Outside the locks, a
 * killed process leaves a record in RESV or CLAIM under its tid: whoever
 * waits behind it asks whether that thread lives (os/alive.h) once it has
 * been silent for a wait slice, and if not, turns a RESV into DEAD (the
 * message is lost, never half-seen) or a CLAIM into DONE (the message was
 * lost with its taker, never delivered twice), freeing the out-of-line
 * block the dead process held. What can still leak: a block or chunk a
 * process had just allocated and not yet reserved a record for, or had
 * just marked DONE and not yet freed - a window of a few instructions.
 *
 * A stopped process holds at most one of the two locks for a few stores:
 * callers of the other side never wait for it, and callers of the same
 * side wait no longer than their own deadline. A record it has reserved
 * or claimed holds back only the records behind it (FIFO) and the release
 * of its chunk. */
#ifndef MP_QUEUE_STORE_H
#define MP_QUEUE_STORE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "os/fence.h"

/* The first word of a record header. */
#define MP__QR_STATE 0xc0000000u /* the state bits */
#define MP__QR_TID   0x3fffffffu /* the thread of RESV and CLAIM */
#define MP__QR_DONE  0x00000000u
#define MP__QR_RESV  0x40000000u
#define MP__QR_PUB   0x80000000u
#define MP__QR_DEAD  0x80000001u
#define MP__QR_CLAIM 0xc0000000u

/* The second word: the payload length << 2 | the kind. */
enum { MP__QK_DATA = 0, MP__QK_OOL = 1, MP__QK_END = 2 };

#define MP__QREC_HDR   8u           /* header bytes */
#define MP__QLEN_MAX   0x3fffffffu  /* longest payload a header can state */
#define MP__QCHUNK_MIN 512u         /* smallest chunk, its header included */
#define MP__QCHUNK_MAX (1ULL << 40) /* largest chunk */

typedef struct {
    _Atomic uint32_t state; /* MP__QR_* */
    uint32_t lenkind;       /* len << 2 | MP__QK_*; written before the record is reserved */
} mp__qrec;
_Static_assert(sizeof(mp__qrec) == MP__QREC_HDR, "record header is 8 bytes");

/* A message stored out of line, in its own shared-heap block. */
typedef struct {
    uint64_t len; /* message bytes */
    uint64_t pad; /* keeps the payload 16-byte aligned */
    /* the message follows */
} mp__qblk;
_Static_assert(sizeof(mp__qblk) == 16, "block header keeps payload aligned");

/* A chunk: this header, then size bytes of records. */
typedef struct mp__qchunk mp__qchunk;
struct mp__qchunk {
    _Atomic(mp__qchunk *) next; /* the following chunk; set only while linking it, before the
                                   END record that leads to it is published */
    uint64_t size;              /* bytes of records (the last 8 kept for the END record) */
    uint64_t pad[6];            /* records start on a cache line */
};
_Static_assert(sizeof(mp__qchunk) == 64, "chunk header is one cache line");

/* One cursor's position and count, as one commit changes them. */
typedef struct {
    mp__qchunk *chunk;  /* the chunk the cursor is in */
    uint64_t off;       /* offset of its next record in that chunk */
    uint64_t count;     /* records reserved (producer) or taken (consumer) so far,
                           END records not counted */
    mp__qchunk *rchunk; /* consumer only: the oldest chunk not yet freed */
    uint64_t roff;      /* consumer only: its first record not yet DONE and passed */
} mp__qpos;

/* The committed state of one side, kept twice. Written only by the side's
 * lock holder: the new state goes into the spare copy, then one store of
 * seq makes it current. Anyone may read it without the lock
 * (mp__qside_read): the counter tells a read that raced a commit. */
typedef struct {
    _Atomic uint32_t seq; /* commits so far; st[seq & 1] is current */
    uint32_t pad;
    struct {
        _Atomic(mp__qchunk *) chunk;
        _Atomic uint64_t off;
        _Atomic uint64_t count;
        _Atomic(mp__qchunk *) rchunk;
        _Atomic uint64_t roff;
    } st[2];
} mp__qside;

static inline unsigned char *mp__qchunk_bytes(mp__qchunk *c)
{
    return (unsigned char *)(c + 1);
}

static inline mp__qrec *mp__qrec_at(mp__qchunk *c, uint64_t off)
{
    return (mp__qrec *)(void *)(mp__qchunk_bytes(c) + off);
}

static inline uint64_t mp__qpad8(uint64_t n)
{
    return (n + 7) & ~(uint64_t)7;
}

/* mp__qrec_size returns the bytes a record of this lenkind takes. */
static inline uint64_t mp__qrec_size(uint32_t lenkind)
{
    switch (lenkind & 3) {
    case MP__QK_OOL:
        return MP__QREC_HDR + sizeof(mp__qblk *);
    case MP__QK_END:
        return MP__QREC_HDR;
    default:
        return MP__QREC_HDR + mp__qpad8(lenkind >> 2);
    }
}

/* mp__qside_load reads the current state; for the lock holder, who is the
 * only writer. */
static inline void mp__qside_load(const mp__qside *s, mp__qpos *p)
{
    unsigned i = atomic_load_explicit(&s->seq, memory_order_relaxed) & 1;
    p->chunk = atomic_load_explicit(&s->st[i].chunk, memory_order_relaxed);
    p->off = atomic_load_explicit(&s->st[i].off, memory_order_relaxed);
    p->count = atomic_load_explicit(&s->st[i].count, memory_order_relaxed);
    p->rchunk = atomic_load_explicit(&s->st[i].rchunk, memory_order_relaxed);
    p->roff = atomic_load_explicit(&s->st[i].roff, memory_order_relaxed);
}

/* mp__qside_read reads a consistent current state without the lock. */
static inline void mp__qside_read(const mp__qside *s, mp__qpos *p)
{
    for (;;) {
        uint32_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
        unsigned i = seq & 1;
        p->chunk = atomic_load_explicit(&s->st[i].chunk, memory_order_relaxed);
        p->off = atomic_load_explicit(&s->st[i].off, memory_order_relaxed);
        p->count = atomic_load_explicit(&s->st[i].count, memory_order_relaxed);
        p->rchunk = atomic_load_explicit(&s->st[i].rchunk, memory_order_relaxed);
        p->roff = atomic_load_explicit(&s->st[i].roff, memory_order_relaxed);
        /* Pairs with the release fence in mp__qside_commit: had any load
         * above seen a later commit's store, seq has moved on. */
        mp__fence(memory_order_acquire);
        if (atomic_load_explicit(&s->seq, memory_order_relaxed) == seq)
            return;
    }
}

/* mp__qside_count reads the current count without the lock. */
static inline uint64_t mp__qside_count(const mp__qside *s)
{
    mp__qpos p;
    mp__qside_read(s, &p);
    return p.count;
}

/* mp__qside_commit makes p the current state (lock held): the spare copy
 * first, then one store of the counter. */
static inline void mp__qside_commit(mp__qside *s, const mp__qpos *p)
{
    uint32_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);
    unsigned i = (seq + 1) & 1;
    /* Readers of the copy being overwritten must see seq move: order the
     * previous commit's counter store before these (mp__qside_read). */
    mp__fence(memory_order_release);
    atomic_store_explicit(&s->st[i].chunk, p->chunk, memory_order_relaxed);
    atomic_store_explicit(&s->st[i].off, p->off, memory_order_relaxed);
    atomic_store_explicit(&s->st[i].count, p->count, memory_order_relaxed);
    atomic_store_explicit(&s->st[i].rchunk, p->rchunk, memory_order_relaxed);
    atomic_store_explicit(&s->st[i].roff, p->roff, memory_order_relaxed);
    atomic_store_explicit(&s->seq, seq + 1, memory_order_release);
}

/* mp__qcopy is memcpy for message bytes: most messages are small, and for
 * them a call into the library costs more than the copy. */
static inline void mp__qcopy(void *dst, const void *src, size_t len)
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

#endif
