/* dict.c - mp_dict: lookups without locks, in-place writes under a cell's
 * lock, structural writes under a stripe's lock (layout and crash-safety
 * argument in dict/dict.h; snapshots in items.c). */
#include "dict/dict.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mp/error.h"
#include "mp/shared.h"
#include "os/thread.h"

#define TABLE_MIN 8 /* slots of a stripe's first table */

/* A table is rebuilt (grown, or cleaned of its dead slots) before used
 * slots would pass 3/4 of it: linear probes stay short below that, and a
 * rebuild leaves it at most half full. */
#define LOAD_NUM 3
#define LOAD_DEN 4

typedef mp__cell cell;
typedef mp__blob blob;
typedef mp__slot slot;
typedef mp__table table;
typedef mp__stripe stripe;

/* ---- keys ----------------------------------------------------------------- */

/* A key as the caller gave it, with its hash. */
typedef struct {
    const unsigned char *p; /* the bytes */
    size_t len;             /* their count */
    uint64_t h;             /* hash, never SLOT_EMPTY or SLOT_DEAD */
} keyref;

/* Multipliers of the hash: odd constants with well-mixed bits (the 64-bit
 * golden ratio and two from the splitmix64 finaliser). */
#define H0 0x9e3779b97f4a7c15ULL
#define H1 0xbf58476d1ce4e5b9ULL
#define H2 0x94d049bb133111ebULL

/* fold multiplies to 128 bits and folds the halves together: one
 * multiplication mixes every input bit into the middle of the result. */
static inline uint64_t fold(uint64_t a, uint64_t b)
{
    unsigned __int128 m = (unsigned __int128)a * b;
    return (uint64_t)m ^ (uint64_t)(m >> 64);
}

static inline uint64_t load64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint64_t load32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* hash_key hashes n bytes with the dict's seed: 16 bytes per
 * multiplication, the tail read as two overlapping words so that every
 * byte counts whatever the length. A key of up to 16 bytes (the common
 * case) takes one multiplication: fold mixes every input bit into both
 * halves of its result, whose top bits pick the stripe and low bits the
 * slot. */
static inline uint64_t hash_key(uint64_t seed, const unsigned char *p, size_t n)
{
    uint64_t h = seed ^ ((uint64_t)n * H0);
    while (n > 16) {
        h = fold(load64(p) ^ H1, load64(p + 8) ^ h);
        p += 16;
        n -= 16;
    }
    uint64_t a = 0, b = 0;
    if (n >= 8) {
        a = load64(p);
        b = load64(p + n - 8);
    } else if (n >= 4) {
        a = load32(p);
        b = load32(p + n - 4);
    } else if (n > 0) {
        a = (uint64_t)p[0] << 16 | (uint64_t)p[n >> 1] << 8 | p[n - 1];
    }
    return fold(a ^ H1, b ^ h ^ H2);
}

static inline keyref key_of(const mp_dict *d, const void *key, size_t klen)
{
    keyref k = {key, klen, hash_key(d->seed, key, klen)};
    if (k.h <= MP__SLOT_DEAD)
        k.h += 2;
    return k;
}

static inline stripe *stripe_of(mp_dict *d, uint64_t h)
{
    return &d->st[h >> (64 - MP__DICT_STRIPE_BITS)];
}

/* same_key compares n key bytes; keys of up to 16 bytes (the common
 * ones) without a call. */
static inline bool same_key(const unsigned char *a, const unsigned char *b, size_t n)
{
    if (n == 8)
        return load64(a) == load64(b);
    if (n > 8 && n <= 16)
        return load64(a) == load64(b) && load64(a + n - 8) == load64(b + n - 8);
    return n == 0 || memcmp(a, b, n) == 0;
}

/* ---- cells and tables ------------------------------------------------------- */

/* cell_take gives stripe s an unbound cell, from its free list or from a
 * new chunk; NULL when the heap is full. Under the stripe's lock. */
static cell *cell_take(stripe *s)
{
    cell *c = s->free_cells;
    if (c == NULL) {
        void *block;
        mp__chunk *ch = mp__ct_alloc_line(sizeof(mp__chunk), &block);
        if (ch == NULL)
            return NULL;
        ch->block = block;
        for (unsigned i = 0; i < MP__CHUNK_CELLS; i++) {
            mp__lock_init(&ch->cells[i].lock);
            ch->cells[i].key.next = i + 1 < MP__CHUNK_CELLS ? &ch->cells[i + 1] : NULL;
        }
        ch->next = s->chunks;
        s->chunks = ch; /* kept, whatever happens next */
        c = &ch->cells[0];
    }
    s->free_cells = c->key.next;
    return c;
}

/* cell_free puts an unbound, unlocked cell on stripe s's free list. */
static void cell_free(stripe *s, cell *c)
{
    c->key.next = s->free_cells;
    s->free_cells = c;
}

