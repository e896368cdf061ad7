/* tcache.c - per-thread caches of freed small blocks.
 *
 * A free puts the block on the calling thread's list for its size class,
 * and a malloc of that class takes it back: no lock, no atomic
 * instruction, which is what brings a malloc/free pair near glibc's. The
 * cache is a record in the shared heap (not thread-local memory) so that
 * when its thread dies - killed at any instruction - another process can
 * find it and send its blocks back to their slabs.
 *
 * A cached block keeps its slab bit set: from the slab's side it is still
 * handed out; statistics count it as free. The lists are the truth about
 * what a cache holds: a push writes the block's link, then the list head
 * (the commit); a pop reads the link and stores the head (the commit).
 * Only the owner thread writes its record; after its death, whoever claims
 * the record (a CAS on the owner word) empties it through the arenas,
 * whose intents cover a claimant that dies too.
 *
 * Bounds: a class list holds up to its cap (64 KiB of blocks, 2 to 256
 * blocks) before a free sends half back; a malloc that finds it empty
 * fetches half a cap under one arena lock. When the block's arena lock is
 * busy the list keeps growing instead of waiting; past four caps, the free
 * also asks whether that arena's holder is dead (and takes it over). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heap/layout.h"
#include "os/alive.h"
#include "os/panic.h"

#define H mp__H

/* Bytes of blocks a class list keeps before a free sends half back (2 to
 * 256 blocks); a miss fetches half that many. */
#define CACHE_CLASS_BYTES (64u * 1024u)
/* Records a registering thread checks for a dead owner (a few, so that
 * starting a thread stays cheap; a failing malloc checks them all). */
#define PROBE 8

__thread struct mp__tcache *mp__tls_cache;
__thread unsigned mp__tls_cache_gen; /* 0 never matches: first use registers */

static pthread_key_t exit_key;
static uint32_t class_cap[MP__NCLASSES];

/* empty sends every block of rec back (locks until d; NULL: only free
 * ones) and frees the record; one that cannot be emptied now is left
 * ORPHAN for whoever comes next. The caller owns rec. */
static void empty(struct mp__tcache *rec, const mp__deadline *d)
{
    bool all = true;
    for (unsigned c = 0; c < MP__NCLASSES; c++) {
        if (rec->bin[c].head == NULL)
            continue;
        mp__arena_flush(rec, c, UINT32_MAX, d);
        if (rec->bin[c].head != NULL)
            all = false;
    }
    atomic_store_explicit(&rec->owner, all ? 0 : MP__CACHE_ORPHAN, memory_order_release);
}

/* A thread that exits returns its cache (pthread key destructor; the
 * main thread's is found dead later instead). */
static void on_thread_exit(void *arg)
{
    struct mp__tcache *rec = arg;
    if (atomic_load(&rec->owner) != (uint32_t)mp__tid())
        return; /* a forked child's copy of its parent's key value */
    mp__tls_cache = NULL;
    empty(rec, NULL);
}

static bool owner_dead(uint32_t o)
{
    if (o == MP__CACHE_ORPHAN)
        return true;
    return !mp__tid_alive((pid_t)(o & ~MP__CACHE_RECLAIM));
}

void mp__tcache_reclaim(bool full, const mp__deadline *d)
{
    if (mp__H == NULL)
        return;
    uint32_t me = (uint32_t)mp__tid();
    uint32_t hi = atomic_load_explicit(&H->cache_hi, memory_order_acquire);
    if (hi == 0)
        return;
    uint32_t n = full || hi < PROBE ? hi : PROBE;
    uint32_t start = full ? 0 : atomic_fetch_add_explicit(&H->probe, PROBE, memory_order_relaxed);
    for (uint32_t k = 0; k < n; k++) {
        struct mp__tcache *rec = &H->cache[(start + k) % hi];
        uint32_t o = atomic_load_explicit(&rec->owner, memory_order_acquire);
        if (o == 0 || (o & ~MP__CACHE_RECLAIM) == me || !owner_dead(o))
            continue;
        if (!atomic_compare_exchange_strong(&rec->owner, &o, me | MP__CACHE_RECLAIM))
            continue;
        empty(rec, d);
    }
}

struct mp__tcache *mp__tcache_register(void)
{
    mp__tls_cache = NULL;
    mp__tls_cache_gen = mp__fork.gen;
    if (mp__H == NULL)
        return NULL;
    /* Check a few records for dead owners on the way: every new thread or
     * process helps empty the caches of the dead. Never waits. */
    mp__tcache_reclaim(false, NULL);
    uint32_t me = (uint32_t)mp__tid();
    for (uint32_t i = 0; i < MP__CACHES; i++) {
        struct mp__tcache *rec = &H->cache[i];
        uint32_t zero = 0;
        if (atomic_load_explicit(&rec->owner, memory_order_relaxed) != 0 ||
            !atomic_compare_exchange_strong(&rec->owner, &zero, me))
            continue;
        rec->index = i;
        uint32_t hi = atomic_load_explicit(&H->cache_hi, memory_order_relaxed);
        while (hi <= i && !atomic_compare_exchange_weak(&H->cache_hi, &hi, i + 1))
            ;
        for (unsigned c = 0; c < MP__NCLASSES; c++) {
            rec->bin[c].head = NULL;
            atomic_store_explicit(&rec->bin[c].count, 0, memory_order_relaxed);
            rec->bin[c].cap = class_cap[c];
        }
        pthread_setspecific(exit_key, rec);
        mp__tls_cache = rec;
        return rec;
    }
    return NULL;
}

