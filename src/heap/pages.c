/* pages.c - the page pool: spans of whole pages, free ones coalesced and
 * found by length, dirty ones given back to the system lazily.
 *
 * The page map's heads are the truth (layout.h); the bins, the dirty list
 * and the counters are rebuilt from them by rebuild() when a holder of the
 * pool lock is found dead. The lock is held only for list operations: a
 * span whose pages must be punched is marked OUT under the lock, punched
 * outside it, and put back.
 *
 * Dirty pages. A page whose dirty bit is set may hold data (and memory);
 * a clear one reads as zeros. Bits are set before a span is handed out and
 * cleared only after a successful punch, so they never claim "clean" for a
 * page that is not. Dirty pages stay in the pool up to a budget (dirty_max
 * and twice what large blocks use now: dirty_budget), the most recently
 * freed ones, because reusing them costs no page fault (a queue's
 * out-of-line messages of a few hundred KiB come and go all the time);
 * past that, the oldest are punched. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "heap/layout.h"
#include "os/alive.h"
#include "os/memfile.h"
#include "os/panic.h"

#define H  mp__H
#define PM mp__PM
#define DB mp__DB
#define P  (&mp__H->pool)

/* Spans one operation may take out to punch before returning. */
#define PUNCH_BATCH 8
/* Pages punched in one piece: a longer dirty run is split, so that a
 * process stopped while punching keeps little out of use. */
#define PUNCH_MAX 4096
/* Entries of a list searched for a fitting span before going further. */
#define FIT_SCAN 16

/* Spans this thread took out to punch, handed to mp__pages_punch_pending. */
static __thread uint32_t punch_list[PUNCH_BATCH];
static __thread uint32_t punch_n;

static inline uint32_t len_of(uint32_t h)
{
    return MP__TAG_LEN(mp__tag(h));
}

static inline void set_head(uint32_t page, uint32_t head)
{
    atomic_store_explicit(&PM[page].head, head, memory_order_relaxed);
}

/* ---- the dirty bitmap ---------------------------------------------------- */

static void dirty_mark(uint32_t a, uint32_t n, bool on)
{
    while (n > 0) {
        uint32_t bit = a & 63, k = 64 - bit < n ? 64 - bit : n;
        uint64_t m = (k == 64 ? ~(uint64_t)0 : (((uint64_t)1 << k) - 1)) << bit;
        if (on)
            atomic_fetch_or_explicit(&DB[a >> 6], m, memory_order_relaxed);
        else
            atomic_fetch_and_explicit(&DB[a >> 6], ~m, memory_order_relaxed);
        a += k;
        n -= k;
    }
}

static uint32_t dirty_count(uint32_t a, uint32_t n)
{
    uint32_t c = 0;
    while (n > 0) {
        uint32_t bit = a & 63, k = 64 - bit < n ? 64 - bit : n;
        uint64_t m = (k == 64 ? ~(uint64_t)0 : (((uint64_t)1 << k) - 1)) << bit;
        c += (uint32_t)__builtin_popcountll(
            atomic_load_explicit(&DB[a >> 6], memory_order_relaxed) & m);
        a += k;
        n -= k;
    }
    return c;
}

/* dirty_find returns the first page in [a, end) whose bit is `on`, or end. */
static uint32_t dirty_find(uint32_t a, uint32_t end, bool on)
{
    while (a < end) {
        uint64_t w = atomic_load_explicit(&DB[a >> 6], memory_order_relaxed);
        if (!on)
            w = ~w;
        w &= ~(uint64_t)0 << (a & 63);
        if (w != 0) {
            uint32_t p = (a & ~63u) + (uint32_t)__builtin_ctzll(w);
            return p < end ? p : end;
        }
        a = (a & ~63u) + 64;
    }
    return end;
}

/* ---- bins and the dirty list (derived; under the lock) ------------------ */

static unsigned bin_of(uint32_t n)
{
    if (n <= 32)
        return n - 1;
    unsigned p = 31u - (unsigned)__builtin_clz(n);
    return 32 + (p - 5) * 4 + ((n >> (p - 2)) & 3);
}

static unsigned top_bin(void)
{
    for (int w = 2; w >= 0; w--)
        if (P->nonempty[w] != 0)
            return (unsigned)w * 64 + 63u - (unsigned)__builtin_clzll(P->nonempty[w]);
    return MP__BINS;
}

