/* layout.h - the shared heap's layout inside its memory file, and the
 * rules that make it survive a process killed at any instruction. Private
 * to src/heap (pages.c, slab.c, tcache.c, heap.c).
 *
 * The file, mapped at one address in the whole family, holds:
 *   page 0..      struct mp__heap: the page pool, the arenas, the thread
 *                 cache records;
 *   then          the page map: one struct mp__pent per page of the file,
 *                 and the dirty bitmap: one bit per page that may hold
 *                 data (clear: the page reads as zeros, it holds no memory);
 *   first_page..  the pages that blocks are made of.
 *
 * Three layers hand out memory:
 *   - the page pool (pages.c) owns spans of whole pages: free spans,
 *     large blocks (more than MP__SMALL_MAX bytes, page-aligned) and slabs;
 *   - arenas (slab.c) cut slabs into blocks of one size class; a bitmap in
 *     each slab says which blocks are handed out;
 *   - thread caches (tcache.c) keep a few freed blocks per class for the
 *     thread that freed them, so that a malloc/free pair of a small block
 *     costs no atomic instruction at all.
 *
 * Crash safety. What is *true* is written so that one store changes it,
 * and everything else is derived from it and rebuilt when a process is
 * found dead holding a lock (sync/lock.h's MP_EOWNERDEAD):
 *   truth                                  derived (rebuilt by a walk)
 *   - the heads of the page map: from      - the pool's size bins, its
 *     first_page, each head's length leads   dirty-page list, its counters
 *     to the next head (a tiling);          - each arena's lists of slabs
 *   - a slab's used-bitmap;                   with free blocks, its counters
 *   - each thread cache's lists (one
 *     owner thread; push and pop are one
 *     store each).
 * A split writes the new tail span's head first, then shrinks the head
 * with one store; a merge first marks the span that becomes interior
 * MERGING (which a walk reads as free) and then grows its neighbour with
 * one store. Operations that take two steps under a lock (a block moving
 * from a thread cache to its slab, a block being handed out) write their
 * intent into the structure the lock guards, so whoever takes the lock
 * over finishes or undoes them. Work done outside any lock (punching pages
 * back to the system) marks its span OUT with the worker's thread id, so a
 * dead worker's span is found and returned by the next walk. */
#ifndef MP_HEAP_LAYOUT_H
#define MP_HEAP_LAYOUT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "os/clock.h"
#include "os/thread.h"
#include "sync/lock.h"

#define MP__PAGE_SHIFT 12
#define MP__PAGE       (1u << MP__PAGE_SHIFT)

/* Blocks up to this size come from slabs (size classes); larger ones are
 * spans of whole pages. */
#define MP__SMALL_MAX (32u * 1024u)
#define MP__NCLASSES  35

/* Arenas: each has its own lock and its own slabs, so that threads that
 * allocate at once rarely meet, and a process stopped inside one arena
 * leaves the others free. */
#define MP__ARENAS 8

/* Thread cache records in the header: at most this many threads of the
 * family hold a cache at once (a thread finding none works without). */
#define MP__CACHES 1024

/* Lock-free notes of large blocks freed while the pool lock was busy. */
#define MP__HINTS 64

/* A slab's used-bitmap has at most this many 64-bit words. */
#define MP__SLAB_WORDS 16

/* ---- the page map ----------------------------------------------------- */

/* Kinds of page-map entries. Only a span's first page (its head) carries
 * FREE..OUT with the span's length; the other pages carry NONE, MERGING
 * (an old head merged away) or SLABIN (inside a slab). */
enum {
    MP__PK_NONE = 0, /* not a head */
    MP__PK_FREE,     /* free span, in a bin */
    MP__PK_LARGE,    /* a large block handed out */
    MP__PK_SLAB,     /* a slab of an arena */
    MP__PK_SLABIN,   /* a page inside a slab, after its first */
    MP__PK_DEFERRED, /* freed without the pool lock: free, not yet binned */
    MP__PK_MERGING,  /* being merged into the span before it: free */
    MP__PK_OUT,      /* taken out to punch its pages (owner: a thread) */
};

