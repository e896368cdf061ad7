/* slab.c - arenas: slabs of one size class cut into blocks, each slab's
 * used-bitmap saying which blocks are handed out.
 *
 * A block is handed out (malloc) or comes back (a thread cache sending
 * blocks back) under its arena's lock; the bit is the truth and changes
 * with one store. The lists of slabs with free blocks and the counters are
 * derived and rebuilt by a walk when a holder is found dead. What a holder
 * is in the middle of is written in the arena first (the intent), so the
 * thread that takes the lock over finishes or undoes it:
 *   ALLOC (block b being handed out): the caller never got b, so its bit
 *     is cleared again;
 *   FLUSH (block b going from cache c back to its slab): if b has left c's
 *     list, its bit is cleared (again); if not, nothing happened;
 *   REFILL (block b going from its slab onto cache c's list, the cache of
 *     the lock holder): if b is not at the head of c's list it never got
 *     there, so its bit is cleared; if it is, it did.
 * FLUSH and REFILL share one rule, "not at the head: clear the bit": b is
 * at the head exactly while it is on the list, since pops and pushes
 * happen at the head one block at a time under this lock. A holder's
 * "done" is the store that clears the intent: just before the unlock for
 * ALLOC, with the bit for FLUSH (see put_back).
 *
 * Waiting. An allocating thread tries its home arena, then every other,
 * and only then waits for its home arena until its deadline. Sending
 * blocks back never waits: a thread cache keeps what it cannot send (see
 * tcache.c). An empty slab goes back to the page pool at once, when the
 * pool lock is free. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "heap/layout.h"
#include "os/panic.h"

#define H mp__H

static inline struct mp__arena *arena_at(unsigned i)
{
    return &mp__H->arena[i];
}

/* slab_of returns the slab holding block p (a block known to be in one). */
static struct mp__slab *slab_of(const void *p)
{
    uint32_t pg = mp__page_of(p);
    uint64_t t = mp__tag(pg);
    if (MP__TAG_KIND(t) == MP__PK_SLABIN) {
        pg = atomic_load_explicit(&mp__PM[pg].head, memory_order_relaxed);
        t = mp__tag(pg);
    }
    if (MP__TAG_KIND(t) != MP__PK_SLAB)
        mp__panic("shared heap: block %p is in no slab", p);
    return mp__slab_at(pg);
}

/* ---- the list of slabs with a free block (derived; under the lock) ----- */

static void list_push(struct mp__arena *a, struct mp__slab *s)
{
    uint32_t pg = mp__page_of(s);
    s->prev = 0;
    s->next = a->partial[s->cls];
    if (s->next != 0)
        mp__slab_at(s->next)->prev = pg;
    a->partial[s->cls] = pg;
    s->listed = 1;
}

static void list_remove(struct mp__arena *a, struct mp__slab *s)
{
    if (s->prev != 0)
        mp__slab_at(s->prev)->next = s->next;
    else
        a->partial[s->cls] = s->next;
    if (s->next != 0)
        mp__slab_at(s->next)->prev = s->prev;
    s->next = s->prev = 0;
    s->listed = 0;
}

/* ---- taking over and repairing ------------------------------------------ */

/* resolve_intent finishes or undoes what a dead holder was doing (see the
 * top of the file). Needs only the arena lock. */
static void resolve_intent(struct mp__arena *a)
{
    unsigned op = atomic_load_explicit(&a->op, memory_order_acquire);
    if (op != MP__OP_NONE) {
        void *b = a->op_block;
        /* FLUSH and REFILL: see the top of the file. */
        bool undo = op == MP__OP_ALLOC || a->op_cache->bin[a->op_cls].head != b;
        if (undo) {
            struct mp__slab *s = slab_of(b);
            uint32_t i = mp__block_index(s, b);
            if (i == UINT32_MAX)
                mp__panic("shared heap: arena intent names no block (%p)", b);
            if (mp__bit_get(s, i)) {
                mp__bit_put(s, i, false);
                mp__count(&a->used_bytes, -(int64_t)mp__class_size[s->cls]);
            }
        }
    }
    atomic_store_explicit(&a->op, MP__OP_NONE, memory_order_release);
}

struct rebuild_ctx {
    struct mp__arena *a;
    unsigned index;
    int64_t used, cap;
};