/* next_bin returns the first non-empty bin at or above b, MP__BINS if none. */
static unsigned next_bin(unsigned b)
{
    for (unsigned w = b / 64; w < 3; w++) {
        uint64_t m = P->nonempty[w];
        if (w == b / 64)
            m &= ~(uint64_t)0 << (b & 63);
        if (m != 0)
            return w * 64 + (unsigned)__builtin_ctzll(m);
    }
    return MP__BINS;
}

static void update_largest(void)
{
    unsigned b = top_bin();
    uint32_t best = 0;
    if (b < MP__BINS) {
        uint32_t h = P->bin[b];
        for (int i = 0; h != 0 && i < 4 * FIT_SCAN; i++, h = PM[h].next)
            if (len_of(h) > best)
                best = len_of(h);
    }
    atomic_store_explicit(&P->largest, best, memory_order_relaxed);
}

/* free_insert puts FREE head h into its bin and, if dirty, at the new end
 * of the dirty list, and counts it. */
static void free_insert(uint32_t h)
{
    struct mp__pent *e = &PM[h];
    uint32_t len = len_of(h);
    unsigned b = bin_of(len);
    e->prev = 0;
    e->next = P->bin[b];
    if (e->next != 0)
        PM[e->next].prev = h;
    P->bin[b] = h;
    P->nonempty[b / 64] |= (uint64_t)1 << (b & 63);
    if (e->ndirty > 0) {
        e->lnext = 0;
        e->lprev = P->lru_new;
        if (P->lru_new != 0)
            PM[P->lru_new].lnext = h;
        else
            P->lru_old = h;
        P->lru_new = h;
    }
    mp__count(&P->free_pages, len);
    mp__count(&P->dirty_pages, e->ndirty);
}

static void free_remove(uint32_t h)
{
    struct mp__pent *e = &PM[h];
    uint32_t len = len_of(h);
    unsigned b = bin_of(len);
    if (e->prev != 0)
        PM[e->prev].next = e->next;
    else
        P->bin[b] = e->next;
    if (e->next != 0)
        PM[e->next].prev = e->prev;
    if (P->bin[b] == 0)
        P->nonempty[b / 64] &= ~((uint64_t)1 << (b & 63));
    if (e->ndirty > 0) {
        if (e->lprev != 0)
            PM[e->lprev].lnext = e->lnext;
        else
            P->lru_old = e->lnext;
        if (e->lnext != 0)
            PM[e->lnext].lprev = e->lprev;
        else
            P->lru_new = e->lprev;
    }
    mp__count(&P->free_pages, -(int64_t)len);
    mp__count(&P->dirty_pages, -(int64_t)e->ndirty);
}

/* ---- splitting and merging (each step keeps the tiling whole) ---------- */

/* make_free turns the head of a span [h, h+len) that no list holds into a
 * FREE span with ndirty dirty pages; not yet in a bin. */
static void make_free(uint32_t h, uint32_t len, uint32_t ndirty)
{
    PM[h].ndirty = ndirty;
    set_head(h + len - 1, h);
    mp__set_tag(h, MP__TAG(MP__PK_FREE, len));
}

/* coalesce merges FREE span h (in no list) with FREE neighbours; returns
 * the head of the merged span. The span that becomes interior is marked
 * MERGING first (a walk reads it as free), then the other grows with one
 * store. */
static uint32_t coalesce(uint32_t h)
{
    uint32_t len = len_of(h);
    uint32_t r = h + len;
    if (r < H->npages) {
        uint64_t rt = mp__tag(r);
        if (MP__TAG_KIND(rt) == MP__PK_FREE) {
            uint32_t rl = MP__TAG_LEN(rt);
            free_remove(r);
            mp__set_tag(r, MP__TAG(MP__PK_MERGING, rl));
            PM[h].ndirty += PM[r].ndirty;
            set_head(r + rl - 1, h);
            mp__set_tag(h, MP__TAG(MP__PK_FREE, len + rl));
            len += rl;
        }
    }
    if (h > H->first_page) {
        uint32_t l = atomic_load_explicit(&PM[h - 1].head, memory_order_relaxed);
        if (l >= H->first_page && l < h) {
            uint64_t lt = mp__tag(l);
            if (MP__TAG_KIND(lt) == MP__PK_FREE && l + MP__TAG_LEN(lt) == h) {
                free_remove(l);
                mp__set_tag(h, MP__TAG(MP__PK_MERGING, len));
                PM[l].ndirty += PM[h].ndirty;
                set_head(h + len - 1, l);
                mp__set_tag(l, MP__TAG(MP__PK_FREE, MP__TAG_LEN(lt) + len));
                h = l;
            }
        }
    }
    return h;
}