/* Tag flags. */
#define MP__TAG_PUTBACK 0x10u /* DEFERRED: a punched span coming back, not a freed block */

#define MP__TAG(kind, len) ((uint64_t)(kind) | ((uint64_t)(len) << 32))
#define MP__TAG_KIND(t)    ((unsigned)((t)&0xfu))
#define MP__TAG_LEN(t)     ((uint32_t)((t) >> 32))

/* One entry per page. */
struct mp__pent {
    _Atomic uint64_t tag;  /* kind | flags | length in pages << 32 (heads) */
    _Atomic uint32_t head; /* a span's last page, a slab's inner pages: the span's head */
    uint32_t ndirty;       /* free heads: dirty bits set in the span (derived) */
    union {
        struct {
            uint32_t next; /* FREE: next head in its bin (0: none) */
            uint32_t prev; /* FREE: previous head in its bin (0: none) */
        };
        struct {
            uint32_t owner; /* OUT: the thread punching it */
            uint32_t spare; /* OUT: unused */
        };
    };
    uint32_t lnext; /* FREE with ndirty > 0: next (newer) in the dirty list */
    uint32_t lprev; /* FREE with ndirty > 0: previous (older) in the dirty list */
};
_Static_assert(sizeof(struct mp__pent) == 32, "page map entry is 32 bytes");

/* ---- slabs ------------------------------------------------------------- */

#define MP__SLAB_MAGIC 0x62616c73u /* "slab" */

/* The header at the start of a slab's first page; blocks follow at
 * `first`. Written before the page map calls the span a slab. */
struct mp__slab {
    uint32_t magic;   /* MP__SLAB_MAGIC */
    uint16_t cls;     /* size class */
    uint16_t arena;   /* owning arena */
    uint32_t nblocks; /* blocks in the slab */
    uint32_t first;   /* offset of block 0 from the slab's start (a multiple of 64) */
    uint32_t next;    /* arena list of slabs of this class with a free block (page, 0: none) */
    uint32_t prev;    /* the same, backwards */
    uint32_t nused;   /* bits set (derived: the bitmap is the truth) */
    uint32_t hint;    /* bitmap word to search first (derived) */
    uint32_t listed;  /* 1 when on the arena's list (derived) */
    uint32_t pad[7];  /* to 64 bytes */
    _Atomic uint64_t used[]; /* bit i set: block i is handed out (a caller's or a thread cache's) */
};
_Static_assert(sizeof(struct mp__slab) == 64, "slab header before its bitmap is 64 bytes");

/* ---- thread caches ----------------------------------------------------- */

struct mp__tbin {
    void *head;             /* freed blocks, linked through their first word */
    _Atomic uint32_t count; /* blocks in the list (read by statistics) */
    uint32_t cap;           /* count past which a free sends blocks back */
};

/* Owner word values besides a thread id. */
#define MP__CACHE_RECLAIM 0x40000000u /* | tid: a thread emptying a dead owner's cache */
#define MP__CACHE_ORPHAN  0x3fffffffu /* nobody: to be emptied by whoever finds it */

struct mp__tcache {
    _Atomic uint32_t owner;            /* tid of the owning thread, 0 when the record is free */
    uint32_t index;                    /* position in the registry */
    uint32_t pad[14];                  /* to 64 bytes */
    struct mp__tbin bin[MP__NCLASSES]; /* per size class; written by the owner only */
};

/* ---- arenas -------------------------------------------------------------- */

/* What an arena lock holder is in the middle of, so that a takeover can
 * finish or undo it (see slab.c). */
enum { MP__OP_NONE = 0, MP__OP_ALLOC, MP__OP_FLUSH, MP__OP_REFILL };