static void rebuild_slab(uint32_t pg, void *arg)
{
    struct rebuild_ctx *c = arg;
    struct mp__slab *s = mp__slab_at(pg);
    if (s->arena != c->index)
        return;
    if (s->magic != MP__SLAB_MAGIC || s->cls >= MP__NCLASSES ||
        s->nblocks != mp__class_blocks[s->cls] || s->first != mp__class_first[s->cls])
        mp__panic("shared heap: slab at page %u corrupted", pg);
    uint32_t n = 0;
    for (uint32_t w = 0; w < (s->nblocks + 63) / 64; w++)
        n += (uint32_t)__builtin_popcountll(atomic_load(&s->used[w]));
    s->nused = n;
    s->hint = 0;
    s->listed = 0;
    c->used += (int64_t)n * mp__class_size[s->cls];
    c->cap += (int64_t)s->nblocks * mp__class_size[s->cls];
    if (n < s->nblocks)
        list_push(c->a, s);
}

/* repair rebuilds a's lists and counters from the slabs the page map names
 * (which takes the pool lock: until d, or only if free when d is NULL).
 * Returns 0, or MP_ETIMEDOUT (then need_repair stays set). */
static int repair(struct mp__arena *a, const mp__deadline *d)
{
    if (H->magic != MP__HEAP_MAGIC)
        mp__panic("shared heap header corrupted (magic %#llx)", (unsigned long long)H->magic);
    if (d != NULL ? mp__pages_lock(d) != 0 : !mp__pages_trylock())
        return MP_ETIMEDOUT;
    memset(a->partial, 0, sizeof a->partial);
    struct rebuild_ctx c = {.a = a, .index = (unsigned)(a - arena_at(0))};
    mp__pages_each_slab(rebuild_slab, &c);
    mp__pages_unlock();
    atomic_store_explicit(&a->used_bytes, c.used, memory_order_relaxed);
    atomic_store_explicit(&a->cap_bytes, c.cap, memory_order_relaxed);
    a->need_repair = 0;
    return 0;
}

/* lock takes a's lock: d NULL only if it is free (no system call), else
 * until d (an expired d tries once, taking over a dead holder). A taken
 * over arena gets its intent resolved and a repair attempt; it may stay
 * need_repair (lists unusable, bits still fine). 0 or MP_ETIMEDOUT. */
static int lock(struct mp__arena *a, const mp__deadline *d)
{
    if (d == NULL) {
        if (!mp__lock_tryacquire(&a->lock))
            return MP_ETIMEDOUT;
    } else {
        int rc = mp__lock_acquire(&a->lock, d);
        if (rc == MP_EOWNERDEAD) {
            a->need_repair = 1;
            resolve_intent(a);
        } else if (rc != 0) {
            return rc;
        }
    }
    if (a->need_repair)
        repair(a, d);
    return 0;
}

static void unlock(struct mp__arena *a)
{
    mp__lock_release(&a->lock);
}

/* ---- handing out ---------------------------------------------------------- */

/* new_slab gets a slab of class cls for a from the page pool. */
static struct mp__slab *new_slab(struct mp__arena *a, unsigned cls, const mp__deadline *d)
{
    if (mp__pages_lock(d) != 0) {
        errno = ETIMEDOUT;
        return NULL;
    }
    uint32_t pg = mp__pages_take(mp__class_pages[cls], (int)cls, (unsigned)(a - arena_at(0)), NULL);
    mp__pages_unlock();
    if (pg == 0) {
        errno = ENOMEM;
        return NULL;
    }
    struct mp__slab *s = mp__slab_at(pg);
    list_push(a, s);
    mp__count(&a->cap_bytes, (int64_t)s->nblocks * mp__class_size[cls]);
    mp__heap_sample_peak(0);
    return s;
}

/* alloc_in hands out one block of class cls from a (locked, repaired). */
static void *alloc_in(struct mp__arena *a, unsigned cls, const mp__deadline *d)
{
    struct mp__slab *s;
    if (a->partial[cls] != 0)
        s = mp__slab_at(a->partial[cls]);
    else if ((s = new_slab(a, cls, d)) == NULL)
        return NULL;
    uint32_t words = (s->nblocks + 63) / 64, w = s->hint < words ? s->hint : 0;
    for (uint32_t k = 0; k < words; k++, w = w + 1 == words ? 0 : w + 1) {
        uint64_t valid = ~(uint64_t)0;
        if (w == words - 1 && (s->nblocks & 63) != 0)
            valid = ((uint64_t)1 << (s->nblocks & 63)) - 1;
        uint64_t f = ~atomic_load_explicit(&s->used[w], memory_order_relaxed) & valid;
        if (f == 0)
            continue;
        uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(f);
        void *b = mp__block_at(s, i);
        a->op_block = b;
        atomic_store_explicit(&a->op, MP__OP_ALLOC, memory_order_release);
        mp__bit_put(s, i, true); /* the commit */
        s->hint = w;
        if (++s->nused == s->nblocks)
            list_remove(a, s);
        mp__count(&a->used_bytes, mp__class_size[cls]);
        atomic_store_explicit(&a->op, MP__OP_NONE, memory_order_release);
        return b;
    }
    mp__panic("shared heap: slab at page %u listed with no free block", mp__page_of(s));
}