/* carve splits [d, e) out of FREE span h (in no list, h <= d < e <= its
 * end) as a span of kind `kind`: the right rest's head first, then the
 * carved head, then the left rest shrinks (the commit when d > h). The
 * rests go back to their bins. Dirty pages are counted in the smaller
 * parts only (left holds left_dirty, [d, e) mid_dirty), so that carving
 * from a huge span costs what is carved, not the span. */
static void carve(uint32_t h, uint32_t d, uint32_t e, uint64_t tag, uint32_t left_dirty,
                  uint32_t mid_dirty)
{
    uint32_t end = h + len_of(h);
    uint32_t right_dirty = PM[h].ndirty - left_dirty - mid_dirty;
    if (e < end)
        make_free(e, end - e, right_dirty);
    set_head(e - 1, d);
    mp__set_tag(d, tag);
    if (d > h) {
        make_free(h, d - h, left_dirty);
        free_insert(h);
    }
    if (e < end)
        free_insert(e);
}

/* ---- punching (pages back to the system, outside the lock) -------------- */

/* What large_recent loses at a large free, as a fraction: a 32nd once
 * RECENT_RUN large frees came in a row (a program letting go of what it
 * held), a 1024th while takes come between them (blocks cycling: a
 * queue's chunks), so that a peak seen a moment ago still counts. */
#define RECENT_DECAY      32
#define RECENT_DECAY_SLOW 1024
#define RECENT_RUN        16

/* large_count adds delta pages to what large blocks use, keeping the
 * recent peak. Lock held. */
static void large_count(int64_t delta)
{
    if (delta > 0) {
        P->large_free_run = 0;
    } else {
        if (P->large_free_run < UINT32_MAX)
            P->large_free_run++;
        P->large_recent -=
            P->large_recent / (P->large_free_run > RECENT_RUN ? RECENT_DECAY : RECENT_DECAY_SLOW);
    }
    mp__count(&P->large_pages, delta);
    int64_t in_use = atomic_load_explicit(&P->large_pages, memory_order_relaxed);
    if (P->large_recent < in_use)
        P->large_recent = in_use;
}

/* dirty_budget is how many dirty free pages the pool keeps: dirty_max
 * plus twice what large blocks used recently (at most a sixteenth of the
 * heap). A program that keeps U bytes of large blocks coming and going (a
 * queue's chunks: one or two in use, ten while a consumer is preempted in
 * the middle of one) then reuses its own pages instead of having them
 * punched and faulted in again, by every process that maps them, at every
 * turn: with the peak decaying by a 32nd at every chunk free, 64 KiB
 * messages across cores punched 20 000 pages a second and ran at 0.65x
 * Boost. "Recently": the most in use, decaying slowly while blocks are
 * taken between frees, so the budget does not drop in the trough of such
 * a cycle, and fast once frees come alone: a program that frees
 * everything falls back to dirty_max within a few hundred frees. Lock
 * held. */
static int64_t dirty_budget(void)
{
    int64_t cap = (int64_t)(H->npages / 16);
    int64_t b = (int64_t)H->dirty_max + 2 * (P->large_recent > 0 ? P->large_recent : 0);
    return b < cap ? b : cap;
}

/* collect_punches takes the oldest dirty spans out (OUT, owned by this
 * thread) while the pool holds more dirty pages than its budget allows. */
static void collect_punches(void)
{
    int64_t target = dirty_budget() / 2;
    while (!P->punch_broken && punch_n < PUNCH_BATCH &&
           atomic_load_explicit(&P->dirty_pages, memory_order_relaxed) > target) {
        uint32_t h = P->lru_old;
        if (h == 0)
            break;
        uint32_t end = h + len_of(h);
        uint32_t d = dirty_find(h, end, true);
        uint32_t e = dirty_find(d, end, false);
        if (e - d > PUNCH_MAX)
            e = d + PUNCH_MAX;
        if (d == end) /* cannot be: ndirty counts the bits of a free span */
            mp__panic("shared heap: dirty span at page %u has no dirty page", h);
        free_remove(h);
        PM[d].owner = (uint32_t)mp__tid();
        carve(h, d, e, MP__TAG(MP__PK_OUT, e - d), 0, e - d);
        punch_list[punch_n++] = d;
    }
}

