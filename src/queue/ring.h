/* qring.h - the queue's storage: variable-length records in a byte ring,
 * overflow chunks for when the ring is full, and the crash-safe state.
 *
 * Records. Each record is an 8-byte header (length << 2 | kind) followed
 * by its payload padded to 8 bytes (MP__QREC_DATA), or by a pointer to an
 * out-of-line block holding a message too large for the ring
 * (MP__QREC_OOL). A record that would run past the end of the ring is
 * preceded by a skip marker (MP__QREC_SKIP) and starts again at offset 0.
 *
 * Overflow. When the ring has no room, records go into overflow chunks:
 * shared-heap blocks of a fixed size, filled front to back and linked in
 * order. FIFO order holds because a record enters the ring only while no
 * chunk is in use, and readers drain the ring before the chunks. A chunk
 * holds many records, so a producer that outruns its consumers pays one
 * allocation per chunk, not one per message; a message above a quarter
 * of a chunk gets its own block and a reference record in the chunk.
 *
 * Crash safety. Everything that changes together (ring head and tail, the
 * counts, the chunk list ends and offsets) sits in a state record kept
 * twice: a change writes the new state into the spare slot and commits it
 * by flipping one index. A process killed at any instruction leaves the
 * old state or the new one, never a mix. A record is written fully in
 * free space before the commit that makes it visible. A reader commits a
 * removal before it frees anything the record referred to, so a reader
 * that dies leaks (a block, a spent chunk) but never leaves a reference to
 * freed memory.
 *
 * Nothing here locks: the caller holds the queue's lock around every call
 * except mp__qblk_new and mp__qblk_free. */
#ifndef MP_INTERNAL_QRING_H
#define MP_INTERNAL_QRING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define MP__QRING_MIN_CAP 256u         /* smallest ring, bytes */
#define MP__QRING_MAX_CAP (1ULL << 40) /* largest ring, bytes */

/* A message stored out of line, in its own shared-heap block. */
typedef struct {
    uint64_t len; /* message bytes */
    uint64_t pad; /* keeps the payload 16-byte aligned */
    /* the message follows */
} mp__qblk;
_Static_assert(sizeof(mp__qblk) == 16, "block header keeps payload aligned");

/* An overflow chunk: records one after another from offset 0. */
typedef struct mp__qchunk mp__qchunk;
struct mp__qchunk {
    mp__qchunk *next; /* next chunk; valid once this one is not the last */
    uint64_t used;    /* bytes of records; valid once this one is not the last */
    /* records follow, 16-byte aligned */
};
_Static_assert(sizeof(mp__qchunk) == 16, "chunk header keeps records aligned");

/* What one commit changes: exactly one cache line. */
typedef struct {
    uint64_t head;        /* ring position of the oldest record (grows forever) */
    uint64_t tail;        /* ring position past the newest record (grows forever) */
    uint64_t count;       /* messages stored: in the ring and in chunks */
    uint64_t unfinished;  /* messages stored minus task_done calls */
    mp__qchunk *ovf_head; /* oldest chunk with an unread record; NULL if none */
    mp__qchunk *ovf_tail; /* newest chunk (the one written to) */
    uint64_t ovf_rpos;    /* offset of the next record to read in ovf_head */
    uint64_t ovf_wpos;    /* offset past the last record in ovf_tail */
} mp__qstate;
_Static_assert(sizeof(mp__qstate) == 64, "state is one cache line");

/* The ring header; the ring's cap bytes follow it. */
typedef struct {
    _Atomic uint32_t cur; /* index of the current state; flipping it commits */
    uint32_t pad;
    uint64_t cap;                  /* ring bytes, a power of two */
    uint64_t inline_max;           /* largest message stored as a record (ring or chunk) */
    uint64_t chunk;                /* bytes of an overflow chunk, its header included */
    _Alignas(64) mp__qstate st[2]; /* current and spare state */
} mp__qring;
_Static_assert(sizeof(mp__qring) % 64 == 0, "ring bytes start on a cache line");

/* The message at the head, as mp__qring_peek finds it. */
typedef struct {
    uint64_t len;      /* message bytes */
    const void *data;  /* the payload in place, or NULL when out of line */
    mp__qblk *blk;     /* the out-of-line block, or NULL */
    mp__qchunk *spent; /* chunk to free once the removal is committed */
    mp__qstate next;   /* the state once it is removed */
} mp__qmsg;

/* mp__qring_bytes returns how many bytes a ring of at least cap bytes
 * takes with its header (cap is rounded up to a power of two, at least
 * MP__QRING_MIN_CAP); 0 when cap exceeds MP__QRING_MAX_CAP. */
size_t mp__qring_bytes(uint64_t cap);

/* mp__qring_init makes an empty ring in the mp__qring_bytes(cap) bytes at r. */
void mp__qring_init(mp__qring *r, uint64_t cap);

/* mp__qring_destroy frees every block and chunk still held. */
void mp__qring_destroy(mp__qring *r);

/* mp__qring_state returns the current (committed) state. */
static inline const mp__qstate *mp__qring_state(const mp__qring *r)
{
    return &r->st[atomic_load_explicit(&r->cur, memory_order_relaxed)];
}

/* mp__qring_commit makes s the current state with one release store. */
static inline void mp__qring_commit(mp__qring *r, const mp__qstate *s)
{
    uint32_t c = atomic_load_explicit(&r->cur, memory_order_relaxed);
    r->st[c ^ 1] = *s;
    atomic_store_explicit(&r->cur, c ^ 1, memory_order_release);
}

/* mp__qblk_new copies a message into a fresh out-of-line block; NULL when
 * the shared heap cannot hold it. */
mp__qblk *mp__qblk_new(const void *msg, size_t len);

/* mp__qblk_data returns a block's payload. */
static inline void *mp__qblk_data(mp__qblk *b)
{
    return b + 1;
}

/* mp__qring_push appends a message and commits. *blk is the message's
 * out-of-line copy when the caller made one; it is consumed on success.
 * A message that finds the ring full and is too big to pack into a chunk
 * gets its block here. Returns 0, or MP_ENOMEM when the shared heap
 * cannot hold a new chunk or block: nothing is queued, and *blk may then
 * hold a block made here, which the caller frees. */
int mp__qring_push(mp__qring *r, const void *msg, size_t len, mp__qblk **blk);

/* mp__qring_peek finds the oldest message (count > 0) without removing it. */
void mp__qring_peek(const mp__qring *r, mp__qmsg *m);

/* mp__qring_take commits the removal of m (from mp__qring_peek, nothing
 * changed since) and frees a chunk it used up. Copy an in-place payload
 * before this call; an out-of-line block is the caller's after it. */
void mp__qring_take(mp__qring *r, const mp__qmsg *m);

/* mp__qring_task_done lowers the unfinished count: 0, or MP_EVALUE when
 * it is already 0 (nothing changed). */
int mp__qring_task_done(mp__qring *r);

/* mp__qring_copy is memcpy for message bytes: most messages are small,
 * and for them a call into the library costs more than the copy. */
static inline void mp__qring_copy(void *dst, const void *src, size_t len)
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
