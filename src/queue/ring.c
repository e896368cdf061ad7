/* qring.c - the queue's record storage: a byte ring, overflow chunks and
 * the double-stored state that keeps both crash-safe (see qring.h). */
#include "queue/ring.h"

#include "mp/error.h"
#include "mp/shared.h"

#include "os/panic.h"

#define REC_DATA 0u /* payload follows the header */
#define REC_OOL  1u /* a mp__qblk pointer follows the header */
#define REC_SKIP 2u /* the rest of the ring up to its end is unused */
#define REC_HDR  8u

/* Overflow chunks (header included, so that the heap wastes nothing on
 * a power of two) take a quarter of the ring, within these bounds: small
 * enough that a queue just past full does not hold much spare memory and
 * that the heap recycles them without giving pages back (its small
 * classes end at 128 KiB), large enough that an allocation is rare. A
 * record above a quarter of a chunk goes out of line instead: chunks pay
 * off for small messages only. */
#define CHUNK_MIN 4096u
#define CHUNK_MAX (64u * 1024u)

static inline uint64_t pad8(uint64_t n)
{
    return (n + 7) & ~(uint64_t)7;
}

static inline unsigned char *ring_bytes(const mp__qring *r)
{
    return (unsigned char *)(uintptr_t)(r + 1);
}

static inline unsigned char *chunk_bytes(const mp__qchunk *c)
{
    return (unsigned char *)(uintptr_t)(c + 1);
}

/* The size of the record whose header is h. */
static inline uint64_t rec_size(uint64_t h)
{
    return (h & 3) == REC_OOL ? REC_HDR + sizeof(void *) : REC_HDR + pad8(h >> 2);
}

static uint64_t round_cap(uint64_t cap)
{
    uint64_t p2 = MP__QRING_MIN_CAP;
    while (p2 < cap)
        p2 <<= 1;
    return p2;
}

size_t mp__qring_bytes(uint64_t cap)
{
    if (cap > MP__QRING_MAX_CAP || cap > SIZE_MAX / 2)
        return 0;
    return sizeof(mp__qring) + (size_t)round_cap(cap);
}

void mp__qring_init(mp__qring *r, uint64_t cap)
{
    memset(r, 0, sizeof *r);
    r->cap = round_cap(cap);
    uint64_t quarter = r->cap / 4;
    r->chunk = quarter < CHUNK_MIN ? CHUNK_MIN : quarter > CHUNK_MAX ? CHUNK_MAX : quarter;
    /* A message bigger than a quarter of the ring would leave little room
     * for others; it goes out of line. */
    r->inline_max = quarter - REC_HDR;
}

mp__qblk *mp__qblk_new(const void *msg, size_t len)
{
    if (len > SIZE_MAX - sizeof(mp__qblk))
        return NULL;
    mp__qblk *b = mp_shared_malloc(sizeof *b + len);
    if (b == NULL)
        return NULL;
    b->len = len;
    if (len > 0)
        memcpy(mp__qblk_data(b), msg, len);
    return b;
}

/* Free the out-of-line block of the record at p, if it has one; returns
 * the record's size. */
static uint64_t free_record(const unsigned char *p)
{
    uint64_t h;
    memcpy(&h, p, sizeof h);
    if ((h & 3) == REC_OOL) {
        mp__qblk *b;
        memcpy(&b, p + REC_HDR, sizeof b);
        mp_shared_free(b);
    }
    return rec_size(h);
}

void mp__qring_destroy(mp__qring *r)
{
    const mp__qstate *s = mp__qring_state(r);
    unsigned char *ring = ring_bytes(r);
    for (uint64_t head = s->head; head != s->tail;) {
        uint64_t pos = head & (r->cap - 1);
        uint64_t h;
        memcpy(&h, ring + pos, sizeof h);
        if ((h & 3) == REC_SKIP)
            head += r->cap - pos;
        else
            head += free_record(ring + pos);
    }
    uint64_t pos = s->ovf_rpos;
    for (mp__qchunk *c = s->ovf_head; c != NULL;) {
        uint64_t end = c == s->ovf_tail ? s->ovf_wpos : c->used;
        while (pos < end)
            pos += free_record(chunk_bytes(c) + pos);
        mp__qchunk *next = c == s->ovf_tail ? NULL : c->next;
        mp_shared_free(c);
        c = next;
        pos = 0;
    }
}

/* Where the next record of rec bytes goes in the ring, updating s; NULL
 * when it does not fit or chunks are in use (FIFO: they hold older ones). */
static unsigned char *ring_room(mp__qring *r, mp__qstate *s, uint64_t rec)
{
    if (s->ovf_head != NULL)
        return NULL;
    uint64_t pos = s->tail & (r->cap - 1);
    uint64_t to_end = r->cap - pos;
    uint64_t need = rec <= to_end ? rec : to_end + rec;
    if (r->cap - (s->tail - s->head) < need)
        return NULL;
    if (rec > to_end) {
        /* Skip to the start; written in free space, so it is seen only
         * with the record after it. */
        uint64_t skip = REC_SKIP;
        memcpy(ring_bytes(r) + pos, &skip, sizeof skip);
        pos = 0;
    }
    s->tail += need;
    return ring_bytes(r) + pos;
}