static void over_budget(void)
{
    if (atomic_load_explicit(&P->dirty_pages, memory_order_relaxed) > dirty_budget())
        collect_punches();
}

static void add_hint(uint32_t page)
{
    for (unsigned k = 0; k < MP__HINTS; k++) {
        uint32_t zero = 0;
        if (atomic_compare_exchange_strong_explicit(&P->hint[(page + k) % MP__HINTS], &zero, page,
                                                    memory_order_release, memory_order_relaxed)) {
            atomic_store_explicit(&P->hint_pending, 1, memory_order_release);
            return;
        }
    }
    /* No slot: the next lock holder walks the page map instead. */
    atomic_fetch_add_explicit(&P->orphans, 1, memory_order_release);
    atomic_store_explicit(&P->hint_pending, 1, memory_order_release);
}

void mp__pages_punch_pending(void)
{
    while (punch_n > 0) {
        uint32_t d = punch_list[--punch_n];
        uint32_t n = len_of(d);
        /* A system call, so no lock is held: the span is ours (OUT). */
        int rc = mp__memfile_release(mp__page_addr(d), (size_t)n << MP__PAGE_SHIFT);
        if (rc == 0)
            dirty_mark(d, n, false);
        if (mp__pages_trylock()) {
            if (rc != 0)
                P->punch_broken = 1;
            mp__pages_give(d);
            mp__pages_unlock();
        } else {
            /* Never wait here (a free may be on this path): leave it for
             * the next lock holder. */
            mp__set_tag(d, MP__TAG(MP__PK_DEFERRED, n) | MP__TAG_PUTBACK);
            add_hint(d);
        }
    }
}

/* ---- the lock, the walk ------------------------------------------------- */

static void finish_run(uint32_t h, uint32_t len)
{
    make_free(h, len, dirty_count(h, len));
    free_insert(h);
}

/* rebuild makes the derived state whole again from the page map: it runs
 * when a holder of the pool lock died (or deferred frees found no hint).
 * Adjacent free spans merge and DEFERRED spans are binned. OUT spans stay
 * out: whether their owner lives is a system call, not made under the
 * lock (see mp__pages_rebuild). */
static void rebuild(void)
{
    if (H->magic != MP__HEAP_MAGIC)
        mp__panic("shared heap header corrupted (magic %#llx)", (unsigned long long)H->magic);
    /* A span being handed out by the dead holder never reached its
     * caller: free it. (Cleared by every holder before it unlocks.) */
    uint32_t op = P->op_page;
    if (op != 0) {
        uint64_t t = mp__tag(op);
        unsigned k = MP__TAG_KIND(t);
        if (k == MP__PK_LARGE || k == MP__PK_SLAB)
            mp__set_tag(op, MP__TAG(MP__PK_FREE, MP__TAG_LEN(t)));
        P->op_page = 0;
    }
    /* Hints first: one set after this points at a span the walk binned
     * (then no longer DEFERRED, so skipped) or at one it has not reached. */
    for (unsigned i = 0; i < MP__HINTS; i++)
        atomic_store_explicit(&P->hint[i], 0, memory_order_relaxed);
    atomic_store_explicit(&P->hint_pending, 0, memory_order_relaxed);
    atomic_store_explicit(&P->orphans, 0, memory_order_relaxed);
    memset(P->bin, 0, sizeof P->bin);
    memset(P->nonempty, 0, sizeof P->nonempty);
    P->lru_old = P->lru_new = 0;
    int64_t large = 0;
    atomic_store_explicit(&P->free_pages, 0, memory_order_relaxed);
    atomic_store_explicit(&P->dirty_pages, 0, memory_order_relaxed);

    uint32_t run = 0, runlen = 0;
    for (uint32_t p = H->first_page; p < H->npages;) {
        uint64_t t = mp__tag(p);
        uint32_t len = MP__TAG_LEN(t);
        unsigned k = MP__TAG_KIND(t);
        if (len == 0 || len > H->npages - p)
            mp__panic("shared heap page map corrupted at page %u (tag %#llx)", p,
                      (unsigned long long)t);
        bool freeish = k == MP__PK_FREE || k == MP__PK_DEFERRED || k == MP__PK_MERGING;
        if (freeish) {
            if (run != 0) {
                mp__set_tag(p, MP__TAG(MP__PK_MERGING, len));
                runlen += len;
                set_head(p + len - 1, run);
                mp__set_tag(run, MP__TAG(MP__PK_FREE, runlen));
            } else {
                run = p;
                runlen = len;
                set_head(p + len - 1, p);
                mp__set_tag(p, MP__TAG(MP__PK_FREE, len));
            }
        } else {
            if (run != 0)
                finish_run(run, runlen);
            run = 0;
            set_head(p + len - 1, p);
            if (k == MP__PK_LARGE)
                large += len;
            else if (k != MP__PK_SLAB && k != MP__PK_OUT)
                mp__panic("shared heap page map corrupted at page %u (kind %u)", p, k);
        }
        p += len;
    }
    if (run != 0)
        finish_run(run, runlen);
    atomic_store_explicit(&P->large_pages, large, memory_order_relaxed);
    update_largest();
}