/* refill_in moves up to n free blocks of class cls from a's slabs onto
 * tc's list (the caller's own cache), taking a new slab only while it has
 * none. Returns how many. */
static uint32_t refill_in(struct mp__arena *a, struct mp__tcache *tc, unsigned cls, uint32_t n,
                          const mp__deadline *d)
{
    struct mp__tbin *bin = &tc->bin[cls];
    uint32_t got = 0;
    while (got < n) {
        struct mp__slab *s;
        if (a->partial[cls] != 0)
            s = mp__slab_at(a->partial[cls]);
        else if (got > 0 || (s = new_slab(a, cls, d)) == NULL)
            break;
        uint32_t words = (s->nblocks + 63) / 64, w = s->hint < words ? s->hint : 0;
        for (uint32_t k = 0; k < words && got < n; k++, w = w + 1 == words ? 0 : w + 1) {
            uint64_t valid = ~(uint64_t)0;
            if (w == words - 1 && (s->nblocks & 63) != 0)
                valid = ((uint64_t)1 << (s->nblocks & 63)) - 1;
            uint64_t f = ~atomic_load_explicit(&s->used[w], memory_order_relaxed) & valid;
            for (; f != 0 && got < n; f &= f - 1) {
                uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(f);
                void **b = mp__block_at(s, i);
                a->op_cache = tc;
                a->op_cls = cls;
                a->op_block = b;
                atomic_store_explicit(&a->op, MP__OP_REFILL, memory_order_release);
                b[0] = bin->head; /* b is free: nobody else writes it */
                b[1] = NULL;
                mp__bit_put(s, i, true); /* claimed */
                bin->head = b;           /* on the list */
                atomic_store_explicit(&bin->count, bin->count + 1, memory_order_relaxed);
                s->nused++;
                got++;
            }
            s->hint = w;
        }
        if (s->nused == s->nblocks)
            list_remove(a, s);
    }
    atomic_store_explicit(&a->op, MP__OP_NONE, memory_order_release);
    mp__count(&a->used_bytes, (int64_t)got * mp__class_size[cls]);
    return got;
}

/* pick_arena locks some arena whose lists are usable: any free one first
 * (a stopped or busy holder of one never delays us while another is
 * free), else the home arena, waiting until d. NULL with errno ETIMEDOUT. */
static struct mp__arena *pick_arena(const mp__deadline *d)
{
    unsigned home = (unsigned)mp__tid() % MP__ARENAS;
    for (unsigned k = 0; k < MP__ARENAS; k++) {
        struct mp__arena *x = arena_at((home + k) % MP__ARENAS);
        if (lock(x, NULL) != 0)
            continue;
        if (!x->need_repair)
            return x;
        unlock(x);
    }
    struct mp__arena *a = arena_at(home);
    if (lock(a, d) == 0) {
        if (!a->need_repair)
            return a;
        unlock(a); /* the pool lock did not come in time for the repair */
    }
    errno = ETIMEDOUT;
    return NULL;
}

uint32_t mp__arena_refill(struct mp__tcache *tc, unsigned cls, uint32_t n, const mp__deadline *d)
{
    struct mp__arena *a = pick_arena(d);
    if (a == NULL)
        return 0;
    uint32_t got = refill_in(a, tc, cls, n, d);
    unlock(a);
    mp__pages_punch_pending();
    return got;
}

void *mp__arena_alloc(unsigned cls, const mp__deadline *d)
{
    /* Before taking, never after (alloc_large in heap.c says why). */
    mp__pages_punch_pending();
    struct mp__arena *a = pick_arena(d);
    if (a == NULL)
        return NULL;
    void *p = alloc_in(a, cls, d);
    unlock(a);
    return p;
}

/* ---- coming back ------------------------------------------------------------ */

/* retire gives empty slab s of a back to the page pool, if the pool lock
 * can be had (d NULL: only if free). */
