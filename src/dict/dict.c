/* dict.c - mp_dict: a hash map in the shared heap, read without locks,
 * written under 64 striped locks, whole after a kill at any instruction.
 *
 * Layout. A key's 64-bit hash picks one of 64 stripes (its top bits) and
 * a slot in that stripe's table (its low bits). Each stripe has its own
 * lock, counts and table, and grows on its own: a growth copies one
 * stripe's slot array (1/64 of the dict), with only that stripe's writers
 * waiting, and readers never. A table is an array of 16-byte slots (tag,
 * entry pointer), open addressing with linear probing; the tag is the
 * key's hash, or EMPTY, or DEAD (a deleted key: probes go past it). An
 * entry is one shared-heap block holding the hash, the insertion number,
 * both lengths, the key and the value; it never changes once published,
 * except an 8-byte value, which is one atomic word overwritten in place.
 *
 * Readers (get, get_alloc, contains, len, items) take no lock; they are
 * validated against the stripe's retire counter (dict/container.h).
 * The stripe keeps the words writers change on every write (lock, counts,
 * the change counter) on one cache line and the words readers need (the
 * retire counter, the table pointer, the clear generation) on another, so
 * readers are not slowed by writers that free nothing.
 *
 * Crash safety: every change is one store, made after everything it
 * points to is written.
 *   - insert: the entry is built outside the lock; under it, the slot's
 *     pointer is stored, then its tag (the commit). Killed before the tag,
 *     the slot is still EMPTY and the entry leaks.
 *   - replace: the new entry's pointer replaces the old in the slot (the
 *     commit); the old one is freed after the retire bump.
 *   - 8-byte value in place: one atomic store.
 *   - delete: the tag becomes DEAD (the commit), then the entry is freed.
 *   - growth: the new table is filled completely, then published by one
 *     store of the stripe's table pointer; the old one is freed after.
 *   - clear: holding every stripe, one store of the dict's clear
 *     generation commits it: a stripe whose own generation is behind is
 *     empty to everybody. Then each stripe drops its table and catches its
 *     generation up. A clearer killed half-way leaves stripes behind,
 *     which read as empty, and the next writer of such a stripe drops its
 *     table before writing (catch_up), so the clear completes.
 * The counts (live keys, used slots) are not part of any commit: a writer
 * that takes a lock from a dead holder recounts them from the table
 * (repair). Memory is freed only by the process that unpublished it, after
 * the unpublishing store, so a kill never frees anything twice; it can
 * leak the one block in flight.
 *
 * No key appears twice: a key is looked up and inserted under its
 * stripe's lock, and the insertion is one store. */
#include "mp/dict.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dict/container.h"
#include "mp/error.h"
#include "mp/shared.h"
#include "os/thread.h"

#define DICT_MAGIC  0x3130746369647066ULL /* "fpdict01" */
#define STRIPE_BITS 6
#define NSTRIPES    (1u << STRIPE_BITS)
#define TABLE_MIN   8 /* slots of a stripe's first table */
#define SLOT_EMPTY  0u
#define SLOT_DEAD   1u

/* A table is rebuilt (grown, or cleaned of its dead slots) before used
 * slots would pass 3/4 of it: linear probes stay short below that, and a
 * rebuild leaves it at most half full. */
#define LOAD_NUM 3
#define LOAD_DEN 4

/* Lock-free passes mp_dict_items makes over the whole dict before it
 * starts holding the stripes that keep changing under it. */
#define SNAP_TRIES 4

typedef struct entry {
    uint64_t hash; /* the key's hash: its slot's tag */
    uint64_t seq;  /* insertion number: the order of mp_dict_items */
    uint64_t klen; /* key bytes */
    uint64_t vlen; /* value bytes */
    /* the key, then from the next multiple of 8 the value */
} entry;
_Static_assert(sizeof(entry) == 32, "entry header keeps the key 16-byte aligned");

typedef struct {
    _Atomic uint64_t tag; /* SLOT_EMPTY, SLOT_DEAD, or the hash of e's key */
    _Atomic(entry *) e;   /* the entry; meaningful only while tag is a hash */
} slot;
_Static_assert(sizeof(slot) == 16, "four slots per cache line");

