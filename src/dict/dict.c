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
typedef mp__entry entry;
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
 * byte counts whatever the length. */
static inline uint64_t hash_key(uint64_t seed, const unsigned char *p, size_t n)
{
    uint64_t h = seed ^ fold((uint64_t)n ^ H0, H1);
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
    h = fold(a ^ H1 ^ h, b ^ H2);
    h ^= h >> 32;
    h *= H0;
    return h ^ (h >> 29);
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

/* ---- entries, cells, tables ------------------------------------------------- */

/* entry_new copies a key and its value into a new entry; an 8-byte value
 * goes into a cell later, when the entry is bound (seq is unset too).
 * NULL when the heap cannot hold it or the sizes overflow. */
static entry *entry_new(const keyref *k, const void *val, size_t vlen)
{
    size_t vin = vlen == 8 ? 0 : vlen;
    if (k->len > SIZE_MAX - sizeof(entry) - vin)
        return NULL;
    entry *e = mp_shared_malloc(sizeof(entry) + k->len + vin);
    if (e == NULL)
        return NULL;
    e->seq = 0;
    e->klen = k->len;
    e->vlen = vlen;
    e->c = NULL;
    e->cgen = 0;
    if (k->len > 0)
        memcpy(mp__entry_key(e), k->p, k->len);
    if (vin > 0)
        memcpy(mp__entry_key(e) + k->len, val, vin);
    return e;
}

/* cell_take gives stripe s an unbound cell, from its free list or from a
 * new chunk; NULL when the heap is full. Under the stripe's lock. */
static cell *cell_take(stripe *s)
{
    cell *c = s->free_cells;
    if (c == NULL) {
        void *block = mp_shared_malloc(sizeof(mp__chunk) + 48);
        if (block == NULL)
            return NULL;
        mp__chunk *ch = (mp__chunk *)(((uintptr_t)block + 63) & ~(uintptr_t)63);
        memset(ch, 0, sizeof *ch);
        ch->block = block;
        for (unsigned i = 0; i < MP__CHUNK_CELLS; i++) {
            mp__lock_init(&ch->cells[i].lock);
            ch->cells[i].next = i + 1 < MP__CHUNK_CELLS ? &ch->cells[i + 1] : NULL;
        }
        ch->next = s->chunks;
        s->chunks = ch; /* kept, whatever happens next */
        c = &ch->cells[0];
    }
    s->free_cells = c->next;
    return c;
}

/* cell_bind makes c (unbound, off the free list) hold e's value v. */
static void cell_bind(cell *c, entry *e, uint64_t v)
{
    atomic_store_explicit(&c->v8, v, memory_order_relaxed);
    uint64_t g = atomic_load_explicit(&c->gen, memory_order_relaxed) + 1;
    atomic_store_explicit(&c->gen, g, memory_order_release);
    e->c = c;
    e->cgen = g;
}

/* cell_unbind takes c from its key, under c's lock and the stripe's: a
 * writer that finds the cell through an old pointer sees the generation
 * move on. The caller unlocks it, then may give it to cell_free. */
static void cell_unbind(cell *c)
{
    atomic_store_explicit(&c->gen, atomic_load_explicit(&c->gen, memory_order_relaxed) + 1,
                          memory_order_release);
}

/* cell_free puts an unbound, unlocked cell on stripe s's free list. */
static void cell_free(stripe *s, cell *c)
{
    c->next = s->free_cells;
    s->free_cells = c;
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

/* A change to one key: set a value, or add to a counter. */
typedef struct {
    bool add;        /* add delta (else set val) */
    const void *val; /* set: the value */
    size_t vlen;     /* set: its length */
    uint64_t delta;  /* add: the addend, as unsigned so that it wraps */
    uint64_t result; /* add: the new value */
} change;

/* The 8 bytes a change puts in a new cell. */
static uint64_t change_bytes(const change *ch)
{
    uint64_t x = ch->delta;
    if (!ch->add)
        memcpy(&x, ch->val, 8);
    return x;
}

/* cell_write makes an 8-byte change in place, c's lock held: the version
 * is odd while the value changes, for snapshots. */
static void cell_write(cell *c, change *ch)
{
    uint64_t v = atomic_load_explicit(&c->ver, memory_order_relaxed);
    atomic_store_explicit(&c->ver, v + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    uint64_t x;
    if (ch->add) {
        x = atomic_load_explicit(&c->v8, memory_order_relaxed) + ch->delta;
        ch->result = x;
    } else {
        memcpy(&x, ch->val, 8);
    }
    atomic_store_explicit(&c->v8, x, memory_order_release); /* the commit */
    atomic_store_explicit(&c->ver, v + 2, memory_order_release);
}

/* free_table frees a table no longer reachable, with the entries of its
 * live slots when they are in no other table (with_entries). Their cells
 * stay with the dict. */
static void free_table(table *t, bool with_entries)
{
    if (t == NULL)
        return;
    if (with_entries)
        for (uint64_t i = 0; i <= t->mask; i++)
            if (atomic_load_explicit(&t->s[i].tag, memory_order_relaxed) > MP__SLOT_DEAD)
                mp_shared_free(atomic_load_explicit(&t->s[i].e, memory_order_relaxed));
    mp_shared_free(t);
}

/* ---- reading without the lock ------------------------------------------------- */

enum { LOOK_ABSENT = 0, LOOK_RETRY = MP__CT_RETRY, LOOK_FOUND = 2 };

/* look finds key k in stripe s without the lock, every pointer and length
 * validated before it is followed. Returns LOOK_FOUND (*out = the entry),
 * LOOK_ABSENT or LOOK_RETRY; either of the first two holds only if the
 * caller's final mp__ct_valid does. Under the lock it is exact. */
static inline int look(const mp_dict *d, stripe *s, const keyref *k, uint64_t seen, entry **out)
{
    if (mp__is_cleared(d, s))
        return LOOK_ABSENT;
    table *t = atomic_load_explicit(&s->table, memory_order_acquire);
    if (t == NULL)
        return LOOK_ABSENT;
    uint64_t mask = t->mask;
    if (!mp__ct_valid(&s->retired, seen))
        return LOOK_RETRY;
    for (uint64_t i = k->h & mask, n = 0; n <= mask; i = (i + 1) & mask, n++) {
        uint64_t tag = atomic_load_explicit(&t->s[i].tag, memory_order_acquire);
        if (tag == MP__SLOT_EMPTY)
            return LOOK_ABSENT;
        if (tag != k->h)
            continue;
        entry *e = atomic_load_explicit(&t->s[i].e, memory_order_acquire);
        if (!mp__ct_valid(&s->retired, seen))
            return LOOK_RETRY;
        uint64_t klen = e->klen;
        if (!mp__ct_valid(&s->retired, seen))
            return LOOK_RETRY;
        if (klen != k->len || !same_key(mp__entry_key(e), k->p, klen))
            continue;
        *out = e;
        return LOOK_FOUND;
    }
    return LOOK_ABSENT;
}

/* What a read does with the entry it found: copy the value into a buffer
 * or a malloc'd block, nothing (contains), or note where it lives (the
 * first step of an in-place write). */
enum { TAKE_NOTHING, TAKE_COPY, TAKE_ALLOC, TAKE_CELL };

typedef struct {
    mp_dict *d;
    stripe *s;
    const keyref *k;
    int how;       /* TAKE_* */
    void *buf;     /* TAKE_COPY: the caller's buffer; TAKE_ALLOC: the copy */
    size_t cap;    /* TAKE_COPY: its size */
    size_t vlen;   /* the value's length */
    cell *c;       /* TAKE_CELL: the value's cell, NULL if it has none */
    uint64_t cgen; /* TAKE_CELL: the cell's generation while it is the key's */
} reader;

static void repair(mp_dict *d, stripe *s);

static void reader_repair(void *arg)
{
    reader *r = arg;
    repair(r->d, r->s);
}

static inline void copy_val(void *dst, entry *e, cell *c, size_t klen, uint64_t vlen)
{
    if (c != NULL) {
        uint64_t x = atomic_load_explicit(&c->v8, memory_order_acquire);
        memcpy(dst, &x, 8);
    } else if (vlen > 0) {
        memcpy(dst, mp__entry_key(e) + klen, vlen);
    }
}

/* read_attempt is one try of a read (mp__ct_read): find the key, then
 * take what r->how says. A cell, once validated, can be read at any
 * time: cells are never freed while the dict lives. */
static inline int read_attempt(void *arg, uint64_t seen)
{
    reader *r = arg;
    entry *e;
    int rc = look(r->d, r->s, r->k, seen, &e);
    if (rc != LOOK_FOUND)
        return rc == LOOK_ABSENT ? MP_ENOENT : rc;
    uint64_t vlen = e->vlen;
    cell *c = e->c;
    uint64_t cgen = e->cgen;
    if (!mp__ct_valid(&r->s->retired, seen))
        return LOOK_RETRY;
    r->vlen = vlen;
    switch (r->how) {
    case TAKE_COPY:
        if (vlen > r->cap)
            return MP_EMSGSIZE;
        copy_val(r->buf, e, c, r->k->len, vlen);
        break;
    case TAKE_ALLOC:
        free(r->buf); /* an earlier try's copy */
        r->buf = malloc(vlen > 0 ? vlen : 1);
        if (r->buf == NULL)
            return MP_ENOMEM;
        copy_val(r->buf, e, c, r->k->len, vlen);
        break;
    case TAKE_CELL:
        r->c = c;
        r->cgen = cgen;
        break;
    }
    return 0;
}

static inline int read_key(reader *r)
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
    atomic_thread_fence(memory_order_release);
}

static inline void end_change(stripe *s)
{
    mp__ct_bump(&s->changes);
}

/* empty_stripe drops stripe s's table and applies clear generation g:
 * the physical half of a clear. The cells of its keys go back to the
 * free list, those it can lock at once; one locked by a writer (in
 * flight, or stopped) is left to it and leaks. Returns the table to free
 * with its entries. */
static table *empty_stripe(stripe *s, uint64_t g)
{
    table *t = atomic_load_explicit(&s->table, memory_order_relaxed);
    begin_change(s);
    atomic_store_explicit(&s->table, NULL, memory_order_release);
    atomic_store_explicit(&s->cleared, g, memory_order_release);
    atomic_store_explicit(&s->live, 0, memory_order_relaxed);
    s->used = 0;
    end_change(s);
    for (uint64_t i = 0; t != NULL && i <= t->mask; i++) {
        if (atomic_load_explicit(&t->s[i].tag, memory_order_relaxed) <= MP__SLOT_DEAD)
            continue;
        entry *e = atomic_load_explicit(&t->s[i].e, memory_order_relaxed);
        if (e->c == NULL || !mp__lock_tryacquire(&e->c->lock))
            continue;
        bool bound = atomic_load_explicit(&e->c->gen, memory_order_relaxed) == e->cgen;
        if (bound)
            cell_unbind(e->c);
        mp__ct_unlock(&e->c->lock);
        if (bound)
            cell_free(s, e->c);
    }
    mp__ct_retire(&s->retired);
    return t;
}

/* catch_up applies, under the lock, a clear that committed but did not
 * reach stripe s (its clearer died half-way): the stripe already reads as
 * empty, and must be empty before anything is written into it. */
static void catch_up(mp_dict *d, stripe *s)
{
    uint64_t g = atomic_load_explicit(&d->clear_gen, memory_order_acquire);
    if (atomic_load_explicit(&s->cleared, memory_order_relaxed) != g)
        free_table(empty_stripe(s, g), true);
}

/* repair makes stripe s whole after its lock was taken from a dead
 * holder: a clear it missed is applied, the counts are recounted from the
 * table (the dead holder may have committed without counting), the
 * change counter is made even, and readers and snapshots are told that
 * something may have changed. */
static void repair(mp_dict *d, stripe *s)
{
    catch_up(d, s);
    table *t = atomic_load_explicit(&s->table, memory_order_relaxed);
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
        entry *e = atomic_load_explicit(&t->s[i].e, memory_order_relaxed);
        if (e->klen == k->len && same_key(mp__entry_key(e), k->p, k->len))
            return (int64_t)i;
    }
}

/* rebuild replaces stripe s's table by one sized for its live keys plus
 * one (at most half full), without the dead slots: filled completely,
 * then published by one store. *old gets the old table, to free (without
 * its entries, which moved) once the lock is released. Returns 0 or
 * MP_ENOMEM (nothing changed). */
static int rebuild(stripe *s, table **old)
{
    table *t = atomic_load_explicit(&s->table, memory_order_relaxed);
    uint64_t live = atomic_load_explicit(&s->live, memory_order_relaxed);
    uint64_t cap = TABLE_MIN;
    while (cap < 2 * (live + 1))
        cap <<= 1;
    table *n = mp_shared_calloc(1, sizeof(table) + cap * sizeof(slot));
    if (n == NULL)
        return MP_ENOMEM;
    n->mask = cap - 1;
    uint64_t moved = 0;
    for (uint64_t i = 0; t != NULL && i <= t->mask; i++) {
        uint64_t tag = atomic_load_explicit(&t->s[i].tag, memory_order_relaxed);
        if (tag <= MP__SLOT_DEAD)
            continue;
        uint64_t j = tag & n->mask;
        while (atomic_load_explicit(&n->s[j].tag, memory_order_relaxed) != MP__SLOT_EMPTY)
            j = (j + 1) & n->mask;
        atomic_init(&n->s[j].e, atomic_load_explicit(&t->s[i].e, memory_order_relaxed));
        atomic_init(&n->s[j].tag, tag);
        moved++;
    }
    atomic_store_explicit(&s->table, n, memory_order_release); /* the commit */
    atomic_store_explicit(&s->live, moved, memory_order_relaxed);
    s->used = moved;
    mp__ct_retire(&s->retired);
    *old = t;
    return 0;
}

/* Returned by apply and in_place when the change needs what they were
 * not given: a new entry, or the stripe's lock. */
#define NEED_ENTRY  1
#define NEED_STRIPE 2

/* apply makes change ch to key k in stripe s, whose lock the caller
 * holds. *fresh is a new entry for k holding the value to set (or, for 8
 * bytes, nothing yet), or NULL on a first try that needs none; apply sets
 * *fresh to NULL when it publishes it. What the change unpublished goes
 * to *drop_e and *drop_t, for the caller to free after unlocking.
 * Returns 0, NEED_ENTRY, MP_EVALUE (add on a value of another size),
 * MP_ENOMEM (no room for a table or a cell) or MP_ETIMEDOUT (the key's
 * cell stayed locked); nothing changed unless 0. */
static int apply(mp_dict *d, stripe *s, const keyref *k, change *ch, entry **fresh, entry **drop_e,
                 table **drop_t, mp__ct_bound *b)
{
    table *t = atomic_load_explicit(&s->table, memory_order_relaxed);
    uint64_t at = 0;
    int64_t i = t != NULL ? locate(t, k, &at) : -1;
    entry *e = i >= 0 ? atomic_load_explicit(&t->s[i].e, memory_order_relaxed) : NULL;
    int rc;
    if (e != NULL && e->c != NULL && (ch->add || ch->vlen == 8)) {
        /* Under the stripe's lock a published entry's cell is bound. */
        if ((rc = mp__cell_lock(e->c, b)) == MP_ETIMEDOUT)
            return rc;
        cell_write(e->c, ch);
        mp__ct_unlock(&e->c->lock);
        return 0;
    }
    if (e != NULL && ch->add)
        return MP_EVALUE;
    if (*fresh == NULL)
        return NEED_ENTRY;
    entry *n = *fresh;
    if (e == NULL && (t == NULL || (atomic_load_explicit(&t->s[at].tag, memory_order_relaxed) ==
                                        MP__SLOT_EMPTY &&
                                    (s->used + 1) * LOAD_DEN > (t->mask + 1) * LOAD_NUM))) {
        if ((rc = rebuild(s, drop_t)) != 0)
            return rc;
        t = atomic_load_explicit(&s->table, memory_order_relaxed);
        (void)locate(t, k, &at);
    }
    if (n->vlen == 8) {
        cell *c = cell_take(s);
        if (c == NULL)
            return MP_ENOMEM;
        cell_bind(c, n, change_bytes(ch));
    } else if (e != NULL && e->c != NULL && (rc = mp__cell_lock(e->c, b)) == MP_ETIMEDOUT) {
        return rc; /* the old value's cell, unbound below */
    }
    if (ch->add)
        ch->result = ch->delta;
    begin_change(s);
    if (e != NULL) {
        n->seq = e->seq; /* a key keeps its place in the order */
        atomic_store_explicit(&t->s[i].e, n, memory_order_release); /* the commit */
    } else {
        n->seq = atomic_fetch_add_explicit(&d->next_seq, 1, memory_order_relaxed);
        bool was_empty =
            atomic_load_explicit(&t->s[at].tag, memory_order_relaxed) == MP__SLOT_EMPTY;
        atomic_store_explicit(&t->s[at].e, n, memory_order_relaxed);
        atomic_store_explicit(&t->s[at].tag, k->h, memory_order_release); /* the commit */
        atomic_store_explicit(&s->live, atomic_load_explicit(&s->live, memory_order_relaxed) + 1,
                              memory_order_relaxed);
        s->used += was_empty;
    }
    end_change(s);
    *fresh = NULL;
    if (e != NULL) {
        if (e->c != NULL) {
            cell_unbind(e->c);
            mp__ct_unlock(&e->c->lock);
            cell_free(s, e->c);
        }
        mp__ct_retire(&s->retired);
        *drop_e = e;
    }
    return 0;
}

/* still_bound tells, for a writer that took cell c's lock from a dead
 * holder, whether c is still the value of a published entry of key k
 * (a structural writer killed between its commit and the unbinding
 * leaves it bound to an entry nobody can reach). */
static bool still_bound(mp_dict *d, stripe *s, const keyref *k, cell *c, uint64_t cgen)
{
    reader r = {d, s, k, TAKE_CELL, NULL, 0, 0, NULL, 0};
    return read_key(&r) == 0 && r.c == c && r.cgen == cgen;
}

/* in_place makes an 8-byte change (set or add) to the key's cell, found
 * without a lock, taking only the cell's lock. Returns 0, MP_EVALUE (add
 * to a value of another size), MP_ETIMEDOUT (the cell stayed locked), or
 * NEED_STRIPE (no such key, or a set that changes the value's size). */
static int in_place(mp_dict *d, stripe *s, const keyref *k, change *ch, mp__ct_bound *b)
{
    for (;;) {
        reader r = {d, s, k, TAKE_CELL, NULL, 0, 0, NULL, 0};
        if (read_key(&r) == MP_ENOENT)
            return NEED_STRIPE;
        if (r.c == NULL)
            return ch->add ? MP_EVALUE : NEED_STRIPE;
        int rc = mp__cell_lock(r.c, b);
        if (rc == MP_ETIMEDOUT)
            return rc;
        bool mine = atomic_load_explicit(&r.c->gen, memory_order_acquire) == r.cgen;
        if (mine && rc == MP_EOWNERDEAD && !still_bound(d, s, k, r.c, r.cgen)) {
            cell_unbind(r.c); /* an orphan: leaks, and nobody trusts it again */
            mine = false;
        }
        if (mine)
            cell_write(r.c, ch);
        mp__ct_unlock(&r.c->lock);
        if (mine)
            return 0;
        /* The cell left the key meanwhile: look again. */
    }
}

/* upsert makes change ch to key k within timeout: in place when the key
 * holds 8 bytes and stays so, else under the stripe's lock with a new
 * entry built before it. */
static int upsert(mp_dict *d, const keyref *k, change *ch, double timeout)
{
    stripe *s = stripe_of(d, k->h);
    mp__ct_bound b = mp__ct_bound_of(timeout);
    entry *fresh = NULL, *drop_e = NULL;
    table *drop_t = NULL;
    int rc;
    if (ch->add || ch->vlen == 8) {
        rc = in_place(d, s, k, ch, &b);
        if (rc != NEED_STRIPE)
            return rc;
    }
    fresh = ch->add ? entry_new(k, NULL, 8) : entry_new(k, ch->val, ch->vlen);
    if (fresh == NULL)
        return MP_ENOMEM;
    if ((rc = mp__dict_wlock(d, s, &b)) != 0) {
        mp_shared_free(fresh);
        return rc;
    }
    rc = apply(d, s, k, ch, &fresh, &drop_e, &drop_t, &b);
    mp__ct_unlock(&s->lock);
    mp_shared_free(fresh); /* NULL once published */
    mp_shared_free(drop_e);
    free_table(drop_t, false);
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
    /* The heap aligns to 16 bytes; the stripes want 64. */
    void *block = mp_shared_malloc(sizeof(mp_dict) + 48);
    if (block == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    mp_dict *d = (mp_dict *)(((uintptr_t)block + 63) & ~(uintptr_t)63);
    memset(d, 0, sizeof *d);
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
        free_table(atomic_load_explicit(&s->table, memory_order_relaxed), true);
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
    reader r = {d, stripe_of(d, k.h), &k, TAKE_COPY, buf, cap, 0, NULL, 0};
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
    reader r = {d, stripe_of(d, k.h), &k, TAKE_ALLOC, NULL, 0, 0, NULL, 0};
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
    reader r = {d, stripe_of(d, k.h), &k, TAKE_NOTHING, NULL, 0, 0, NULL, 0};
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
    table *t = atomic_load_explicit(&s->table, memory_order_relaxed);
    uint64_t at;
    int64_t i = t != NULL ? locate(t, &k, &at) : -1;
    entry *e = i >= 0 ? atomic_load_explicit(&t->s[i].e, memory_order_relaxed) : NULL;
    rc = e == NULL ? MP_ENOENT : e->c != NULL ? mp__cell_lock(e->c, &b) : 0;
    if (rc == MP_ENOENT || rc == MP_ETIMEDOUT) {
        mp__ct_unlock(&s->lock);
        return rc;
    }
    begin_change(s);
    atomic_store_explicit(&t->s[i].tag, MP__SLOT_DEAD, memory_order_release); /* the commit */
    atomic_store_explicit(&s->live, atomic_load_explicit(&s->live, memory_order_relaxed) - 1,
                          memory_order_relaxed);
    end_change(s);
    if (e->c != NULL) {
        cell_unbind(e->c);
        mp__ct_unlock(&e->c->lock);
        cell_free(s, e->c);
    }
    mp__ct_retire(&s->retired);
    mp__ct_unlock(&s->lock);
    mp_shared_free(e);
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
    table *old[MP__DICT_STRIPES];
    for (unsigned i = 0; i < MP__DICT_STRIPES; i++)
        old[i] = empty_stripe(&d->st[i], g);
    for (unsigned i = 0; i < MP__DICT_STRIPES; i++)
        mp__ct_unlock(&d->st[i].lock);
    for (unsigned i = 0; i < MP__DICT_STRIPES; i++)
        free_table(old[i], true);
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