/* drain_hints bins the spans freed without the lock since the last holder. */
static void drain_hints(void)
{
    /* An acquire even when nothing waits: a block freed here without the
     * lock may have been binned by a holder in another process, and the
     * one who takes its pages next must see the freer's writes as done
     * (a release/acquire pair ThreadSanitizer can follow, too). */
    if (atomic_load_explicit(&P->hint_pending, memory_order_acquire) == 0 ||
        atomic_exchange_explicit(&P->hint_pending, 0, memory_order_acquire) == 0)
        return;
    if (atomic_load_explicit(&P->orphans, memory_order_acquire) != 0) {
        rebuild();
        return;
    }
    for (unsigned i = 0; i < MP__HINTS; i++) {
        if (atomic_load_explicit(&P->hint[i], memory_order_relaxed) == 0)
            continue;
        uint32_t pg = atomic_exchange_explicit(&P->hint[i], 0, memory_order_acquire);
        /* Only a real head is ever DEFERRED: a merge marks a span MERGING
         * before it becomes interior, so a stale hint finds no DEFERRED. */
        if (pg >= H->first_page && pg < H->npages && MP__TAG_KIND(mp__tag(pg)) == MP__PK_DEFERRED)
            mp__pages_give(pg);
    }
}

/* Spans taken out to punch, as a walk found them: checked outside the
 * lock, given back under it if still out for the same (dead) owner. */
#define OUT_SCAN 64

int mp__pages_rebuild(const mp__deadline *d)
{
    int rc = mp__lock_acquire(&P->lock, d);
    if (rc != 0 && rc != MP_EOWNERDEAD)
        return rc;
    rebuild();
    uint32_t page[OUT_SCAN], owner[OUT_SCAN], n = 0;
    for (uint32_t p = H->first_page; p < H->npages && n < OUT_SCAN; p += len_of(p))
        if (MP__TAG_KIND(mp__tag(p)) == MP__PK_OUT) {
            page[n] = p;
            owner[n++] = PM[p].owner;
        }
    mp__pages_unlock();
    bool dead[OUT_SCAN];
    for (uint32_t i = 0; i < n; i++)
        dead[i] = !mp__tid_alive((pid_t)owner[i]);
    if (n == 0 || mp__pages_lock(d) != 0)
        return 0;
    for (uint32_t i = 0; i < n; i++)
        if (dead[i] && MP__TAG_KIND(mp__tag(page[i])) == MP__PK_OUT &&
            PM[page[i]].owner == owner[i])
            mp__pages_give(page[i]); /* its bits say what may still be dirty */
    mp__pages_unlock();
    return 0;
}

int mp__pages_lock(const mp__deadline *d)
{
    int rc = mp__lock_acquire(&P->lock, d);
    if (rc == MP_EOWNERDEAD)
        rebuild();
    else if (rc != 0)
        return rc;
    drain_hints();
    return 0;
}

bool mp__pages_trylock(void)
{
    if (!mp__lock_tryacquire(&P->lock))
        return false;
    drain_hints();
    return true;
}

void mp__pages_unlock(void)
{
    /* A take's intent stands until here: a holder killed after its take
     * but before this store still holds the lock, and the next holder's
     * rebuild frees the span that never reached its caller. */
    P->op_page = 0;
    mp__lock_release(&P->lock);
}

/* ---- taking and giving spans -------------------------------------------- */