typedef struct {
    uint64_t mask; /* slots - 1; the slot count is a power of two */
    uint64_t pad;  /* keeps the slots 16-byte aligned */
    slot s[];      /* open addressing, linear probing */
} table;
_Static_assert(sizeof(table) == 16, "table header");

typedef struct {
    /* Written by the stripe's lock holder on every change. */
    _Alignas(64) mp__lock lock; /* owner tid; guards the stripe and its table */
    uint32_t pad;
    _Atomic uint64_t live;    /* keys in the table (mp_dict_len reads it) */
    uint64_t used;            /* live and dead slots: the rebuild trigger */
    _Atomic uint64_t changes; /* bumped after every change (snapshots) */
    /* Read by every reader; written when memory leaves or a clear lands. */
    _Alignas(64) _Atomic uint64_t retired; /* bumped before anything readable is freed */
    _Atomic(table *) table;                /* NULL while empty */
    _Atomic uint64_t cleared;              /* the dict's clear generation applied here */
} stripe;
_Static_assert(sizeof(stripe) == 128, "a stripe is two cache lines");
_Static_assert(offsetof(stripe, retired) == 64, "readers' words on their own line");

struct mp_dict {
    uint64_t magic;                         /* DICT_MAGIC while alive */
    uint64_t seed;                          /* hash seed, fixed at creation */
    void *block;                            /* the shared-heap block holding the dict */
    _Atomic uint64_t clear_gen;             /* bumped by each clear: its commit */
    _Alignas(64) _Atomic uint64_t next_seq; /* the next insertion number */
    _Alignas(64) stripe st[NSTRIPES];       /* the stripes */
};
_Static_assert(offsetof(struct mp_dict, st) % 64 == 0, "stripes start on a cache line");

/* ---- keys --------------------------------------------------------------- */

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
 * byte counts once whatever the length. */
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
    if (k.h <= SLOT_DEAD)
        k.h += 2;
    return k;
}

static inline stripe *stripe_of(mp_dict *d, uint64_t h)
{
    return &d->st[h >> (64 - STRIPE_BITS)];
}

static inline bool valid_dict(const mp_dict *d)
{
    return d != NULL && d->magic == DICT_MAGIC;
}

/* ---- entries and tables --------------------------------------------------- */

static inline unsigned char *entry_key(entry *e)
{
    return (unsigned char *)(e + 1);
}

/* The value starts at the first multiple of 8 after the key, so that an
 * 8-byte value is one aligned atomic word. */
static inline unsigned char *entry_val(entry *e, uint64_t klen)
{
    return entry_key(e) + ((klen + 7) & ~(uint64_t)7);
}

/* entry_new copies key and value into a new entry (seq still unset).
 * NULL when the heap cannot hold it or the sizes overflow. */
static entry *entry_new(const keyref *k, const void *val, size_t vlen)
{
    size_t kpad = (k->len + 7) & ~(size_t)7;
    if (kpad < k->len || vlen > SIZE_MAX - sizeof(entry) - kpad)
        return NULL;
    entry *e = mp_shared_malloc(sizeof(entry) + kpad + vlen);
    if (e == NULL)
        return NULL;
    e->hash = k->h;
    e->seq = 0;
    e->klen = k->len;
    e->vlen = vlen;
    if (k->len > 0)
        memcpy(entry_key(e), k->p, k->len);
    if (vlen > 0)
        memcpy(entry_val(e, k->len), val, vlen);
    return e;
}

/* copy_val copies an entry's value (its length read and validated by the
 * caller, so the copy stays inside the entry's block). */
static inline void copy_val(void *dst, entry *e, uint64_t klen, uint64_t vlen)
{
    const unsigned char *v = entry_val(e, klen);
    if (vlen == 8) {
        uint64_t x = mp__ct_load8(v);
        memcpy(dst, &x, 8);
    } else if (vlen > 0) {
        memcpy(dst, v, vlen);
    }
}

/* free_table frees a table no longer reachable, with the entries its live
 * slots hold when they are not in any other table (with_entries). */