/* cell_bind fills c (unbound, off the free list) with key k, its value
 * (8 bytes in x, else the block v) and the key's block kb (NULL for a
 * short key), then binds it: from then on a reader that finds c through a
 * slot sees all of it. */
static void cell_bind(cell *c, const keyref *k, blob *kb, uint64_t x, blob *v, uint64_t seq)
{
    c->flags = (kb != NULL ? MP__CELL_KEY_OUT : 0) | (v != NULL ? MP__CELL_VAL_OUT : 0);
    c->klen = k->len;
    c->seq = seq;
    if (kb != NULL)
        c->key.out = kb;
    else if (k->len > 0)
        memcpy(c->key.in, k->p, k->len);
    atomic_store_explicit(&c->val, v != NULL ? (uint64_t)(uintptr_t)v : x, memory_order_relaxed);
    atomic_store_explicit(&c->gen, atomic_load_explicit(&c->gen, memory_order_relaxed) + 1,
                          memory_order_release);
}

/* cell_unbind takes c from its key, under c's lock: whoever reaches the
 * cell through an old pointer sees the generation move on. */
static void cell_unbind(cell *c)
{
    atomic_store_explicit(&c->gen, atomic_load_explicit(&c->gen, memory_order_relaxed) + 1,
                          memory_order_release);
}

/* cell_blocks returns, through *kb and *vb, the key and value blocks a
 * bound cell owns (NULL for an inline key or an 8-byte value). */
static void cell_blocks(const cell *c, blob **kb, blob **vb)
{
    *kb = c->flags & MP__CELL_KEY_OUT ? c->key.out : NULL;
    *vb = c->flags & MP__CELL_VAL_OUT
              ? (blob *)(uintptr_t)atomic_load_explicit(&c->val, memory_order_relaxed)
              : NULL;
}

/* cell_retire unbinds c, which the caller holds locked with its stripe,
 * unlocks it and gives it back to stripe s's free list; *kb and *vb get
 * the blocks it owned, to free once the retire counter has moved. */
static void cell_retire(stripe *s, cell *c, blob **kb, blob **vb)
{
    cell_blocks(c, kb, vb);
    cell_unbind(c);
    mp__ct_unlock(&c->lock);
    cell_free(s, c);
}

int mp__cell_lock(cell *c, mp__ct_bound *b)
{
    int rc = mp__ct_lock(&c->lock, b);
    if (rc == MP_EOWNERDEAD) {
        uint64_t v = atomic_load_explicit(&c->ver, memory_order_relaxed);
        if (v & 1)
            atomic_store_explicit(&c->ver, v + 1, memory_order_release);
    }
    return rc;
}

/* cell_store replaces c's value word in place, c's lock held: the
 * version is odd while it changes, for snapshots. Returns the old word. */
static uint64_t cell_store(cell *c, uint64_t (*make)(uint64_t old, void *arg), void *arg)
{
    uint64_t v = atomic_load_explicit(&c->ver, memory_order_relaxed);
    atomic_store_explicit(&c->ver, v + 1, memory_order_relaxed);
    mp__fence(memory_order_release);
    uint64_t old = atomic_load_explicit(&c->val, memory_order_relaxed);
    atomic_store_explicit(&c->val, make(old, arg), memory_order_release); /* the commit */
    atomic_store_explicit(&c->ver, v + 2, memory_order_release);
    return old;
}

/* A change to one key: set a value, or add to a counter. */
typedef struct {
    bool add;        /* add delta (else set val) */
    const void *val; /* set: the value */
    size_t vlen;     /* set: its length */
    uint64_t delta;  /* add: the addend, as unsigned so that it wraps */
    uint64_t result; /* add: the new value */
    blob *v;         /* set, vlen != 8: the value's block, made before any lock */
} change;

/* The value word a change makes from the old one. */
static uint64_t change_word(uint64_t old, void *arg)
{
    change *ch = arg;
    if (ch->add)
        return ch->result = old + ch->delta;
    if (ch->v != NULL)
        return (uint64_t)(uintptr_t)ch->v;
    uint64_t x;
    memcpy(&x, ch->val, 8);
    return x;
}

/* change_fits tells whether change ch keeps the kind of a value with
 * these cell flags (8 bytes stays 8 bytes, a block stays a block). */
static inline bool change_fits(const change *ch, uint32_t flags)
{
    bool out = flags & MP__CELL_VAL_OUT;
    return ch->add ? !out : out == (ch->vlen != 8);
}

/* free_table frees a table no longer reachable; with_cells, the blocks of
 * the cells its live slots point to too (the cells stay with the dict). */
static void free_table(table *t, bool with_cells)
{
    if (t == NULL)
        return;
    for (uint64_t i = 0; with_cells && i <= t->mask; i++) {
        if (atomic_load_explicit(&t->s[i].tag, memory_order_relaxed) <= MP__SLOT_DEAD)
            continue;
        blob *kb, *vb;
        cell_blocks(atomic_load_explicit(&t->s[i].c, memory_order_relaxed), &kb, &vb);
        mp_shared_free(kb);
        mp_shared_free(vb);
    }
    mp_shared_free(t->block);
}