/* Where the next record of rec bytes goes in the chunks, updating s; a new
 * chunk when the last one is full. NULL when the heap cannot hold one. */
static unsigned char *chunk_room(mp__qring *r, mp__qstate *s, uint64_t rec)
{
    if (s->ovf_tail != NULL && s->ovf_wpos + rec <= r->chunk - sizeof(mp__qchunk)) {
        unsigned char *at = chunk_bytes(s->ovf_tail) + s->ovf_wpos;
        s->ovf_wpos += rec;
        return at;
    }
    mp__qchunk *c = mp_shared_malloc(r->chunk);
    if (c == NULL)
        return NULL;
    c->next = NULL;
    c->used = 0;
    if (s->ovf_tail != NULL) {
        /* Written before the commit, harmlessly: readers use next and
         * used only for a chunk that is not the last. */
        s->ovf_tail->used = s->ovf_wpos;
        s->ovf_tail->next = c;
    } else {
        s->ovf_head = c;
        s->ovf_rpos = 0;
    }
    s->ovf_tail = c;
    s->ovf_wpos = rec;
    return chunk_bytes(c);
}

int mp__qring_push(mp__qring *r, const void *msg, size_t len, mp__qblk **blk)
{
    mp__qstate s = *mp__qring_state(r);
    uint64_t rec = *blk != NULL ? REC_HDR + sizeof(void *) : REC_HDR + pad8(len);
    unsigned char *at = ring_room(r, &s, rec);
    if (at == NULL) {
        if (*blk == NULL && rec > (r->chunk - sizeof(mp__qchunk)) / 4) {
            /* Too big to pack into a chunk: its own block. */
            if ((*blk = mp__qblk_new(msg, len)) == NULL)
                return MP_ENOMEM;
            rec = REC_HDR + sizeof(void *);
        }
        if ((at = chunk_room(r, &s, rec)) == NULL)
            return MP_ENOMEM; /* a block made here is freed by the caller */
    }
    if (*blk != NULL) {
        uint64_t h = (uint64_t)len << 2 | REC_OOL;
        memcpy(at + REC_HDR, blk, sizeof(void *));
        memcpy(at, &h, sizeof h);
        *blk = NULL;
    } else {
        uint64_t h = (uint64_t)len << 2 | REC_DATA;
        mp__qring_copy(at + REC_HDR, msg, len);
        memcpy(at, &h, sizeof h);
    }
    s.count++;
    s.unfinished++;
    mp__qring_commit(r, &s);
    return 0;
}

void mp__qring_peek(const mp__qring *r, mp__qmsg *m)
{
    mp__qstate s = *mp__qring_state(r);
    const unsigned char *at;
    uint64_t h;
    m->spent = NULL;
    if (s.head != s.tail) {
        uint64_t pos = s.head & (r->cap - 1);
        memcpy(&h, ring_bytes(r) + pos, sizeof h);
        if ((h & 3) == REC_SKIP) {
            s.head += r->cap - pos;
            pos = 0;
            memcpy(&h, ring_bytes(r), sizeof h);
        }
        at = ring_bytes(r) + pos;
        s.head += rec_size(h);
        if (s.tail - s.head > r->cap)
            mp__panic("queue ring %p: head passed tail", (void *)r);
    } else {
        if (s.ovf_head == NULL || s.count == 0)
            mp__panic("queue ring %p: count %llu with nothing stored", (void *)r,
                      (unsigned long long)s.count);
        at = chunk_bytes(s.ovf_head) + s.ovf_rpos;
        memcpy(&h, at, sizeof h);
        s.ovf_rpos += rec_size(h);
        uint64_t end = s.ovf_head == s.ovf_tail ? s.ovf_wpos : s.ovf_head->used;
        if (s.ovf_rpos > end)
            mp__panic("queue ring %p: record past a chunk's end", (void *)r);
        if (s.ovf_rpos == end) {
            /* The chunk is used up: it goes once the removal commits. */
            m->spent = s.ovf_head;
            if (s.ovf_head == s.ovf_tail) {
                s.ovf_head = s.ovf_tail = NULL;
                s.ovf_wpos = 0;
            } else {
                s.ovf_head = s.ovf_head->next;
            }
            s.ovf_rpos = 0;
        }
    }
    if ((h & 3) == REC_OOL) {
        memcpy(&m->blk, at + REC_HDR, sizeof m->blk);
        m->data = NULL;
        m->len = m->blk->len;
    } else if ((h & 3) == REC_DATA) {
        m->blk = NULL;
        m->data = at + REC_HDR;
        m->len = h >> 2;
    } else {
        mp__panic("queue ring %p: bad record %#llx", (void *)r, (unsigned long long)h);
    }
    s.count--;
    m->next = s;
}

void mp__qring_take(mp__qring *r, const mp__qmsg *m)
{
    mp__qring_commit(r, &m->next);
    if (m->spent != NULL)
        mp_shared_free(m->spent);
}

int mp__qring_task_done(mp__qring *r)
{
    mp__qstate s = *mp__qring_state(r);
    if (s.unfinished == 0)
        return MP_EVALUE;
    s.unfinished--;
    mp__qring_commit(r, &s);
    return 0;
}