void mp__tcache_overflow(struct mp__tcache *tc, unsigned cls)
{
    struct mp__tbin *b = &tc->bin[cls];
    uint32_t n = b->count;
    mp__arena_flush(tc, cls, n - b->cap / 2, NULL);
    if (b->count < b->cap || (b->count % b->cap) != 0 || b->count < 4 * b->cap)
        return;
    /* The lock stayed busy for four caps' worth of frees: if its holder is
     * dead, take it over (an expired deadline: try once, no waiting). */
    mp__deadline now;
    mp__deadline_init(&now, 0);
    mp__arena_flush(tc, cls, b->count - b->cap / 2, &now);
}

void mp__tcache_drain(const mp__deadline *d)
{
    struct mp__tcache *tc = mp__tcache_mine();
    if (tc == NULL)
        return;
    for (unsigned c = 0; c < MP__NCLASSES; c++)
        if (tc->bin[c].head != NULL)
            mp__arena_flush(tc, c, UINT32_MAX, d);
}

int64_t mp__tcache_bytes(void)
{
    int64_t v = 0;
    uint32_t hi = atomic_load_explicit(&H->cache_hi, memory_order_acquire);
    for (uint32_t i = 0; i < hi; i++) {
        struct mp__tcache *rec = &H->cache[i];
        if (atomic_load_explicit(&rec->owner, memory_order_relaxed) == 0)
            continue;
        for (unsigned c = 0; c < MP__NCLASSES; c++)
            v += (int64_t)atomic_load_explicit(&rec->bin[c].count, memory_order_relaxed) *
                 mp__class_size[c];
    }
    return v;
}

void mp__tcache_init(void)
{
    for (unsigned c = 0; c < MP__NCLASSES; c++) {
        uint32_t n = CACHE_CLASS_BYTES / mp__class_size[c];
        class_cap[c] = n < 2 ? 2 : n > 256 ? 256 : n;
    }
    if (pthread_key_create(&exit_key, on_thread_exit) != 0)
        mp__panic("heap: no thread key left for the thread caches");
}

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

/* Every cached block is a handed-out block of its class, held once. For
 * tests, with no other thread of the family running. */
int mp__tcache_check(char *why, size_t cap)
{
    size_t n = 0, room = 1024;
    uintptr_t *all = malloc(room * sizeof *all);
    int rc = 0;
    uint32_t hi = atomic_load(&H->cache_hi);
    for (uint32_t i = 0; i < hi && rc == 0; i++) {
        struct mp__tcache *rec = &H->cache[i];
        uint32_t o = atomic_load(&rec->owner);
        if (o == 0)
            continue;
        for (unsigned c = 0; c < MP__NCLASSES && rc == 0; c++) {
            uint32_t len = 0;
            for (void *b = rec->bin[c].head; b != NULL; b = *(void **)b) {
                uint32_t pg = mp__page_of(b);
                if (b < (void *)mp__page_addr(H->first_page) || pg >= H->npages) {
                    snprintf(why, cap, "cache %u class %u: %p outside the heap", i, c, b);
                    rc = -1;
                    break;
                }
                if (MP__TAG_KIND(mp__tag(pg)) == MP__PK_SLABIN)
                    pg = atomic_load(&mp__PM[pg].head);
                struct mp__slab *s = mp__slab_at(pg);
                uint32_t k;
                if (MP__TAG_KIND(mp__tag(pg)) != MP__PK_SLAB || s->cls != c ||
                    (k = mp__block_index(s, b)) == UINT32_MAX || !mp__bit_get(s, k)) {
                    snprintf(why, cap, "cache %u class %u: %p is no handed-out block", i, c, b);
                    rc = -1;
                    break;
                }
                if (n == room && (all = realloc(all, (room *= 2) * sizeof *all)) == NULL)
                    abort();
                all[n++] = (uintptr_t)b;
                if (++len > (1u << 24)) {
                    snprintf(why, cap, "cache %u class %u: list loops", i, c);
                    rc = -1;
                    break;
                }
            }
            /* A dead owner's count may be one off (killed between its
             * commit and its count); a live one's is exact. */
            uint32_t cnt = atomic_load(&rec->bin[c].count);
            if (rc == 0 && cnt != len && (!owner_dead(o) || cnt + 1 < len || cnt > len + 1)) {
                snprintf(why, cap, "cache %u class %u: count %u, list %u", i, c, cnt, len);
                rc = -1;
            }
        }
    }
    if (rc == 0) {
        qsort(all, n, sizeof *all, cmp_ptr);
        for (size_t i = 1; i < n; i++)
            if (all[i] == all[i - 1]) {
                snprintf(why, cap, "block %p cached twice", (void *)all[i]);
                rc = -1;
                break;
            }
    }
    free(all);
    return rc;
}