/* ---- reading without the lock ------------------------------------------------- */

enum { LOOK_ABSENT = 0, LOOK_RETRY = MP__CT_RETRY, LOOK_FOUND = 2 };

/* What look found: the key's cell, as bound when it was read. */
typedef struct {
    cell *c;        /* the cell */
    uint64_t gen;   /* its generation then (odd) */
    uint32_t flags; /* its flags then */
} found;

/* look finds key k in stripe s without the lock, every pointer validated
 * before it is followed (for_write: the caller means to lock the cell). Returns LOOK_FOUND (*f
 * set), LOOK_ABSENT or LOOK_RETRY; the first two hold only if the caller's last checks of the
 * retire counter (and of f->c's generation) do. Under the lock it is
 * exact. */
__attribute__((always_inline)) static inline int look(const mp_dict *d, stripe *s, const keyref *k,
                                                      uint64_t seen, bool for_write, found *f)
{
    if (mp__is_cleared(d, s))
        return LOOK_ABSENT;
    uint64_t tw = atomic_load_explicit(&s->table, memory_order_acquire);
    if (tw == 0)
        return LOOK_ABSENT;
    table *t = mp__table_of(tw);
    uint64_t mask = mp__table_mask(tw);
    for (uint64_t i = k->h & mask, n = 0; n <= mask; i = (i + 1) & mask, n++) {
        uint64_t tag = atomic_load_explicit(&t->s[i].tag, memory_order_acquire);
        if (tag == MP__SLOT_EMPTY)
            return LOOK_ABSENT;
        if (tag != k->h)
            continue;
        cell *c = atomic_load_explicit(&t->s[i].c, memory_order_acquire);
        if (!mp__ct_valid(&s->retired, seen))
            return LOOK_RETRY;
        /* A writer's lookup asks for the line to write at once, rather
         * than reading it shared and upgrading it for its lock. */
        if (for_write)
            __builtin_prefetch(c, 1, 3);
        /* c is a cell (cells are never freed); is it still this slot's? */
        uint64_t gen = atomic_load_explicit(&c->gen, memory_order_acquire);
        uint64_t klen = c->klen;
        uint32_t flags = c->flags;
        const unsigned char *key = mp__cell_key(c, flags);
        mp__fence(memory_order_acquire);
        if (!(gen & 1) || atomic_load_explicit(&c->gen, memory_order_relaxed) != gen)
            return LOOK_RETRY; /* being replaced or deleted */
        if (klen != k->len || !same_key(key, k->p, klen))
            continue;
        f->c = c;
        f->gen = gen;
        f->flags = flags;
        return LOOK_FOUND;
    }
    return LOOK_ABSENT;
}

/* still tells whether f's cell is still bound as it was found: checked
 * after everything read from it. */
static inline bool still(const found *f)
{
    mp__fence(memory_order_acquire);
    return atomic_load_explicit(&f->c->gen, memory_order_relaxed) == f->gen;
}

/* What a read does with the key it found: copy the value into a buffer
 * or a malloc'd block, nothing (contains), or note its cell (the first
 * step of an in-place write). */
enum { TAKE_NOTHING, TAKE_COPY, TAKE_ALLOC, TAKE_CELL };

typedef struct {
    mp_dict *d;
    stripe *s;
    const keyref *k;
    int how;     /* TAKE_* */
    void *buf;   /* TAKE_COPY: the caller's buffer; TAKE_ALLOC: the copy */
    size_t cap;  /* TAKE_COPY: its size */
    size_t vlen; /* the value's length */
    found f;     /* TAKE_CELL: the key's cell */
} reader;

static void repair(mp_dict *d, stripe *s);

static void reader_repair(void *arg)
{
    reader *r = arg;
    repair(r->d, r->s);
}

/* read_attempt is one try of a read (mp__ct_read): find the key, then
 * take what r->how says, checking the cell's generation and the retire
 * counter before following its value's block. */
__attribute__((always_inline)) static inline int read_attempt(void *arg, uint64_t seen)
{
    reader *r = arg;
    found f;
    int rc = look(r->d, r->s, r->k, seen, r->how == TAKE_CELL, &f);
    if (rc != LOOK_FOUND)
        return rc == LOOK_ABSENT ? MP_ENOENT : rc;
    uint64_t word = atomic_load_explicit(&f.c->val, memory_order_acquire);
    const unsigned char *bytes = (const unsigned char *)&word;
    size_t vlen = 8;
    if (f.flags & MP__CELL_VAL_OUT) {
        blob *v = (blob *)(uintptr_t)word;
        if (!still(&f) || !mp__ct_valid(&r->s->retired, seen))
            return LOOK_RETRY;
        vlen = v->len;
        bytes = mp__blob_bytes(v);
        if (!mp__ct_valid(&r->s->retired, seen))
            return LOOK_RETRY;
    }
    r->vlen = vlen;
    switch (r->how) {
    case TAKE_COPY:
        if (vlen > r->cap)
            return still(&f) ? MP_EMSGSIZE : LOOK_RETRY;
        if (vlen > 0)
            memcpy(r->buf, bytes, vlen);
        break;
    case TAKE_ALLOC:
        free(r->buf); /* an earlier try's copy */
        r->buf = malloc(vlen > 0 ? vlen : 1);
        if (r->buf == NULL)
            return MP_ENOMEM;
        if (vlen > 0)
            memcpy(r->buf, bytes, vlen);
        break;
    case TAKE_CELL:
        r->f = f;
        break;
    }
    return still(&f) ? 0 : LOOK_RETRY;
}