/* find returns a FREE head of at least n pages: among the most recently
 * freed dirty spans first (their pages are still in memory), then by bin. */
static uint32_t find(uint32_t n)
{
    uint32_t h = P->lru_new;
    for (int i = 0; h != 0 && i < FIT_SCAN; i++, h = PM[h].lprev)
        if (len_of(h) >= n)
            return h;
    unsigned b = bin_of(n);
    h = P->bin[b];
    for (int i = 0; h != 0 && i < FIT_SCAN; i++, h = PM[h].next)
        if (len_of(h) >= n)
            return h;
    unsigned up = next_bin(b + 1);
    if (up < MP__BINS)
        return P->bin[up]; /* anything there is long enough */
    /* Nothing longer anywhere: the rest of this bin is the last chance
     * (a near-full heap; never a false "out of memory"). */
    for (; h != 0; h = PM[h].next)
        if (len_of(h) >= n)
            return h;
    return 0;
}

static void slab_header(uint32_t h, unsigned cls, unsigned arena)
{
    struct mp__slab *s = mp__slab_at(h);
    s->magic = MP__SLAB_MAGIC;
    s->cls = (uint16_t)cls;
    s->arena = (uint16_t)arena;
    s->nblocks = mp__class_blocks[cls];
    s->first = mp__class_first[cls];
    s->next = s->prev = 0;
    s->nused = 0;
    s->hint = 0;
    s->listed = 0;
    for (uint32_t w = 0; w < (s->nblocks + 63) / 64; w++)
        atomic_store_explicit(&s->used[w], 0, memory_order_relaxed);
    for (uint32_t i = 1; i < mp__class_pages[cls]; i++) {
        atomic_store_explicit(&PM[h + i].tag, MP__PK_SLABIN, memory_order_relaxed);
        set_head(h + i, h);
    }
}

uint32_t mp__pages_take(uint32_t n, int slab_cls, unsigned arena, bool *dirty)
{
    uint32_t h = find(n);
    if (h == 0)
        return 0;
    free_remove(h);
    /* Intent: if we die between the commit and the unlock, the walk frees
     * the span again (the caller never got it). Cleared by the unlock. */
    P->op_page = h;
    uint32_t used_dirty = dirty_count(h, n);
    /* Marked before anything is written into the pages, so that a span
     * left free by a death never claims to be clean. */
    dirty_mark(h, n, true);
    uint64_t tag;
    if (slab_cls >= 0) {
        slab_header(h, (unsigned)slab_cls, arena);
        tag = MP__TAG(MP__PK_SLAB, n);
    } else {
        tag = MP__TAG(MP__PK_LARGE, n);
        large_count(n);
    }
    carve(h, h, h + n, tag, 0, used_dirty);
    if (dirty != NULL)
        *dirty = used_dirty > 0;
    update_largest();
    return h;
}

void mp__pages_give(uint32_t h)
{
    uint64_t t = mp__tag(h);
    uint32_t len = MP__TAG_LEN(t);
    switch (MP__TAG_KIND(t)) {
    case MP__PK_LARGE:
        large_count(-(int64_t)len);
        break;
    case MP__PK_DEFERRED:
        if (!(t & MP__TAG_PUTBACK))
            large_count(-(int64_t)len);
        break;
    case MP__PK_SLAB:
    case MP__PK_OUT:
        break;
    default:
        mp__panic("shared heap: page %u given back twice (tag %#llx)", h, (unsigned long long)t);
    }
    make_free(h, len, dirty_count(h, len)); /* the commit: from here on the span is free */
    h = coalesce(h);
    free_insert(h);
    over_budget();
    update_largest();
}

void mp__pages_defer(uint32_t page)
{
    uint32_t len = len_of(page);
    mp__set_tag(page, MP__TAG(MP__PK_DEFERRED, len));
    add_hint(page);
}

void mp__pages_each_slab(void (*fn)(uint32_t page, void *arg), void *arg)
{
    for (uint32_t p = H->first_page; p < H->npages; p += len_of(p))
        if (MP__TAG_KIND(mp__tag(p)) == MP__PK_SLAB)
            fn(p, arg);
}

size_t mp__pages_largest_bytes(void)
{
    return (size_t)atomic_load_explicit(&P->largest, memory_order_relaxed) << MP__PAGE_SHIFT;
}

