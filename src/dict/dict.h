/* dict.h - mp_dict's layout in the shared heap, and what dict.c and
 * items.c share.
 *
 * Layout. A key's 64-bit hash picks one of 64 stripes (its top bits) and
 * a slot in that stripe's table (its low bits). Each stripe has its own
 * lock, counts and table, and grows on its own: a growth copies one
 * stripe's slot array (1/64 of the dict) while only that stripe's
 * structural writers wait, and readers never. A table is an array of
 * 16-byte slots (tag, cell pointer), open addressing with linear probing;
 * the tag is the key's hash, or EMPTY, or DEAD (a deleted key: probes go
 * past it).
 *
 * Cells. Each key lives in a cell: one cache line with its own futex
 * lock, a generation, a version, the insertion number, the key (inline up
 * to 16 bytes, else a pointer to an immutable block) and the value (inline
 * when it is 8 bytes, else a pointer to an immutable block of its length
 * and bytes). A lookup reads one slot and one cell. Setting a value again
 * takes only the cell's lock: an 8-byte value is overwritten in place
 * with one atomic store, another one is replaced by a new block with one
 * pointer store. Cells are type-stable: they come in chunks of one page
 * that the dict keeps until mp_dict_free, and a cell that loses its key
 * goes to its stripe's free list for another key of that stripe. So
 * whoever holds a pointer to a cell whose key went away still points at a
 * cell, never at freed memory, and the generation tells it the cell is
 * not its key's any more: a cell is bound to a key with an odd generation
 * and unbound (the generation bumped again) under its lock.
 *
 * Writers. Changing a value that keeps its kind (8 bytes stays 8 bytes,
 * another size stays another size): the cell's lock. Anything else
 * (insert, delete, a value changing kind, growth, clear): the stripe's
 * lock, and the cell's lock too when the change unbinds a cell. Locks are
 * always taken stripe before cell; only mp_dict_items and mp_dict_clear
 * hold several, always in stripe order, and clear only tries cell locks
 * (never waits for them).
 *
 * Readers take no lock. A reader checks, before trusting anything it
 * read, that the stripe's retire counter did not move (nothing it went
 * through was freed: a table, a key or value block; dict/container.h) and
 * that the cell's generation did not move (the cell is still that key's).
 * The stripe keeps what structural writers change (lock, counts, change
 * counter, free cells) on one cache line and what readers need (retire
 * counter, table pointer, clear generation) on another.
 *
 * Crash safety: every change is one store, made after everything it
 * points to is written.
 *   - insert: the key's cell is filled and bound under the stripe's lock,
 *     then the slot's pointer is stored, then its tag (the commit).
 *     Killed before the tag, the slot is still EMPTY; the cell leaks.
 *   - value kept in kind: one atomic store of the value (8 bytes) or of
 *     the pointer to a block built before, inside the cell's lock.
 *   - value changing kind: a new cell replaces the old one in the slot
 *     (the commit); the old cell is then unbound under its lock, which the
 *     writer took before the commit.
 *   - delete: the tag becomes DEAD (the commit), the cell is unbound.
 *   - growth: the new table is filled completely, then published by one
 *     store of the stripe's table pointer.
 *   - clear: holding every stripe, one store of the dict's clear
 *     generation commits it: a stripe whose own generation is behind is
 *     empty to everybody. Then each stripe drops its table and catches
 *     its generation up. A clearer killed half-way leaves stripes behind,
 *     which read as empty, and the next writer of such a stripe drops its
 *     table before writing (catch_up), so the clear completes.
 * A writer that takes a stripe's lock from a dead holder recounts the
 * counts (repair). A writer that takes a cell's lock from a dead holder
 * checks that the cell is still published under its key: a structural
 * writer killed between its commit and the unbinding leaves a cell bound
 * that no slot reaches, which it unbinds. Memory is freed only by the
 * process that unpublished it, after the unpublishing store and a bump of
 * the retire counter, so a kill never frees anything twice; it can leak
 * the one block or cell in flight. No key appears twice: keys are
 * inserted under their stripe's lock, with one store.
 *
 * Snapshots (items.c) need to know that nothing changed while they
 * copied: a structural change makes the stripe's change counter odd
 * before its commit and even after it, an in-place write does the same
 * with its cell's version. */
#ifndef MP_DICT_DICT_H
#define MP_DICT_DICT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dict/container.h"
#include "mp/dict.h"

#define MP__DICT_STRIPE_BITS 6
#define MP__DICT_STRIPES     (1u << MP__DICT_STRIPE_BITS)
#define MP__SLOT_EMPTY       0u
#define MP__SLOT_DEAD        1u
#define MP__KEY_INLINE       16 /* keys up to this many bytes live in their cell */

/* Cell flags, fixed while the cell is bound. */
#define MP__CELL_KEY_OUT 1u /* the key is in a block (key.out) */
#define MP__CELL_VAL_OUT 2u /* the value is a block (val points to it); else 8 bytes */