static bool retire(struct mp__arena *a, struct mp__slab *s, const mp__deadline *d)
{
    if (d != NULL ? mp__pages_lock(d) != 0 : !mp__pages_trylock())
        return false;
    list_remove(a, s);
    mp__count(&a->cap_bytes, -(int64_t)s->nblocks * mp__class_size[s->cls]);
    mp__pages_give(mp__page_of(s));
    mp__pages_unlock();
    return true;
}

/* put_back clears block i of s (a locked) and keeps the lists. A caller
 * that wrote an intent has it cleared with the bit: past that store the
 * block is back, and what follows (lists, counters, giving an empty slab
 * to the pool, whose pages another slab may then reuse) is derived work a
 * repair redoes, never something to undo. */
static void put_back(struct mp__arena *a, struct mp__slab *s, uint32_t i)
{
    mp__bit_put(s, i, false);
    atomic_store_explicit(&a->op, MP__OP_NONE, memory_order_release);
    mp__count(&a->used_bytes, -(int64_t)mp__class_size[s->cls]);
    if (a->need_repair)
        return; /* lists unusable until the repair, which recounts */
    if (s->nused-- == s->nblocks)
        list_push(a, s);
    /* An empty slab goes back to the pool, unless it is the class's only
     * one with room (the next malloc would fetch another at once). */
    if (s->nused == 0 && (a->partial[s->cls] != mp__page_of(s) || s->next != 0))
        retire(a, s, NULL);
}

static uint32_t checked_index(struct mp__slab *s, void *b)
{
    uint32_t i = mp__block_index(s, b);
    if (i == UINT32_MAX || !mp__bit_get(s, i))
        mp__panic("shared heap: %p freed but not allocated (double free?)", b);
    return i;
}

uint32_t mp__arena_flush(struct mp__tcache *tc, unsigned cls, uint32_t n, const mp__deadline *d)
{
    struct mp__tbin *bin = &tc->bin[cls];
    struct mp__arena *held = NULL;
    uint32_t done = 0;
    while (done < n && bin->head != NULL) {
        void *b = bin->head;
        struct mp__slab *s = slab_of(b);
        struct mp__arena *a = arena_at(s->arena);
        if (a != held) {
            if (held != NULL)
                unlock(held);
            held = NULL;
            if (lock(a, d) != 0)
                break;
            held = a;
        }
        uint32_t i = checked_index(s, b);
        a->op_cache = tc;
        a->op_cls = cls;
        a->op_block = b;
        atomic_store_explicit(&a->op, MP__OP_FLUSH, memory_order_release);
        bin->head = *(void **)b; /* leaves the cache */
        atomic_store_explicit(&bin->count, bin->count - 1, memory_order_relaxed);
        put_back(a, s, i); /* back in its slab; clears the intent */
        done++;
    }
    if (held != NULL)
        unlock(held);
    if (bin->head == NULL)
        atomic_store_explicit(&bin->count, 0, memory_order_relaxed);
    mp__pages_punch_pending();
    return done;
}

void mp__arena_free_block(struct mp__slab *s, void *p)
{
    /* A thread without a cache (more than MP__CACHES threads at once):
     * no place to keep the block, so this one waits for the lock. */
    static const mp__deadline forever = {.forever = true};
    struct mp__arena *a = arena_at(s->arena);
    lock(a, &forever);
    put_back(a, s, checked_index(s, p));
    unlock(a);
    mp__pages_punch_pending();
}

void mp__arena_trim(const mp__deadline *d)
{
    for (unsigned k = 0; k < MP__ARENAS; k++) {
        struct mp__arena *a = arena_at(k);
        if (lock(a, d) != 0)
            continue;
        for (unsigned c = 0; c < MP__NCLASSES && !a->need_repair; c++) {
            uint32_t pg = a->partial[c];
            while (pg != 0) {
                struct mp__slab *s = mp__slab_at(pg);
                pg = s->next;
                if (s->nused == 0)
                    retire(a, s, d);
            }
        }
        unlock(a);
    }
    mp__pages_punch_pending();
}

/* ---- statistics, set-up, checks -------------------------------------------- */

int64_t mp__arena_used_bytes(void)
{
    int64_t v = 0;
    for (unsigned k = 0; k < MP__ARENAS; k++)
        v += atomic_load_explicit(&arena_at(k)->used_bytes, memory_order_relaxed);
    return v;
}

int64_t mp__arena_cap_bytes(void)
{
    int64_t v = 0;
    for (unsigned k = 0; k < MP__ARENAS; k++)
        v += atomic_load_explicit(&arena_at(k)->cap_bytes, memory_order_relaxed);
    return v;
}