struct mp__arena {
    mp__lock lock;                  /* guards everything below but the counters' readers */
    uint32_t need_repair;           /* 1 from a takeover until the lists are rebuilt */
    _Atomic uint32_t op;            /* intent: MP__OP_* */
    uint32_t op_cls;                /* intent: the size class */
    void *op_block;                 /* intent: the block being handed out or sent back */
    struct mp__tcache *op_cache;    /* intent (FLUSH): the cache it comes from */
    _Atomic int64_t used_bytes;     /* bytes of blocks whose bit is set */
    _Atomic int64_t cap_bytes;      /* bytes of blocks in this arena's slabs */
    uint32_t partial[MP__NCLASSES]; /* slabs with a free block, per class (page, 0: none) */
} __attribute__((aligned(64)));

/* ---- the page pool ------------------------------------------------------- */

/* Bins of free spans by length: exact for 1..32 pages, then four per
 * doubling up to 2^32 pages. */
#define MP__BINS 140

struct mp__pool {
    mp__lock lock;               /* guards the bins, the dirty list and the intent */
    uint32_t op_page;            /* intent: a span being handed out (0: none) */
    uint32_t bin[MP__BINS];      /* first head of each bin (0: empty) */
    uint64_t nonempty[3];        /* bit b set: bin b is not empty */
    uint32_t lru_old;            /* oldest dirty free span (0: none) */
    uint32_t lru_new;            /* newest dirty free span */
    uint32_t punch_broken;       /* 1 once the system refused to punch */
    _Atomic int64_t free_pages;  /* pages in FREE spans */
    _Atomic int64_t dirty_pages; /* the sum of FREE spans' ndirty */
    _Atomic int64_t large_pages; /* pages in large blocks, DEFERRED ones not yet binned too */
    int64_t large_recent;        /* large_pages' recent peak, decaying at each large free */
    uint32_t large_free_run;     /* large frees since the last large take */
    _Atomic int64_t largest;     /* pages in the largest FREE span (kept on every change) */
    _Atomic uint32_t hint[MP__HINTS] __attribute__((aligned(64))); /* DEFERRED heads to bin */
    _Atomic uint32_t hint_pending;                                 /* 1: a hint may be waiting */
    _Atomic uint32_t orphans; /* DEFERRED spans that found no hint slot: walk */
} __attribute__((aligned(64)));

/* ---- the header ---------------------------------------------------------- */

#define MP__HEAP_MAGIC 0x313070616568706dULL /* "mpheap01", written last at creation */

struct mp__heap {
    uint64_t magic;                      /* MP__HEAP_MAGIC once the heap is set up */
    uint64_t size;                       /* bytes mapped */
    uint64_t key;                        /* marks a block freed into a thread cache */
    uint32_t npages;                     /* pages mapped (page map entries) */
    uint32_t first_page;                 /* first page blocks are made of */
    uint32_t dirty_max;                  /* dirty free pages kept before punching */
    _Atomic uint32_t probe;              /* next cache record a registering thread checks */
    _Atomic uint64_t peak;               /* the most in_use seen (sampled) */
    _Atomic uint32_t cache_hi;           /* records at or past this index were never claimed */
    uint32_t pad[3];                     /* to 64 bytes */
    struct mp__pool pool;                /* the page pool */
    struct mp__arena arena[MP__ARENAS];  /* the arenas */
    struct mp__tcache cache[MP__CACHES]; /* thread cache records */
};
_Static_assert(offsetof(struct mp__heap, pool) == 64, "heap header: pool on its own line");

/* ---- process-local view (same values in every process of the family) --- */

extern struct mp__heap *mp__H;   /* the mapping */
extern struct mp__pent *mp__PM;  /* its page map */
extern _Atomic uint64_t *mp__DB; /* its dirty bitmap */

/* Size classes and their slabs. */
extern uint32_t mp__class_size[MP__NCLASSES];
extern uint32_t mp__class_pages[MP__NCLASSES];  /* pages per slab */
extern uint32_t mp__class_blocks[MP__NCLASSES]; /* blocks per slab */
extern uint32_t mp__class_first[MP__NCLASSES];  /* offset of block 0 */
extern uint64_t mp__class_recip[MP__NCLASSES];  /* ceil(2^40 / size): index by multiply */
extern uint8_t mp__class16[65];                 /* class of sizes 0..1024, by 16 */
extern uint8_t mp__class256[129];               /* class of sizes 1025..32768, by 256 */