/* A cell: one key and its value, alone on a cache line. */
typedef struct mp__cell mp__cell;
struct mp__cell {
    mp__lock lock;        /* owner tid; guards val, ver and the binding */
    uint32_t flags;       /* MP__CELL_*, fixed while bound */
    _Atomic uint64_t gen; /* odd while bound to a key */
    _Atomic uint64_t ver; /* odd while an in-place write is in flight */
    uint64_t seq;         /* insertion number: the order of mp_dict_items */
    uint64_t klen;        /* key bytes */
    _Atomic uint64_t val; /* the 8-byte value, or an mp__blob pointer */
    union {
        unsigned char in[MP__KEY_INLINE]; /* a short key */
        mp__blob *out;                    /* a long key */
        mp__cell *next;                   /* the stripe's free list, while unbound */
    } key;
};
_Static_assert(sizeof(mp__cell) == 64, "a cell is one cache line");

/* Cells come in chunks of one page, kept until the dict is freed. */
#define MP__CHUNK_CELLS 63
typedef struct mp__chunk mp__chunk;
struct mp__chunk {
    mp__chunk *next; /* the stripe's chunks */
    void *block;     /* the shared-heap block holding the chunk */
    uint64_t pad[6];
    mp__cell cells[MP__CHUNK_CELLS];
};
_Static_assert(sizeof(mp__chunk) == 4096, "a chunk is one page");

typedef struct {
    _Atomic uint64_t tag;  /* SLOT_EMPTY, SLOT_DEAD, or the hash of c's key */
    _Atomic(mp__cell *) c; /* the key's cell; meaningful only while tag is a hash */
} mp__slot;
_Static_assert(sizeof(mp__slot) == 16, "four slots per cache line");

typedef struct {
    uint64_t mask; /* slots - 1; the slot count is a power of two */
    void *block;   /* the shared-heap block holding the table */
    mp__slot s[];  /* open addressing, linear probing */
} mp__table;
_Static_assert(sizeof(mp__table) == 16, "table header");

/* A stripe names its table by one word: the table's address (64-byte
 * aligned) with log2 of its slot count in the low 6 bits, so that a
 * lookup knows where to probe without first reading the table's header;
 * 0 while the stripe has no table. */
static inline mp__table *mp__table_of(uint64_t word)
{
    return (mp__table *)(uintptr_t)(word & ~(uint64_t)63);
}

static inline uint64_t mp__table_mask(uint64_t word)
{
    return word != 0 ? (UINT64_C(1) << (word & 63)) - 1 : 0;
}

typedef struct {
    /* Written by the stripe's lock holder on every structural change. */
    _Alignas(64) mp__lock lock; /* owner tid; guards the stripe, its table and free cells */
    uint32_t pad;
    _Atomic uint64_t live;    /* keys in the table (mp_dict_len reads it) */
    uint64_t used;            /* live and dead slots: the rebuild trigger */
    _Atomic uint64_t changes; /* odd while a structural change is in flight */
    mp__cell *free_cells;     /* unbound cells of this stripe */
    mp__chunk *chunks;        /* every chunk this stripe allocated */
    /* Read by every reader; written when memory leaves or a clear lands. */
    _Alignas(64) _Atomic uint64_t retired; /* bumped before anything readable is freed */
    _Atomic uint64_t table;                /* the table's word (mp__table_of), 0 while empty */
    _Atomic uint64_t cleared;              /* the dict's clear generation applied here */
} mp__stripe;
_Static_assert(sizeof(mp__stripe) == 128, "a stripe is two cache lines");
_Static_assert(offsetof(mp__stripe, retired) == 64, "readers' words on their own line");

struct mp_dict {
    uint64_t magic;                         /* MP__DICT_MAGIC while alive */
    uint64_t seed;                          /* hash seed, fixed at creation */
    void *block;                            /* the shared-heap block holding the dict */
    _Atomic uint64_t clear_gen;             /* bumped by each clear: its commit */
    _Alignas(64) _Atomic uint64_t next_seq; /* the next insertion number */
    _Alignas(64) mp__stripe st[MP__DICT_STRIPES];
};
_Static_assert(offsetof(struct mp_dict, st) % 64 == 0, "stripes start on a cache line");

#define MP__DICT_MAGIC 0x3330746369647066ULL /* "fpdict03" */

static inline bool mp__dict_valid(const mp_dict *d)
{
    return d != NULL && d->magic == MP__DICT_MAGIC;
}

/* mp__is_cleared tells whether a clear committed that stripe s has not
 * applied yet: then it is empty, whatever its table still holds. */
static inline bool mp__is_cleared(const mp_dict *d, const mp__stripe *s)
{
    uint64_t g = atomic_load_explicit(&d->clear_gen, memory_order_acquire);
    return atomic_load_explicit(&s->cleared, memory_order_acquire) != g;
}

/* mp__cell_key returns where a bound cell's key bytes are (validate the
 * cell's generation before following them). */
static inline const unsigned char *mp__cell_key(const mp__cell *c, uint32_t flags)
{
    return flags & MP__CELL_KEY_OUT ? mp__blob_bytes(c->key.out) : c->key.in;
}

/* mp__dict_wlock takes stripe s for a structural writer within b, and
 * leaves it whole (repaired after a dead holder, caught up with any
 * clear). Returns 0 or MP_ETIMEDOUT. */
int mp__dict_wlock(mp_dict *d, mp__stripe *s, mp__ct_bound *b);

/* mp__cell_lock takes cell c within b; a lock taken from a dead holder
 * gets its version made even again (the dead write is done or not).
 * Returns 0, MP_EOWNERDEAD (taken, version repaired: the binding is for
 * the caller to check) or MP_ETIMEDOUT. */
int mp__cell_lock(mp__cell *c, mp__ct_bound *b);

#endif