__attribute__((always_inline)) static inline int read_key(reader *r)
{
    return mp__ct_read(&r->s->lock, &r->s->retired, read_attempt, reader_repair, r);
}

/* ---- structural writes (under the stripe's lock) --------------------------------- */

/* begin_change and end_change bracket a structural change: the change
 * counter is odd in between, for snapshots. */
static inline void begin_change(stripe *s)
{
    atomic_store_explicit(&s->changes, atomic_load_explicit(&s->changes, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    mp__fence(memory_order_release);
}

static inline void end_change(stripe *s)
{
    mp__ct_bump(&s->changes);
}

/* empty_stripe drops stripe s's table and applies clear generation g:
 * the physical half of a clear. The cells of its keys go back to the
 * free list, those it can lock at once; one locked by a writer (in
 * flight, or stopped) is left to it and leaks. Frees the table and the
 * cells' blocks. */
static void empty_stripe(stripe *s, uint64_t g)
{
    table *t = mp__table_of(atomic_load_explicit(&s->table, memory_order_relaxed));
    begin_change(s);
    atomic_store_explicit(&s->table, 0, memory_order_release);
    atomic_store_explicit(&s->cleared, g, memory_order_release);
    atomic_store_explicit(&s->live, 0, memory_order_relaxed);
    s->used = 0;
    end_change(s);
    mp__ct_retire(&s->retired);
    for (uint64_t i = 0; t != NULL && i <= t->mask; i++) {
        if (atomic_load_explicit(&t->s[i].tag, memory_order_relaxed) <= MP__SLOT_DEAD)
            continue;
        cell *c = atomic_load_explicit(&t->s[i].c, memory_order_relaxed);
        if (!mp__lock_tryacquire(&c->lock))
            continue;
        blob *kb, *vb;
        cell_retire(s, c, &kb, &vb);
        mp_shared_free(kb);
        mp_shared_free(vb);
    }
    free_table(t, false);
}

/* catch_up applies, under the lock, a clear that committed but did not
 * reach stripe s (its clearer died half-way): the stripe already reads as
 * empty, and must be empty before anything is written into it. */
static void catch_up(mp_dict *d, stripe *s)
{
    uint64_t g = atomic_load_explicit(&d->clear_gen, memory_order_acquire);
    if (atomic_load_explicit(&s->cleared, memory_order_relaxed) != g)
        empty_stripe(s, g);
}

/* repair makes stripe s whole after its lock was taken from a dead
 * holder: a clear it missed is applied, the counts are recounted from the
 * table (the dead holder may have committed without counting), the
 * change counter is made even, and readers and snapshots are told that
 * something may have changed. */
static void repair(mp_dict *d, stripe *s)
{
    catch_up(d, s);
    table *t = mp__table_of(atomic_load_explicit(&s->table, memory_order_relaxed));
    uint64_t live = 0, used = 0;
    for (uint64_t i = 0; t != NULL && i <= t->mask; i++) {
        uint64_t tag = atomic_load_explicit(&t->s[i].tag, memory_order_relaxed);
        used += tag != MP__SLOT_EMPTY;
        live += tag > MP__SLOT_DEAD;
    }
    atomic_store_explicit(&s->live, live, memory_order_relaxed);
    s->used = used;
    if (atomic_load_explicit(&s->changes, memory_order_relaxed) & 1)
        end_change(s);
    begin_change(s);
    end_change(s);
    mp__ct_retire(&s->retired);
}

int mp__dict_wlock(mp_dict *d, stripe *s, mp__ct_bound *b)
{
    int rc = mp__ct_lock(&s->lock, b);
    if (rc == MP_ETIMEDOUT)
        return rc;
    if (rc == MP_EOWNERDEAD)
        repair(d, s);
    else
        catch_up(d, s);
    return 0;
}

/* locate finds k in t, under the lock. Returns its slot index, or -1 and
 * *ins = where an insertion goes (the first dead slot of its probe path,
 * else the empty slot that ends it; a table always has one). */
static int64_t locate(table *t, const keyref *k, uint64_t *ins)
{
    bool have_dead = false;
    for (uint64_t i = k->h & t->mask;; i = (i + 1) & t->mask) {
        uint64_t tag = atomic_load_explicit(&t->s[i].tag, memory_order_relaxed);
        if (tag == MP__SLOT_EMPTY) {
            if (!have_dead)
                *ins = i;
            return -1;
        }
        if (tag == MP__SLOT_DEAD) {
            if (!have_dead)
                *ins = i;
            have_dead = true;
            continue;
        }
        if (tag != k->h)
            continue;
        cell *c = atomic_load_explicit(&t->s[i].c, memory_order_relaxed);
        if (c->klen == k->len && same_key(mp__cell_key(c, c->flags), k->p, k->len))
            return (int64_t)i;
    }
}

/* rebuild replaces stripe s's table by one sized for its live keys plus
 * one (at most half full), without the dead slots: filled completely,
 * then published by one store. *old gets the old table, to free (without
 * its cells' blocks, which stay) once the lock is released. Returns 0 or
 * MP_ENOMEM (nothing changed). */
static int rebuild(stripe *s, table **old)
{
    table *t = mp__table_of(atomic_load_explicit(&s->table, memory_order_relaxed));
    uint64_t live = atomic_load_explicit(&s->live, memory_order_relaxed);
    uint64_t cap = TABLE_MIN;
    while (cap < 2 * (live + 1))
        cap <<= 1;
    /* 64-byte aligned, so that the stripe's word has room for the size. */
    void *block;
    table *n = mp__ct_alloc_line(sizeof(table) + cap * sizeof(slot), &block);
    if (n == NULL)
        return MP_ENOMEM;
    n->mask = cap - 1;
    n->block = block;
    unsigned log2cap = 0;
    while ((UINT64_C(1) << log2cap) < cap)
        log2cap++;
    uint64_t moved = 0;
    for (uint64_t i = 0; t != NULL && i <= t->mask; i++) {
        uint64_t tag = atomic_load_explicit(&t->s[i].tag, memory_order_relaxed);
        if (tag <= MP__SLOT_DEAD)
            continue;
        uint64_t j = tag & n->mask;
        while (atomic_load_explicit(&n->s[j].tag, memory_order_relaxed) != MP__SLOT_EMPTY)
            j = (j + 1) & n->mask;
        atomic_init(&n->s[j].c, atomic_load_explicit(&t->s[i].c, memory_order_relaxed));
        atomic_init(&n->s[j].tag, tag);
        moved++;
    }
    atomic_store_explicit(&s->table, (uint64_t)(uintptr_t)n | log2cap,
                          memory_order_release); /* the commit */
    atomic_store_explicit(&s->live, moved, memory_order_relaxed);
    s->used = moved;
    mp__ct_retire(&s->retired);
    *old = t;
    return 0;
}

/* What a structural change leaves to free once the stripe is unlocked
 * (after the retire bump that covers it). */
typedef struct {
    blob *key; /* a key block not used after all */
    blob *val; /* an old value block, or one not used after all */
    table *t;  /* a table replaced by a rebuild */
} leftovers;

/* put_value makes a same-kind change to cell c, whose lock the caller
 * holds: in place, and an old value block to free. */
static void put_value(stripe *s, cell *c, change *ch, leftovers *lo)
{
    uint64_t old = cell_store(c, change_word, ch);
    if (ch->v != NULL) {
        ch->v = NULL; /* published */
        mp__ct_retire(&s->retired);
        lo->val = (blob *)(uintptr_t)old;
    }
}

/* apply makes change ch to key k in stripe s, whose lock the caller
 * holds; *kb is the key's block for a long key (made before the lock),
 * taken when a new cell uses it. Returns 0, MP_EVALUE (add to a value
 * that is not 8 bytes), MP_ENOMEM (no room for a table or a cell) or
 * MP_ETIMEDOUT (the key's cell stayed locked); nothing changed unless 0. */
static int apply(mp_dict *d, stripe *s, const keyref *k, change *ch, blob **kb, leftovers *lo,
                 mp__ct_bound *b)
{
    table *t = mp__table_of(atomic_load_explicit(&s->table, memory_order_relaxed));
    uint64_t at = 0;
    int64_t i = t != NULL ? locate(t, k, &at) : -1;
    cell *c = i >= 0 ? atomic_load_explicit(&t->s[i].c, memory_order_relaxed) : NULL;
    int rc;
    if (c != NULL && ch->add && (c->flags & MP__CELL_VAL_OUT))
        return MP_EVALUE;
    /* Under the stripe's lock, a published cell is bound. */
    if (c != NULL && (rc = mp__cell_lock(c, b)) == MP_ETIMEDOUT)
        return rc;
    if (c != NULL && change_fits(ch, c->flags)) {
        put_value(s, c, ch, lo);
        mp__ct_unlock(&c->lock);
        return 0;
    }
    /* A new cell: a new key, or a value changing kind. */
    if (c == NULL && (t == NULL || (atomic_load_explicit(&t->s[at].tag, memory_order_relaxed) ==
                                        MP__SLOT_EMPTY &&
                                    (s->used + 1) * LOAD_DEN > (t->mask + 1) * LOAD_NUM))) {
        if ((rc = rebuild(s, &lo->t)) != 0)
            return rc;
        t = mp__table_of(atomic_load_explicit(&s->table, memory_order_relaxed));
        (void)locate(t, k, &at);
    }
    cell *n = cell_take(s);
    if (n == NULL) {
        if (c != NULL)
            mp__ct_unlock(&c->lock);
        return MP_ENOMEM;
    }
    blob *key = NULL;
    if (k->len > MP__KEY_INLINE)
        key = c != NULL ? c->key.out : *kb; /* an old cell hands its key on */
    if (key == *kb)
        *kb = NULL;
    uint64_t x = change_word(0, ch);
    uint64_t seq =
        c != NULL ? c->seq : atomic_fetch_add_explicit(&d->next_seq, 1, memory_order_relaxed);
    cell_bind(n, k, key, ch->v != NULL ? 0 : x, ch->v, seq);
    ch->v = NULL; /* published with n */
    begin_change(s);
    if (c != NULL) {
        atomic_store_explicit(&t->s[i].c, n, memory_order_release); /* the commit */
    } else {
        bool was_empty =
            atomic_load_explicit(&t->s[at].tag, memory_order_relaxed) == MP__SLOT_EMPTY;
        atomic_store_explicit(&t->s[at].c, n, memory_order_relaxed);
        atomic_store_explicit(&t->s[at].tag, k->h, memory_order_release); /* the commit */
        atomic_store_explicit(&s->live, atomic_load_explicit(&s->live, memory_order_relaxed) + 1,
                              memory_order_relaxed);
        s->used += was_empty;
    }
    end_change(s);
    if (c != NULL) {
        blob *handed_on; /* the key block, now n's */
        cell_retire(s, c, &handed_on, &lo->val);
        mp__ct_retire(&s->retired);
    }
    return 0;
}

/* still_published tells, for a writer that took cell c's lock from a dead
 * holder, whether c is still the published cell of key k (a structural
 * writer killed between its commit and the unbinding leaves it bound to a
 * key no slot leads to it for). */
static bool still_published(mp_dict *d, stripe *s, const keyref *k, const found *f)
{
    reader r = {d, s, k, TAKE_CELL, NULL, 0, 0, {NULL, 0, 0}};
    return read_key(&r) == 0 && r.f.c == f->c && r.f.gen == f->gen;
}

/* Returned by in_place when the change needs the stripe's lock: the key
 * is missing, or its value changes kind. */
#define NEED_STRIPE 1

/* in_place makes a change that keeps the value's kind to the key's cell,
 * found without a lock, taking only the cell's lock. Returns 0, MP_EVALUE
 * (add to a value that is not 8 bytes), MP_ETIMEDOUT (the cell stayed
 * locked), or NEED_STRIPE. *lo gets an old value block to free. */
static int in_place(mp_dict *d, stripe *s, const keyref *k, change *ch, mp__ct_bound *b,
                    leftovers *lo)
{
    for (;;) {
        reader r = {d, s, k, TAKE_CELL, NULL, 0, 0, {NULL, 0, 0}};
        if (read_key(&r) == MP_ENOENT)
            return NEED_STRIPE;
        if (ch->add && (r.f.flags & MP__CELL_VAL_OUT))
            return MP_EVALUE;
        if (!change_fits(ch, r.f.flags))
            return NEED_STRIPE;
        int rc = mp__cell_lock(r.f.c, b);
        if (rc == MP_ETIMEDOUT)
            return rc;
        bool mine = atomic_load_explicit(&r.f.c->gen, memory_order_acquire) == r.f.gen;
        if (mine && rc == MP_EOWNERDEAD && !still_published(d, s, k, &r.f)) {
            cell_unbind(r.f.c); /* an orphan: leaks, and nobody trusts it again */
            mine = false;
        }
        if (mine)
            put_value(s, r.f.c, ch, lo);
        mp__ct_unlock(&r.f.c->lock);
        if (mine)
            return 0;
        /* The cell left the key meanwhile: look again. */
    }
}

/* upsert makes change ch to key k within timeout: in place when the key
 * is there and its value keeps its kind, else under the stripe's lock
 * with the blocks it needs made before it. */
static int upsert(mp_dict *d, const keyref *k, change *ch, double timeout)
{
    stripe *s = stripe_of(d, k->h);
    mp__ct_bound b = mp__ct_bound_of(timeout);
    leftovers lo = {NULL, NULL, NULL};
    blob *kb = NULL;
    int rc;
    if (!ch->add && ch->vlen != 8 && (ch->v = mp__blob_new(ch->val, ch->vlen)) == NULL)
        return MP_ENOMEM;
    rc = in_place(d, s, k, ch, &b, &lo);
    if (rc != NEED_STRIPE)
        goto out_free;
    if (k->len > MP__KEY_INLINE && (kb = mp__blob_new(k->p, k->len)) == NULL) {
        rc = MP_ENOMEM;
        goto out_free;
    }
    if ((rc = mp__dict_wlock(d, s, &b)) != 0)
        goto out_free;
    rc = apply(d, s, k, ch, &kb, &lo, &b);
    mp__ct_unlock(&s->lock);
out_free:
    /* Mostly nothing is left: the tests keep a call off the common path. */
    if (ch->v != NULL) /* not published after all */
        mp_shared_free(ch->v);
    if (kb != NULL)
        mp_shared_free(kb);
    if (lo.val != NULL)
        mp_shared_free(lo.val);
    if (lo.t != NULL)
        free_table(lo.t, false);
    return rc;
}

/* ---- the API ------------------------------------------------------------------ */

/* make_seed gives each dict its own hash seed, so that no fixed set of
 * keys collides in every dict. Not secret: it only needs to differ. */
static uint64_t make_seed(const void *where)
{
    static _Atomic uint64_t made;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    x = fold(x ^ H0, (uint64_t)mp__pid() ^ H1);
    return fold(x ^ (uint64_t)(uintptr_t)where,
                atomic_fetch_add_explicit(&made, 1, memory_order_relaxed) ^ H2);
}

MP_EXTERN mp_dict *mp_dict_new(void)
{
    void *block;
    mp_dict *d = mp__ct_alloc_line(sizeof(mp_dict), &block);
    if (d == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    d->block = block;
    d->seed = make_seed(d);
    for (unsigned i = 0; i < MP__DICT_STRIPES; i++)
        mp__lock_init(&d->st[i].lock);
    d->magic = MP__DICT_MAGIC;
    return d;
}

MP_EXTERN void mp_dict_free(mp_dict *d)
{
    if (!mp__dict_valid(d))
        return;
    for (unsigned i = 0; i < MP__DICT_STRIPES; i++) {
        stripe *s = &d->st[i];
        free_table(mp__table_of(atomic_load_explicit(&s->table, memory_order_relaxed)), true);
        for (mp__chunk *ch = s->chunks, *next; ch != NULL; ch = next) {
            next = ch->next;
            mp_shared_free(ch->block);
        }
    }
    d->magic = 0;
    mp_shared_free(d->block);
}

MP_EXTERN int mp_dict_set_timed(mp_dict *d, const void *key, size_t klen, const void *val,
                                size_t vlen, double timeout)
{
    if (!mp__dict_valid(d) || (key == NULL && klen > 0) || (val == NULL && vlen > 0) ||
        isnan(timeout))
        return MP_EINVAL;
    keyref k = key_of(d, key, klen);
    change ch = {.add = false, .val = val, .vlen = vlen};
    return upsert(d, &k, &ch, timeout);
}

MP_EXTERN int mp_dict_set(mp_dict *d, const void *key, size_t klen, const void *val, size_t vlen)
{
    return mp_dict_set_timed(d, key, klen, val, vlen, MP_DICT_TIMEOUT);
}

MP_EXTERN int mp_dict_add_i64_timed(mp_dict *d, const void *key, size_t klen, int64_t delta,
                                    int64_t *result, double timeout)
{
    if (!mp__dict_valid(d) || (key == NULL && klen > 0) || isnan(timeout))
        return MP_EINVAL;
    keyref k = key_of(d, key, klen);
    change ch = {.add = true, .delta = (uint64_t)delta};
    int rc = upsert(d, &k, &ch, timeout);
    if (rc == 0 && result != NULL)
        memcpy(result, &ch.result, 8); /* the two's complement bits, without overflow */
    return rc;
}

MP_EXTERN int mp_dict_add_i64(mp_dict *d, const void *key, size_t klen, int64_t delta,
                              int64_t *result)
{
    return mp_dict_add_i64_timed(d, key, klen, delta, result, MP_DICT_TIMEOUT);
}

MP_EXTERN int mp_dict_get(mp_dict *d, const void *key, size_t klen, void *buf, size_t cap,
                          size_t *vlen)
{
    if (!mp__dict_valid(d) || vlen == NULL || (key == NULL && klen > 0) || (buf == NULL && cap > 0))
        return MP_EINVAL;
    keyref k = key_of(d, key, klen);
    reader r = {d, stripe_of(d, k.h), &k, TAKE_COPY, buf, cap, 0, {NULL, 0, 0}};
    int rc = read_key(&r);
    if (rc == 0 || rc == MP_EMSGSIZE)
        *vlen = r.vlen;
    return rc;
}

MP_EXTERN int mp_dict_get_alloc(mp_dict *d, const void *key, size_t klen, void **val, size_t *vlen)
{
    if (!mp__dict_valid(d) || val == NULL || vlen == NULL || (key == NULL && klen > 0))
        return MP_EINVAL;
    keyref k = key_of(d, key, klen);
    reader r = {d, stripe_of(d, k.h), &k, TAKE_ALLOC, NULL, 0, 0, {NULL, 0, 0}};
    int rc = read_key(&r);
    if (rc != 0) {
        free(r.buf); /* a failed try's copy */
        return rc;
    }
    *val = r.buf;
    *vlen = r.vlen;
    return 0;
}

MP_EXTERN bool mp_dict_contains(mp_dict *d, const void *key, size_t klen)
{
    if (!mp__dict_valid(d) || (key == NULL && klen > 0))
        return false;
    keyref k = key_of(d, key, klen);
    reader r = {d, stripe_of(d, k.h), &k, TAKE_NOTHING, NULL, 0, 0, {NULL, 0, 0}};
    return read_key(&r) == 0;
}

MP_EXTERN int mp_dict_del_timed(mp_dict *d, const void *key, size_t klen, double timeout)
{
    if (!mp__dict_valid(d) || (key == NULL && klen > 0) || isnan(timeout))
        return MP_EINVAL;
    keyref k = key_of(d, key, klen);
    stripe *s = stripe_of(d, k.h);
    mp__ct_bound b = mp__ct_bound_of(timeout);
    int rc = mp__dict_wlock(d, s, &b);
    if (rc != 0)
        return rc;
    table *t = mp__table_of(atomic_load_explicit(&s->table, memory_order_relaxed));
    uint64_t at;
    int64_t i = t != NULL ? locate(t, &k, &at) : -1;
    cell *c = i >= 0 ? atomic_load_explicit(&t->s[i].c, memory_order_relaxed) : NULL;
    rc = c == NULL ? MP_ENOENT : mp__cell_lock(c, &b);
    if (rc == MP_ENOENT || rc == MP_ETIMEDOUT) {
        mp__ct_unlock(&s->lock);
        return rc;
    }
    begin_change(s);
    atomic_store_explicit(&t->s[i].tag, MP__SLOT_DEAD, memory_order_release); /* the commit */
    atomic_store_explicit(&s->live, atomic_load_explicit(&s->live, memory_order_relaxed) - 1,
                          memory_order_relaxed);
    end_change(s);
    blob *kb, *vb;
    cell_retire(s, c, &kb, &vb);
    mp__ct_retire(&s->retired);
    mp__ct_unlock(&s->lock);
    mp_shared_free(kb);
    mp_shared_free(vb);
    return 0;
}

MP_EXTERN int mp_dict_del(mp_dict *d, const void *key, size_t klen)
{
    return mp_dict_del_timed(d, key, klen, MP_DICT_TIMEOUT);
}

MP_EXTERN size_t mp_dict_len(mp_dict *d)
{
    if (!mp__dict_valid(d))
        return 0;
    size_t n = 0;
    for (unsigned i = 0; i < MP__DICT_STRIPES; i++)
        if (!mp__is_cleared(d, &d->st[i]))
            n += atomic_load_explicit(&d->st[i].live, memory_order_relaxed);
    return n;
}

MP_EXTERN int mp_dict_clear_timed(mp_dict *d, double timeout)
{
    if (!mp__dict_valid(d) || isnan(timeout))
        return MP_EINVAL;
    mp__ct_bound b = mp__ct_bound_of(timeout);
    unsigned held;
    int rc = 0;
    /* In stripe order, as every holder of several stripes takes them. */
    for (held = 0; held < MP__DICT_STRIPES; held++)
        if ((rc = mp__dict_wlock(d, &d->st[held], &b)) != 0)
            break;
    if (rc != 0) {
        while (held-- > 0)
            mp__ct_unlock(&d->st[held].lock);
        return rc;
    }
    uint64_t g = atomic_load_explicit(&d->clear_gen, memory_order_relaxed) + 1;
    atomic_store_explicit(&d->clear_gen, g, memory_order_release); /* the commit */
    for (unsigned i = 0; i < MP__DICT_STRIPES; i++) {
        empty_stripe(&d->st[i], g);
        mp__ct_unlock(&d->st[i].lock);
    }
    return 0;
}

MP_EXTERN int mp_dict_clear(mp_dict *d)
{
    return mp_dict_clear_timed(d, MP_DICT_TIMEOUT);
}

MP_EXTERN int mp_dict_set_str(mp_dict *d, const char *key, const char *val)
{
    if (key == NULL || val == NULL)
        return MP_EINVAL;
    return mp_dict_set(d, key, strlen(key), val, strlen(val));
}

MP_EXTERN int mp_dict_get_str(mp_dict *d, const char *key, char **val)
{
    if (key == NULL || val == NULL)
        return MP_EINVAL;
    void *v;
    size_t n;
    int rc = mp_dict_get_alloc(d, key, strlen(key), &v, &n);
    if (rc != 0)
        return rc;
    char *s = realloc(v, n + 1);
    if (s == NULL) {
        free(v);
        return MP_ENOMEM;
    }
    s[n] = '\0';
    *val = s;
    return 0;
}