static void free_table(table *t, bool with_entries)
{
    if (t == NULL)
        return;
    if (with_entries)
        for (uint64_t i = 0; i <= t->mask; i++)
            if (atomic_load_explicit(&t->s[i].tag, memory_order_relaxed) > SLOT_DEAD)
                mp_shared_free(atomic_load_explicit(&t->s[i].e, memory_order_relaxed));
    mp_shared_free(t);
}

/* ---- reading without the lock ----------------------------------------------- */

enum { LOOK_ABSENT = 0, LOOK_RETRY = MP__CT_RETRY, LOOK_FOUND = 2 };

/* is_cleared tells whether a clear committed that stripe s has not
 * applied yet: then it is empty, whatever its table still holds. */
static inline bool is_cleared(const mp_dict *d, const stripe *s)
{
    uint64_t g = atomic_load_explicit(&d->clear_gen, memory_order_acquire);
    return atomic_load_explicit(&s->cleared, memory_order_acquire) != g;
}

/* look finds key k in stripe s without the lock, every pointer and length
 * validated before it is followed. Returns LOOK_FOUND (*out = the entry),
 * LOOK_ABSENT or LOOK_RETRY; either of the first two holds only if the
 * caller's final mp__ct_valid does. Under the lock it is exact. */
static inline int look(const mp_dict *d, stripe *s, const keyref *k, uint64_t seen, entry **out)
{
    if (is_cleared(d, s))
        return LOOK_ABSENT;
    table *t = atomic_load_explicit(&s->table, memory_order_acquire);
    if (t == NULL)
        return LOOK_ABSENT;
    uint64_t mask = t->mask;
    if (!mp__ct_valid(&s->retired, seen))
        return LOOK_RETRY;
    for (uint64_t i = k->h & mask, n = 0; n <= mask; i = (i + 1) & mask, n++) {
        uint64_t tag = atomic_load_explicit(&t->s[i].tag, memory_order_acquire);
        if (tag == SLOT_EMPTY)
            return LOOK_ABSENT;
        if (tag != k->h)
            continue;
        entry *e = atomic_load_explicit(&t->s[i].e, memory_order_acquire);
        if (!mp__ct_valid(&s->retired, seen))
            return LOOK_RETRY;
        uint64_t klen = e->klen;
        if (!mp__ct_valid(&s->retired, seen))
            return LOOK_RETRY;
        if (klen != k->len || (klen > 0 && memcmp(entry_key(e), k->p, klen) != 0))
            continue;
        *out = e;
        return LOOK_FOUND;
    }
    return LOOK_ABSENT;
}

/* What a read does with the entry it found: copy into a buffer, into a
 * malloc'd block, or nothing (contains). */
enum { TAKE_NOTHING, TAKE_COPY, TAKE_ALLOC };

typedef struct {
    mp_dict *d;
    stripe *s;
    const keyref *k;
    int how;     /* TAKE_* */
    void *buf;   /* TAKE_COPY: the caller's buffer; TAKE_ALLOC: the copy */
    size_t cap;  /* TAKE_COPY: its size */
    size_t vlen; /* the value's length */
} reader;

static void repair(mp_dict *d, stripe *s);

static void reader_repair(void *arg)
{
    reader *r = arg;
    repair(r->d, r->s);
}

/* read_attempt is one try of a read (mp__ct_read): find the key, then copy
 * the value out as r->how says. */
static inline int read_attempt(void *arg, uint64_t seen)
{
    reader *r = arg;
    entry *e;
    int rc = look(r->d, r->s, r->k, seen, &e);
    if (rc != LOOK_FOUND)
        return rc == LOOK_ABSENT ? MP_ENOENT : rc;
    uint64_t vlen = e->vlen;
    if (!mp__ct_valid(&r->s->retired, seen))
        return LOOK_RETRY;
    r->vlen = vlen;
    if (r->how == TAKE_COPY) {
        if (vlen > r->cap)
            return MP_EMSGSIZE;
        copy_val(r->buf, e, r->k->len, vlen);
    } else if (r->how == TAKE_ALLOC) {
        free(r->buf); /* an earlier try's copy */
        r->buf = malloc(vlen > 0 ? vlen : 1);
        if (r->buf == NULL)
            return MP_ENOMEM;
        copy_val(r->buf, e, r->k->len, vlen);
    }
    return 0;
}