static inline unsigned mp__size_class(size_t size)
{
    return size <= 1024 ? mp__class16[(size + 15) >> 4] : mp__class256[(size + 255) >> 8];
}

static inline char *mp__page_addr(uint32_t page)
{
    return (char *)mp__H + ((size_t)page << MP__PAGE_SHIFT);
}

static inline uint32_t mp__page_of(const void *p)
{
    return (uint32_t)(((const char *)p - (const char *)mp__H) >> MP__PAGE_SHIFT);
}

static inline uint64_t mp__tag(uint32_t page)
{
    return atomic_load_explicit(&mp__PM[page].tag, memory_order_acquire);
}

static inline void mp__set_tag(uint32_t page, uint64_t tag)
{
    atomic_store_explicit(&mp__PM[page].tag, tag, memory_order_release);
}

static inline struct mp__slab *mp__slab_at(uint32_t page)
{
    return (struct mp__slab *)mp__page_addr(page);
}

/* mp__block_index returns the index of p in slab s, or UINT32_MAX when p
 * is not the start of one of its blocks. */
static inline uint32_t mp__block_index(const struct mp__slab *s, const void *p)
{
    uint64_t off = (uint64_t)((const char *)p - (const char *)s);
    if (off < s->first)
        return UINT32_MAX;
    off -= s->first;
    uint64_t i = (off * mp__class_recip[s->cls]) >> 40;
    if (i >= s->nblocks || i * mp__class_size[s->cls] != off)
        return UINT32_MAX;
    return (uint32_t)i;
}

static inline void *mp__block_at(const struct mp__slab *s, uint32_t i)
{
    return (char *)s + s->first + (size_t)i * mp__class_size[s->cls];
}

static inline bool mp__bit_get(struct mp__slab *s, uint32_t i)
{
    return (atomic_load_explicit(&s->used[i >> 6], memory_order_relaxed) >> (i & 63)) & 1;
}

/* Bitmap words change only under the arena lock; loads and stores are
 * atomic so that a lock-free check (free's double-free test) is no race. */
static inline void mp__bit_put(struct mp__slab *s, uint32_t i, bool on)
{
    uint64_t w = atomic_load_explicit(&s->used[i >> 6], memory_order_relaxed);
    uint64_t m = (uint64_t)1 << (i & 63);
    atomic_store_explicit(&s->used[i >> 6], on ? w | m : w & ~m, memory_order_release);
}

/* Relaxed counters: written under a lock, read by statistics anywhere. */
static inline void mp__count(_Atomic int64_t *c, int64_t delta)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + delta,
                          memory_order_relaxed);
}

/* ---- heap.c ------------------------------------------------------------- */

/* Raises the peak to the bytes handed out now (thread caches included)
 * plus extra, the size of a block about to be taken. */
void mp__heap_sample_peak(int64_t extra);

/* ---- pages.c ------------------------------------------------------------- */

/* Takes the pool lock before d: 0 or MP_ETIMEDOUT. A dead holder's lock is
 * taken over and the pool rebuilt by a walk first. Deferred frees waiting
 * for the lock are binned. */
int mp__pages_lock(const mp__deadline *d);
bool mp__pages_trylock(void);
void mp__pages_unlock(void);

/* Under the pool lock: a span of n pages for a large block (slab_cls < 0)
 * or a slab of class slab_cls for arena `arena`, its header written before
 * the page map names it. Returns its head page, 0 when no free span is
 * large enough. *dirty (may be NULL) tells whether its pages may hold old
 * bytes. */
uint32_t mp__pages_take(uint32_t n, int slab_cls, unsigned arena, bool *dirty);

/* Under the pool lock: returns the span at page (a large block, a slab, a
 * DEFERRED or an OUT span) to the pool, merged with its free neighbours. */