int mp__arena_lock_all(const mp__deadline *d)
{
    for (unsigned k = 0; k < MP__ARENAS; k++)
        if (lock(arena_at(k), d) != 0) {
            while (k-- > 0)
                unlock(arena_at(k));
            return MP_ETIMEDOUT;
        }
    return 0;
}

void mp__arena_unlock_all(void)
{
    for (unsigned k = 0; k < MP__ARENAS; k++)
        unlock(arena_at(k));
}

void mp__arena_init(void)
{
    for (unsigned k = 0; k < MP__ARENAS; k++)
        mp__lock_init(&arena_at(k)->lock);
}

struct check_ctx {
    int64_t used[MP__ARENAS], cap[MP__ARENAS], pages;
    int64_t listed[MP__ARENAS][MP__NCLASSES];
    char *why;
    size_t len;
    int bad;
};

static void check_slab(uint32_t pg, void *arg)
{
    struct check_ctx *c = arg;
    struct mp__slab *s = mp__slab_at(pg);
    if (c->bad)
        return;
    if (s->magic != MP__SLAB_MAGIC || s->cls >= MP__NCLASSES || s->arena >= MP__ARENAS ||
        s->nblocks != mp__class_blocks[s->cls] || s->first != mp__class_first[s->cls] ||
        MP__TAG_LEN(mp__tag(pg)) != mp__class_pages[s->cls]) {
        snprintf(c->why, c->len, "slab at page %u: bad header", pg);
        c->bad = 1;
        return;
    }
    uint32_t n = 0, words = (s->nblocks + 63) / 64;
    for (uint32_t w = 0; w < words; w++)
        n += (uint32_t)__builtin_popcountll(atomic_load(&s->used[w]));
    if ((s->nblocks & 63) != 0 && (atomic_load(&s->used[words - 1]) >> (s->nblocks & 63)) != 0) {
        snprintf(c->why, c->len, "slab at page %u: bits past its last block", pg);
        c->bad = 1;
        return;
    }
    struct mp__arena *a = arena_at(s->arena);
    if (!a->need_repair && (s->nused != n || s->listed != (n < s->nblocks))) {
        snprintf(c->why, c->len, "slab at page %u: nused %u, bits %u, listed %u", pg, s->nused, n,
                 s->listed);
        c->bad = 1;
        return;
    }
    c->used[s->arena] += (int64_t)n * mp__class_size[s->cls];
    c->cap[s->arena] += (int64_t)s->nblocks * mp__class_size[s->cls];
    c->listed[s->arena][s->cls] += n < s->nblocks;
    c->pages += mp__class_pages[s->cls];
}

/* Under every arena lock and the pool lock. */
int mp__arena_check(int64_t *slab_pages, char *why, size_t cap)
{
    static struct check_ctx c;
    memset(&c, 0, sizeof c);
    c.why = why;
    c.len = cap;
    mp__pages_each_slab(check_slab, &c);
    if (c.bad)
        return -1;
    for (unsigned k = 0; k < MP__ARENAS; k++) {
        struct mp__arena *a = arena_at(k);
        if (a->need_repair)
            continue;
        if (atomic_load(&a->op) != MP__OP_NONE) {
            snprintf(why, cap, "arena %u: intent %u left behind", k, atomic_load(&a->op));
            return -1;
        }
        if (atomic_load(&a->used_bytes) != c.used[k] || atomic_load(&a->cap_bytes) != c.cap[k]) {
            snprintf(why, cap, "arena %u: used %lld (bits %lld), cap %lld (slabs %lld)", k,
                     (long long)atomic_load(&a->used_bytes), (long long)c.used[k],
                     (long long)atomic_load(&a->cap_bytes), (long long)c.cap[k]);
            return -1;
        }
        for (unsigned cls = 0; cls < MP__NCLASSES; cls++) {
            int64_t n = 0;
            uint32_t prev = 0;
            for (uint32_t pg = a->partial[cls]; pg != 0; prev = pg, pg = mp__slab_at(pg)->next) {
                struct mp__slab *s = mp__slab_at(pg);
                if (s->cls != cls || s->arena != k || s->prev != prev || !s->listed ||
                    ++n > c.listed[k][cls]) {
                    snprintf(why, cap, "arena %u class %u: list holds slab %u wrongly", k, cls, pg);
                    return -1;
                }
            }
            if (n != c.listed[k][cls]) {
                snprintf(why, cap, "arena %u class %u: %lld slabs listed, %lld with room", k, cls,
                         (long long)n, (long long)c.listed[k][cls]);
                return -1;
            }
        }
    }
    *slab_pages = c.pages;
    return 0;
}