static inline int read_key(reader *r)
{
    return mp__ct_read(&r->s->lock, &r->s->retired, read_attempt, reader_repair, r);
}

/* ---- writing under the lock ------------------------------------------------- */

/* empty_stripe drops stripe s's table and applies clear generation g:
 * the physical half of a clear. Returns the table to free (entries too). */
static table *empty_stripe(stripe *s, uint64_t g)
{
    table *t = atomic_load_explicit(&s->table, memory_order_relaxed);
    atomic_store_explicit(&s->table, NULL, memory_order_release);
    atomic_store_explicit(&s->cleared, g, memory_order_release);
    atomic_store_explicit(&s->live, 0, memory_order_relaxed);
    s->used = 0;
    mp__ct_retire(&s->retired);
    mp__ct_bump(&s->changes);
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
 * table (the dead holder may have committed without counting), and
 * readers and snapshots are told that something may have changed. */
static void repair(mp_dict *d, stripe *s)
{
    catch_up(d, s);
    table *t = atomic_load_explicit(&s->table, memory_order_relaxed);
    uint64_t live = 0, used = 0;
    if (t != NULL) {
        for (uint64_t i = 0; i <= t->mask; i++) {
            uint64_t tag = atomic_load_explicit(&t->s[i].tag, memory_order_relaxed);
            used += tag != SLOT_EMPTY;
            live += tag > SLOT_DEAD;
        }
    }
    atomic_store_explicit(&s->live, live, memory_order_relaxed);
    s->used = used;
    mp__ct_retire(&s->retired);
    mp__ct_bump(&s->changes);
}

/* wlock takes stripe s for a writer within bound b, and leaves it whole
 * (repaired, caught up with any clear). Returns 0 or MP_ETIMEDOUT. */
static int wlock(mp_dict *d, stripe *s, mp__ct_bound *b)
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
        if (tag == SLOT_EMPTY) {
            if (!have_dead)
                *ins = i;
            return -1;
        }
        if (tag == SLOT_DEAD) {
            if (!have_dead)
                *ins = i;
            have_dead = true;
            continue;
        }
        if (tag != k->h)
            continue;
        entry *e = atomic_load_explicit(&t->s[i].e, memory_order_relaxed);
        if (e->klen == k->len && (k->len == 0 || memcmp(entry_key(e), k->p, k->len) == 0))
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
        if (tag <= SLOT_DEAD)
            continue;
        uint64_t j = tag & n->mask;
        while (atomic_load_explicit(&n->s[j].tag, memory_order_relaxed) != SLOT_EMPTY)
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

/* A change to one key: set a value, or add to a counter. */
typedef struct {
    bool add;        /* add delta (else set val) */
    const void *val; /* set: the value */
    size_t vlen;     /* set: its length */
    uint64_t delta;  /* add: the addend, as unsigned so that it wraps */
    uint64_t result; /* add: the new value */
} change;

/* Returned by apply when the change needs a new entry it was not given. */
#define NEED_ENTRY 1

/* apply makes change c to key k in stripe s, whose lock the caller holds.
 * *fresh is a new entry for k holding the value to set (or delta), or
 * NULL on a first try that only changes an 8-byte value in place; apply
 * sets *fresh to NULL when it publishes it. What the change unpublished
 * goes to *drop_e and *drop_t, for the caller to free after unlocking.
 * Returns 0, NEED_ENTRY, MP_EVALUE (add on a value of another size) or
 * MP_ENOMEM (the table could not grow); nothing changed unless 0. */
static int apply(mp_dict *d, stripe *s, const keyref *k, change *c, entry **fresh, entry **drop_e,
                 table **drop_t)
{
    table *t = atomic_load_explicit(&s->table, memory_order_relaxed);
    uint64_t at = 0;
    int64_t i = t != NULL ? locate(t, k, &at) : -1;
    if (i >= 0) {
        entry *e = atomic_load_explicit(&t->s[i].e, memory_order_relaxed);
        if (c->add || (c->vlen == 8 && e->vlen == 8)) {
            if (e->vlen != 8)
                return MP_EVALUE;
            unsigned char *v = entry_val(e, e->klen);
            uint64_t x;
            if (c->add) {
                x = mp__ct_load8(v) + c->delta;
                c->result = x;
            } else {
                memcpy(&x, c->val, 8);
            }
            mp__ct_store8(v, x); /* the commit */
            mp__ct_bump(&s->changes);
            return 0;
        }
        if (*fresh == NULL)
            return NEED_ENTRY;
        (*fresh)->seq = e->seq; /* a key keeps its place in the order */
        atomic_store_explicit(&t->s[i].e, *fresh, memory_order_release); /* the commit */
        *fresh = NULL;
        mp__ct_bump(&s->changes);
        mp__ct_retire(&s->retired);
        *drop_e = e;
        return 0;
    }
    if (*fresh == NULL)
        return NEED_ENTRY;
    if (t == NULL || (atomic_load_explicit(&t->s[at].tag, memory_order_relaxed) == SLOT_EMPTY &&
                      (s->used + 1) * LOAD_DEN > (t->mask + 1) * LOAD_NUM)) {
        int rc = rebuild(s, drop_t);
        if (rc != 0)
            return rc;
        t = atomic_load_explicit(&s->table, memory_order_relaxed);
        (void)locate(t, k, &at);
    }
    if (c->add)
        c->result = c->delta;
    (*fresh)->seq = atomic_fetch_add_explicit(&d->next_seq, 1, memory_order_relaxed);
    bool was_empty = atomic_load_explicit(&t->s[at].tag, memory_order_relaxed) == SLOT_EMPTY;
    atomic_store_explicit(&t->s[at].e, *fresh, memory_order_relaxed);
    atomic_store_explicit(&t->s[at].tag, k->h, memory_order_release); /* the commit */
    *fresh = NULL;
    atomic_store_explicit(&s->live, atomic_load_explicit(&s->live, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    s->used += was_empty;
    mp__ct_bump(&s->changes);
    return 0;
}

/* upsert makes change c to key k within timeout. An 8-byte value already
 * there is changed in place on a first pass that allocates nothing;
 * otherwise the new entry is built before the lock is taken (again). */
static int upsert(mp_dict *d, const keyref *k, change *c, double timeout)
{
    stripe *s = stripe_of(d, k->h);
    mp__ct_bound b = mp__ct_bound_of(timeout);
    entry *fresh = NULL, *drop_e = NULL;
    table *drop_t = NULL;
    int rc;
    if (c->add || c->vlen == 8) {
        if ((rc = wlock(d, s, &b)) != 0)
            return rc;
        rc = apply(d, s, k, c, &fresh, &drop_e, &drop_t);
        mp__ct_unlock(&s->lock);
        if (rc != NEED_ENTRY)
            return rc;
    }
    fresh = c->add ? entry_new(k, &c->delta, 8) : entry_new(k, c->val, c->vlen);
    if (fresh == NULL)
        return MP_ENOMEM;
    if ((rc = wlock(d, s, &b)) != 0) {
        mp_shared_free(fresh);
        return rc;
    }
    rc = apply(d, s, k, c, &fresh, &drop_e, &drop_t);
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
    for (unsigned i = 0; i < NSTRIPES; i++)
        mp__lock_init(&d->st[i].lock);
    d->magic = DICT_MAGIC;
    return d;
}

MP_EXTERN void mp_dict_free(mp_dict *d)
{
    if (!valid_dict(d))
        return;
    for (unsigned i = 0; i < NSTRIPES; i++)
        free_table(atomic_load_explicit(&d->st[i].table, memory_order_relaxed), true);
    d->magic = 0;
    mp_shared_free(d->block);
}

MP_EXTERN int mp_dict_set_timed(mp_dict *d, const void *key, size_t klen, const void *val,
                                size_t vlen, double timeout)
{
    if (!valid_dict(d) || (key == NULL && klen > 0) || (val == NULL && vlen > 0) || isnan(timeout))
        return MP_EINVAL;
    keyref k = key_of(d, key, klen);
    change c = {.add = false, .val = val, .vlen = vlen};
    return upsert(d, &k, &c, timeout);
}

MP_EXTERN int mp_dict_set(mp_dict *d, const void *key, size_t klen, const void *val, size_t vlen)
{
    return mp_dict_set_timed(d, key, klen, val, vlen, MP_DICT_TIMEOUT);
}

MP_EXTERN int mp_dict_add_i64_timed(mp_dict *d, const void *key, size_t klen, int64_t delta,
                                    int64_t *result, double timeout)
{
    if (!valid_dict(d) || (key == NULL && klen > 0) || isnan(timeout))
        return MP_EINVAL;
    keyref k = key_of(d, key, klen);
    change c = {.add = true, .delta = (uint64_t)delta};
    int rc = upsert(d, &k, &c, timeout);
    if (rc == 0 && result != NULL)
        memcpy(result, &c.result, 8); /* the two's complement bits, without overflow */
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
    if (!valid_dict(d) || vlen == NULL || (key == NULL && klen > 0) || (buf == NULL && cap > 0))
        return MP_EINVAL;
    keyref k = key_of(d, key, klen);
    reader r = {d, stripe_of(d, k.h), &k, TAKE_COPY, buf, cap, 0};
    int rc = read_key(&r);
    if (rc == 0 || rc == MP_EMSGSIZE)
        *vlen = r.vlen;
    return rc;
}

MP_EXTERN int mp_dict_get_alloc(mp_dict *d, const void *key, size_t klen, void **val, size_t *vlen)
{
    if (!valid_dict(d) || val == NULL || vlen == NULL || (key == NULL && klen > 0))
        return MP_EINVAL;
    keyref k = key_of(d, key, klen);
    reader r = {d, stripe_of(d, k.h), &k, TAKE_ALLOC, NULL, 0, 0};
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
    if (!valid_dict(d) || (key == NULL && klen > 0))
        return false;
    keyref k = key_of(d, key, klen);
    reader r = {d, stripe_of(d, k.h), &k, TAKE_NOTHING, NULL, 0, 0};
    return read_key(&r) == 0;
}

MP_EXTERN int mp_dict_del_timed(mp_dict *d, const void *key, size_t klen, double timeout)
{
    if (!valid_dict(d) || (key == NULL && klen > 0) || isnan(timeout))
        return MP_EINVAL;
    keyref k = key_of(d, key, klen);
    stripe *s = stripe_of(d, k.h);
    mp__ct_bound b = mp__ct_bound_of(timeout);
    int rc = wlock(d, s, &b);
    if (rc != 0)
        return rc;
    table *t = atomic_load_explicit(&s->table, memory_order_relaxed);
    uint64_t at;
    int64_t i = t != NULL ? locate(t, &k, &at) : -1;
    if (i < 0) {
        mp__ct_unlock(&s->lock);
        return MP_ENOENT;
    }
    entry *e = atomic_load_explicit(&t->s[i].e, memory_order_relaxed);
    atomic_store_explicit(&t->s[i].tag, SLOT_DEAD, memory_order_release); /* the commit */
    atomic_store_explicit(&s->live, atomic_load_explicit(&s->live, memory_order_relaxed) - 1,
                          memory_order_relaxed);
    mp__ct_bump(&s->changes);
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
    if (!valid_dict(d))
        return 0;
    size_t n = 0;
    for (unsigned i = 0; i < NSTRIPES; i++)
        if (!is_cleared(d, &d->st[i]))
            n += atomic_load_explicit(&d->st[i].live, memory_order_relaxed);
    return n;
}

MP_EXTERN int mp_dict_clear_timed(mp_dict *d, double timeout)
{
    if (!valid_dict(d) || isnan(timeout))
        return MP_EINVAL;
    mp__ct_bound b = mp__ct_bound_of(timeout);
    unsigned held;
    int rc = 0;
    /* In stripe order, as every holder of several stripes takes them. */
    for (held = 0; held < NSTRIPES; held++)
        if ((rc = wlock(d, &d->st[held], &b)) != 0)
            break;
    if (rc != 0) {
        while (held-- > 0)
            mp__ct_unlock(&d->st[held].lock);
        return rc;
    }
    uint64_t g = atomic_load_explicit(&d->clear_gen, memory_order_relaxed) + 1;
    atomic_store_explicit(&d->clear_gen, g, memory_order_release); /* the commit */
    table *old[NSTRIPES];
    for (unsigned i = 0; i < NSTRIPES; i++)
        old[i] = empty_stripe(&d->st[i], g);
    for (unsigned i = 0; i < NSTRIPES; i++)
        mp__ct_unlock(&d->st[i].lock);
    for (unsigned i = 0; i < NSTRIPES; i++)
        free_table(old[i], true);
    return 0;
}

MP_EXTERN int mp_dict_clear(mp_dict *d)
{
    return mp_dict_clear_timed(d, MP_DICT_TIMEOUT);
}

/* ---- items: a snapshot ---------------------------------------------------------- */

/* A snapshot: records one after another in private memory, each a
 * header, then the key and the value, each padded to 8 bytes. */
typedef struct {
    uint64_t seq;  /* insertion number */
    uint64_t klen; /* key bytes */
    uint64_t vlen; /* value bytes */
} rec;

typedef struct {
    unsigned char *buf; /* the records */
    size_t len;         /* bytes used */
    size_t cap;         /* bytes allocated */
    size_t n;           /* records */
} snap;

static inline size_t pad8(uint64_t n)
{
    return (size_t)((n + 7) & ~(uint64_t)7);
}

/* snap_reserve makes room for more bytes; false when memory runs out. */
static bool snap_reserve(snap *sn, size_t more)
{
    if (more <= sn->cap - sn->len)
        return true;
    size_t cap = sn->cap > 0 ? sn->cap : 4096;
    while (cap - sn->len < more) {
        if (cap > SIZE_MAX / 2)
            return false;
        cap *= 2;
    }
    unsigned char *p = realloc(sn->buf, cap);
    if (p == NULL)
        return false;
    sn->buf = p;
    sn->cap = cap;
    return true;
}

/* copy_stripe appends stripe s's keys and values to sn, as of clear
 * generation g, validated like look. Returns 0, LOOK_RETRY or MP_ENOMEM. */
static int copy_stripe(const mp_dict *d, stripe *s, uint64_t g, uint64_t seen, snap *sn)
{
    if (atomic_load_explicit(&s->cleared, memory_order_acquire) != g)
        return 0;
    table *t = atomic_load_explicit(&s->table, memory_order_acquire);
    if (t == NULL)
        return 0;
    uint64_t mask = t->mask;
    if (!mp__ct_valid(&s->retired, seen))
        return LOOK_RETRY;
    for (uint64_t i = 0; i <= mask; i++) {
        if (atomic_load_explicit(&t->s[i].tag, memory_order_acquire) <= SLOT_DEAD)
            continue;
        entry *e = atomic_load_explicit(&t->s[i].e, memory_order_acquire);
        if (!mp__ct_valid(&s->retired, seen))
            return LOOK_RETRY;
        rec r = {e->seq, e->klen, e->vlen};
        if (!mp__ct_valid(&s->retired, seen))
            return LOOK_RETRY;
        size_t kp = pad8(r.klen), vp = pad8(r.vlen);
        if (!snap_reserve(sn, sizeof r + kp + vp))
            return MP_ENOMEM;
        unsigned char *out = sn->buf + sn->len;
        memcpy(out, &r, sizeof r);
        memcpy(out + sizeof r, entry_key(e), r.klen);
        copy_val(out + sizeof r + kp, e, r.klen, r.vlen);
        sn->len += sizeof r + kp + vp;
        sn->n++;
    }
    return 0;
}

/* snap_take fills sn with a consistent snapshot. Each pass notes every
 * stripe's counters, copies every stripe and checks the counters again;
 * a pass during which nothing changed is a state the dict had at the
 * moment of its last counter read. After SNAP_TRIES passes it also holds
 * the stripes that changed (in stripe order, starting over when it must
 * take one below one it holds), so the passes end. Returns 0,
 * MP_ETIMEDOUT or MP_ENOMEM. */
static int snap_take(mp_dict *d, mp__ct_bound *b, snap *sn)
{
    uint64_t held = 0; /* bit i: we hold stripe i */
    uint64_t retired[NSTRIPES], changes[NSTRIPES];
    int rc = 0;
    for (unsigned pass = 0;; pass++) {
        uint64_t g = atomic_load_explicit(&d->clear_gen, memory_order_acquire);
        for (unsigned i = 0; i < NSTRIPES; i++) {
            retired[i] = mp__ct_begin(&d->st[i].retired);
            changes[i] = atomic_load_explicit(&d->st[i].changes, memory_order_acquire);
        }
        sn->len = sn->n = 0;
        uint64_t moved = 0;
        for (unsigned i = 0; i < NSTRIPES; i++) {
            rc = copy_stripe(d, &d->st[i], g, retired[i], sn);
            if (rc == MP_ENOMEM)
                goto out_release;
            if (rc == LOOK_RETRY)
                moved |= 1ull << i;
        }
        atomic_thread_fence(memory_order_acquire);
        for (unsigned i = 0; i < NSTRIPES; i++)
            if (atomic_load_explicit(&d->st[i].retired, memory_order_relaxed) != retired[i] ||
                atomic_load_explicit(&d->st[i].changes, memory_order_relaxed) != changes[i])
                moved |= 1ull << i;
        if (atomic_load_explicit(&d->clear_gen, memory_order_relaxed) != g)
            moved = ~0ull; /* a clear landed: it held every stripe, so we held none */
        if (moved == 0) {
            rc = 0;
            goto out_release;
        }
        if (pass + 1 < SNAP_TRIES)
            continue;
        uint64_t need = moved & ~held;
        if (held != 0 && need != 0 && __builtin_ctzll(need) < 63 - __builtin_clzll(held)) {
            /* Keep the stripe order: let go, then take them all again. */
            for (unsigned i = 0; i < NSTRIPES; i++)
                if (held & (1ull << i))
                    mp__ct_unlock(&d->st[i].lock);
            need |= held;
            held = 0;
        }
        for (unsigned i = 0; i < NSTRIPES; i++) {
            if (!(need & (1ull << i)))
                continue;
            if ((rc = wlock(d, &d->st[i], b)) != 0)
                goto out_release;
            held |= 1ull << i;
        }
    }
out_release:
    for (unsigned i = 0; i < NSTRIPES; i++)
        if (held & (1ull << i))
            mp__ct_unlock(&d->st[i].lock);
    return rc;
}

static int by_seq(const void *a, const void *b)
{
    uint64_t x, y;
    memcpy(&x, *(const unsigned char *const *)a, 8);
    memcpy(&y, *(const unsigned char *const *)b, 8);
    return x < y ? -1 : x > y;
}

MP_EXTERN int mp_dict_items_timed(mp_dict *d,
                                  int (*fn)(const void *key, size_t klen, const void *val,
                                            size_t vlen, void *ud),
                                  void *ud, double timeout)
{
    if (!valid_dict(d) || fn == NULL || isnan(timeout))
        return MP_EINVAL;
    mp__ct_bound b = mp__ct_bound_of(timeout);
    snap sn = {0};
    int rc = snap_take(d, &b, &sn);
    if (rc != 0)
        goto out_free;
    const unsigned char **order = malloc((sn.n > 0 ? sn.n : 1) * sizeof *order);
    if (order == NULL) {
        rc = MP_ENOMEM;
        goto out_free;
    }
    for (size_t i = 0, off = 0; i < sn.n; i++) {
        rec r;
        memcpy(&r, sn.buf + off, sizeof r);
        order[i] = sn.buf + off;
        off += sizeof r + pad8(r.klen) + pad8(r.vlen);
    }
    qsort(order, sn.n, sizeof *order, by_seq);
    for (size_t i = 0; i < sn.n && rc == 0; i++) {
        rec r;
        memcpy(&r, order[i], sizeof r);
        const unsigned char *k = order[i] + sizeof r;
        rc = fn(k, (size_t)r.klen, k + pad8(r.klen), (size_t)r.vlen, ud);
    }
    free(order);
out_free:
    free(sn.buf);
    return rc;
}

MP_EXTERN int mp_dict_items(mp_dict *d,
                            int (*fn)(const void *key, size_t klen, const void *val, size_t vlen,
                                      void *ud),
                            void *ud)
{
    return mp_dict_items_timed(d, fn, ud, MP_DICT_TIMEOUT);
}

/* ---- strings --------------------------------------------------------------------- */

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