void mp__pages_give(uint32_t page);

/* Without the pool lock: frees large block `page` (the caller's) with one
 * store, to be binned by the next lock holder. Never waits. */
void mp__pages_defer(uint32_t page);

/* Punches the spans the calling thread took out while over the dirty
 * budget, and puts them back. Call with no heap lock held, and never
 * between taking a block and handing it to the caller: an allocation
 * punches what is left before it takes, so that a kill inside these
 * system calls loses no block. */
void mp__pages_punch_pending(void);

/* Takes the pool lock (until d), rebuilds everything derived by a walk,
 * and brings back the OUT spans of dead threads (their owners checked
 * with the lock released). 0 or MP_ETIMEDOUT. */
int mp__pages_rebuild(const mp__deadline *d);

/* Walks the page map: calls fn for each slab head. Under the pool lock. */
void mp__pages_each_slab(void (*fn)(uint32_t page, void *arg), void *arg);

/* Statistics and checks. */
size_t mp__pages_largest_bytes(void);
int mp__pages_check(int64_t *large_pages, char *why, size_t cap);

/* Sets up the pool of a fresh heap. */
void mp__pages_init(void);

/* ---- slab.c --------------------------------------------------------------- */

/* Allocates one block of class cls from some arena, waiting for locks
 * until d. NULL with errno ENOMEM or ETIMEDOUT. */
void *mp__arena_alloc(unsigned cls, const mp__deadline *d);

/* Moves up to n free blocks of class cls onto tc's list (the calling
 * thread's cache), under one arena lock taken before d. Returns how many
 * (0 with errno ENOMEM or ETIMEDOUT). */
uint32_t mp__arena_refill(struct mp__tcache *tc, unsigned cls, uint32_t n, const mp__deadline *d);

/* Returns up to n blocks from the head of tc's list for class cls to their
 * slabs. wait: take the arena locks before d; otherwise only when free.
 * Returns the number sent back. */
uint32_t mp__arena_flush(struct mp__tcache *tc, unsigned cls, uint32_t n, const mp__deadline *d);

/* Returns every empty slab of every arena to the page pool (waiting until
 * d); takes over dead holders. */
void mp__arena_trim(const mp__deadline *d);

/* Frees a small block of a thread without a cache. */
void mp__arena_free_block(struct mp__slab *s, void *p);

/* Every arena lock (until d; dead holders taken over), for checks. */
int mp__arena_lock_all(const mp__deadline *d);
void mp__arena_unlock_all(void);

void mp__arena_init(void);
int mp__arena_check(int64_t *slab_pages, char *why, size_t cap);
int64_t mp__arena_used_bytes(void);
int64_t mp__arena_cap_bytes(void);

/* ---- tcache.c -------------------------------------------------------------- */

extern __thread struct mp__tcache *mp__tls_cache __attribute__((tls_model("initial-exec")));
extern __thread unsigned mp__tls_cache_gen __attribute__((tls_model("initial-exec")));
struct mp__tcache *mp__tcache_register(void);

/* mp__tcache_mine returns the calling thread's cache, registering it on
 * first use (and again in a forked child); NULL when none is free. */
static inline struct mp__tcache *mp__tcache_mine(void)
{
    if (__builtin_expect(mp__tls_cache_gen == mp__fork.gen, 1))
        return mp__tls_cache;
    return mp__tcache_register();
}

/* Sends blocks back from a class list that is full (the free path). */
void mp__tcache_overflow(struct mp__tcache *tc, unsigned cls);

/* Empties the calling thread's cache (waiting for locks until d). */
void mp__tcache_drain(const mp__deadline *d);

/* Empties the caches of dead threads: all records when full, else a few. */
void mp__tcache_reclaim(bool full, const mp__deadline *d);

/* Bytes held in all caches (statistics), and a consistency check. */
int64_t mp__tcache_bytes(void);
int mp__tcache_check(char *why, size_t cap);

void mp__tcache_init(void);

#endif