void mp__pages_init(void)
{
    mp__lock_init(&P->lock);
    uint32_t len = H->npages - H->first_page;
    set_head(H->npages - 1, H->first_page);
    PM[H->first_page].ndirty = 0;
    mp__set_tag(H->first_page, MP__TAG(MP__PK_FREE, len));
    free_insert(H->first_page);
    update_largest();
}

/* ---- consistency check (tests) ------------------------------------------ */

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(why, cap, __VA_ARGS__);                                                           \
        return -1;                                                                                 \
    } while (0)

int mp__pages_check(int64_t *large_pages, char *why, size_t cap)
{
    int64_t nfree = 0, npages_free = 0, ndirty = 0, large = 0;
    bool prev_free = false;
    uint32_t p;
    for (p = H->first_page; p < H->npages;) {
        uint64_t t = mp__tag(p);
        uint32_t len = MP__TAG_LEN(t);
        unsigned k = MP__TAG_KIND(t);
        if (len == 0 || len > H->npages - p)
            FAIL("page %u: bad length in tag %#llx", p, (unsigned long long)t);
        if (atomic_load(&PM[p + len - 1].head) != p)
            FAIL("page %u: its last page names head %u", p, atomic_load(&PM[p + len - 1].head));
        switch (k) {
        case MP__PK_FREE:
            if (prev_free)
                FAIL("page %u: free span not merged with the one before", p);
            if (PM[p].ndirty != dirty_count(p, len))
                FAIL("page %u: ndirty %u, bitmap says %u", p, PM[p].ndirty, dirty_count(p, len));
            nfree++;
            npages_free += len;
            ndirty += PM[p].ndirty;
            break;
        case MP__PK_LARGE:
            large += len;
            break;
        case MP__PK_DEFERRED:
            if (!(t & MP__TAG_PUTBACK))
                large += len;
            break;
        case MP__PK_SLAB:
            for (uint32_t i = 1; i < len; i++)
                if (MP__TAG_KIND(mp__tag(p + i)) != MP__PK_SLABIN ||
                    atomic_load(&PM[p + i].head) != p)
                    FAIL("slab %u: inner page %u does not point back", p, p + i);
            break;
        case MP__PK_OUT:
            if (!mp__tid_alive((pid_t)PM[p].owner))
                FAIL("page %u: out to punch for thread %u, which is dead", p, PM[p].owner);
            break;
        default:
            FAIL("page %u: kind %u where a head should be", p, k);
        }
        prev_free = k == MP__PK_FREE;
        p += len;
    }
    int64_t binned = 0;
    for (unsigned b = 0; b < MP__BINS; b++) {
        bool set = (P->nonempty[b / 64] >> (b & 63)) & 1;
        if (set != (P->bin[b] != 0))
            FAIL("bin %u: non-empty bit %d, head %u", b, set, P->bin[b]);
        uint32_t prev = 0;
        for (uint32_t h = P->bin[b]; h != 0; prev = h, h = PM[h].next) {
            if (MP__TAG_KIND(mp__tag(h)) != MP__PK_FREE || bin_of(len_of(h)) != b)
                FAIL("bin %u holds page %u (tag %#llx)", b, h, (unsigned long long)mp__tag(h));
            if (PM[h].prev != prev)
                FAIL("bin %u: page %u's back link", b, h);
            if (++binned > nfree)
                FAIL("bins hold more spans than the %lld free ones", (long long)nfree);
        }
    }
    if (binned != nfree)
        FAIL("bins hold %lld spans, page map %lld", (long long)binned, (long long)nfree);
    int64_t listed = 0;
    for (uint32_t h = P->lru_old, prev = 0; h != 0; prev = h, h = PM[h].lnext) {
        if (MP__TAG_KIND(mp__tag(h)) != MP__PK_FREE || PM[h].ndirty == 0 || PM[h].lprev != prev)
            FAIL("dirty list holds page %u wrongly", h);
        if (++listed > nfree)
            FAIL("dirty list loops");
    }
    if (atomic_load(&P->free_pages) != npages_free || atomic_load(&P->dirty_pages) != ndirty ||
        atomic_load(&P->large_pages) != large)
        FAIL("pool counters free %lld/%lld dirty %lld/%lld large %lld/%lld",
             (long long)atomic_load(&P->free_pages), (long long)npages_free,
             (long long)atomic_load(&P->dirty_pages), (long long)ndirty,
             (long long)atomic_load(&P->large_pages), (long long)large);
    *large_pages = large;
    return 0;
}
