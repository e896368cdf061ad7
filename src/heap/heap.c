/* heap.c - the shared heap: one sparse memory file per process family,
 * mapped when libmp is loaded, with its allocator's state inside it; the
 * public calls (mp/shared.h) and the allocator's front: size classes,
 * the thread-cache fast paths, large blocks, statistics.
 *
 * layout.h tells how the parts fit and why a process killed anywhere
 * inside them leaves the heap whole; pages.c, slab.c and tcache.c are the
 * three layers. */
#include "mp/shared.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heap/heap.h"
#include "heap/layout.h"
#include "os/memfile.h"
#include "os/panic.h"
#include "os/thread.h"

#define H mp__H

#define DEFAULT_HEAP_SIZE (16ULL << 30) /* address space, not memory */
#define MIN_HEAP_SIZE     (64ULL << 20)
#define MAX_HEAP_PAGES    0xfff00000u /* page numbers are 32-bit */
/* Dirty free pages the pool keeps for reuse before punching (bytes, and
 * at most a sixteenth of the heap). */
#define DIRTY_MAX_BYTES (8u << 20)
/* A dirty large block that calloc must clear is punched from this size
 * on (no memory touched), and written with zeros below it. */
#define CALLOC_PUNCH_MIN (256u << 10)

struct mp__heap *mp__H;
struct mp__pent *mp__PM;
_Atomic uint64_t *mp__DB;

uint32_t mp__class_size[MP__NCLASSES] = {
    16,   32,   48,   64,    128,   192,   256,   320,   384,   448,   512,   640,
    768,  896,  1024, 1280,  1536,  1792,  2048,  2560,  3072,  3584,  4096,  5120,
    6144, 7168, 8192, 10240, 12288, 14336, 16384, 20480, 24576, 28672, 32768,
};
uint32_t mp__class_pages[MP__NCLASSES];
uint32_t mp__class_blocks[MP__NCLASSES];
uint32_t mp__class_first[MP__NCLASSES];
uint64_t mp__class_recip[MP__NCLASSES];
uint8_t mp__class16[65];
uint8_t mp__class256[129];

static pthread_once_t heap_once = PTHREAD_ONCE_INIT;
static int heap_init_err;
static const mp__deadline forever = {.forever = true};

/* ---- set-up ---------------------------------------------------------------- */

/* init_classes sizes each class's slab: the fewest pages that hold at
 * least 8 blocks and waste at most 1/16 (header included), up to 128
 * pages; failing that, the least waste. Blocks start 64-aligned, and
 * every class from 64 bytes is a multiple of 64, so those blocks are
 * cache-line aligned. */
static void init_classes(void)
{
    for (unsigned c = 0; c < MP__NCLASSES; c++) {
        uint32_t size = mp__class_size[c], best_k = 0, best_n = 0, best_first = 0;
        double best_waste = 2;
        for (uint32_t k = 1; k <= 128; k++) {
            uint32_t bytes = k * MP__PAGE;
            uint32_t n = (bytes - 64) / size;
            if (n > 64 * MP__SLAB_WORDS)
                n = 64 * MP__SLAB_WORDS;
            uint32_t first = (64 + 8 * ((n + 63) / 64) + 63) & ~63u;
            if (n == 0 || first + n * size > bytes)
                n = first < bytes ? (bytes - first) / size : 0;
            if (n == 0)
                continue;
            double waste = (double)(bytes - n * size) / bytes;
            bool good = n >= 8 && waste <= 1.0 / 16;
            if (good || waste < best_waste) {
                best_waste = waste;
                best_k = k;
                best_n = n;
                best_first = first;
            }
            if (good)
                break;
        }
        mp__class_pages[c] = best_k;
        mp__class_blocks[c] = best_n;
        mp__class_first[c] = best_first;
        mp__class_recip[c] = (((uint64_t)1 << 40) + size - 1) / size;
    }
    unsigned c = 0;
    for (unsigned i = 0; i <= 64; i++) {
        while (mp__class_size[c] < i * 16)
            c++;
        mp__class16[i] = (uint8_t)c;
    }
    for (unsigned i = 0; i <= 128; i++) {
        c = 0;
        while (mp__class_size[c] < i * 256)
            c++;
        mp__class256[i] = (uint8_t)c;
    }
}

static size_t heap_size_wanted(void)
{
    const char *env = getenv("MP_HEAP_SIZE");
    if (env == NULL || *env == '\0')
        return DEFAULT_HEAP_SIZE;
    char *end;
    unsigned long long v = strtoull(env, &end, 10);
    switch (*end) {
    case 'G':
    case 'g':
        v <<= 30;
        break;
    case 'M':
    case 'm':
        v <<= 20;
        break;
    case 'K':
    case 'k':
        v <<= 10;
        break;
    default:
        break;
    }
    if (v > (unsigned long long)MAX_HEAP_PAGES << MP__PAGE_SHIFT)
        v = (unsigned long long)MAX_HEAP_PAGES << MP__PAGE_SHIFT;
    return v < MIN_HEAP_SIZE ? MIN_HEAP_SIZE : (size_t)v;
}

static void heap_create(void)
{
    mp__thread_init();
    init_classes();
    size_t size = heap_size_wanted();
    void *p;
    int rc = mp__memfile_map("libmp-heap", &size, MIN_HEAP_SIZE, &p);
    if (rc < 0) {
        heap_init_err = rc;
        return;
    }
    struct mp__heap *h = p;
    uint32_t npages = (uint32_t)(size >> MP__PAGE_SHIFT);
    size_t pmap_off = (sizeof *h + MP__PAGE - 1) & ~(size_t)(MP__PAGE - 1);
    size_t db_off = pmap_off + (size_t)npages * sizeof(struct mp__pent);
    size_t end = db_off + ((size_t)npages + 63) / 64 * 8;
    h->size = size;
    h->npages = npages;
    h->first_page = (uint32_t)((end + MP__PAGE - 1) >> MP__PAGE_SHIFT);
    h->dirty_max = DIRTY_MAX_BYTES >> MP__PAGE_SHIFT;
    if (h->dirty_max > npages / 16)
        h->dirty_max = npages / 16;
    h->key = 0x6d70667265656b79ULL ^ (uint64_t)(uintptr_t)h; /* "mpfreeky" */
    mp__H = h;
    mp__PM = (struct mp__pent *)((char *)h + pmap_off);
    mp__DB = (_Atomic uint64_t *)((char *)h + db_off);
    mp__pages_init();
    mp__arena_init();
    mp__tcache_init();
    h->magic = MP__HEAP_MAGIC;
}

int mp__heap_init(void)
{
    pthread_once(&heap_once, heap_create);
    return heap_init_err;
}

/* Map the heap when the library is loaded, before the program can fork,
 * so that every process of the family shares the same one. */
__attribute__((constructor)) static void heap_at_load(void)
{
    (void)mp__heap_init();
}

bool mp__heap_contains(const void *p)
{
    return H != NULL && (const char *)p >= (const char *)H &&
           (const char *)p < (const char *)H + H->size;
}

/* ---- finding a block's owner ------------------------------------------------ */

/* lookup returns the slab of small block p, or NULL with *large set to
 * the head page of large block p; anything else is a caller's bug (a
 * pointer that is not a live block) and panics, naming who. */
static struct mp__slab *lookup(const void *p, uint32_t *large, const char *who)
{
    uintptr_t off = (uintptr_t)((const char *)p - (const char *)H);
    if (H == NULL || off >= H->size || (off & 15) != 0 || (off >> MP__PAGE_SHIFT) < H->first_page)
        mp__panic("%s: %p is not a shared heap block", who, p);
    uint32_t pg = (uint32_t)(off >> MP__PAGE_SHIFT);
    uint64_t t = mp__tag(pg);
    if (MP__TAG_KIND(t) == MP__PK_SLABIN) {
        pg = atomic_load_explicit(&mp__PM[pg].head, memory_order_relaxed);
        t = mp__tag(pg);
    }
    if (MP__TAG_KIND(t) == MP__PK_SLAB) {
        struct mp__slab *s = mp__slab_at(pg);
        uint32_t i = mp__block_index(s, p);
        if (i == UINT32_MAX || !mp__bit_get(s, i))
            mp__panic("%s: %p is not allocated (double free?)", who, p);
        return s;
    }
    if (MP__TAG_KIND(t) == MP__PK_LARGE && (off & (MP__PAGE - 1)) == 0 &&
        pg == (uint32_t)(off >> MP__PAGE_SHIFT)) {
        *large = pg;
        return NULL;
    }
    mp__panic("%s: %p is not allocated (double free?)", who, p);
}

/* ---- allocation -------------------------------------------------------------- */

void mp__heap_sample_peak(int64_t extra)
{
    int64_t v =
        extra + mp__arena_used_bytes() +
        (atomic_load_explicit(&H->pool.large_pages, memory_order_relaxed) << MP__PAGE_SHIFT);
    uint64_t old = atomic_load_explicit(&H->peak, memory_order_relaxed);
    while (v > 0 && (uint64_t)v > old &&
           !atomic_compare_exchange_weak_explicit(&H->peak, &old, (uint64_t)v, memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
}

/* alloc_cached pops a block of size's class from the thread's cache: the
 * whole malloc when it hits. NULL on a miss. */
static inline void *alloc_cached(size_t size)
{
    struct mp__tcache *tc = mp__tcache_mine();
    if (size > MP__SMALL_MAX || tc == NULL)
        return NULL;
    struct mp__tbin *b = &tc->bin[mp__size_class(size)];
    void **p = b->head;
    if (p == NULL)
        return NULL;
    b->head = p[0]; /* the commit */
    atomic_store_explicit(&b->count, atomic_load_explicit(&b->count, memory_order_relaxed) - 1,
                          memory_order_relaxed);
    p[1] = NULL; /* no longer marked as freed */
    return p;
}

/* alloc_small serves a cache miss: half a cache's worth of blocks comes
 * from the arena under one lock (a thread that only allocates, like a
 * queue's producer, pays for the lock once per batch), then one is
 * popped. A thread without a cache takes one block. */
static void *alloc_small(size_t size, const mp__deadline *d)
{
    unsigned cls = mp__size_class(size);
    struct mp__tcache *tc = mp__tcache_mine();
    if (tc == NULL)
        return mp__arena_alloc(cls, d);
    if (mp__arena_refill(tc, cls, tc->bin[cls].cap / 2, d) == 0)
        return NULL;
    return alloc_cached(size);
}

static void *alloc_large(size_t size, const mp__deadline *d, bool *dirty)
{
    uint64_t n = ((uint64_t)size + MP__PAGE - 1) >> MP__PAGE_SHIFT;
    if (size > H->size || n > H->npages - H->first_page) {
        errno = ENOMEM;
        return NULL;
    }
    /* Punch what earlier calls left, and sample the peak, before taking,
     * never after: between the take and the return a process killed (in
     * a system call, or a fault on a page it never touched) would take
     * with it a block that nobody else knows of. */
    mp__pages_punch_pending();
    mp__heap_sample_peak((int64_t)n << MP__PAGE_SHIFT);
    if (mp__pages_lock(d) != 0) {
        errno = ETIMEDOUT;
        return NULL;
    }
    uint32_t pg = mp__pages_take((uint32_t)n, -1, 0, dirty);
    mp__pages_unlock();
    if (pg == 0) {
        errno = ENOMEM;
        return NULL;
    }
    return mp__page_addr(pg);
}

/* alloc_slow is every malloc that the cache cannot serve. When the heap
 * looks full it first makes room - this thread's cache, dead threads'
 * caches and empty slabs go back to the page pool - and tries again. */
static void *alloc_slow(size_t size, const mp__deadline *d, bool *dirty)
{
    if (mp__heap_init() < 0) {
        errno = ENOMEM;
        return NULL;
    }
    for (int attempt = 0;; attempt++) {
        void *p;
        if (dirty != NULL)
            *dirty = true;
        if (size <= MP__SMALL_MAX)
            p = alloc_small(size, d);
        else
            p = alloc_large(size, d, dirty);
        if (p != NULL || errno != ENOMEM || attempt > 0)
            return p;
        mp__heap_reclaim(d);
    }
}

void *mp__heap_alloc(size_t size, const mp__deadline *d)
{
    void *p = alloc_cached(size);
    return p != NULL ? p : alloc_slow(size, d, NULL);
}

MP_EXTERN void *mp_shared_malloc(size_t size)
{
    void *p = alloc_cached(size);
    return p != NULL ? p : alloc_slow(size, &forever, NULL);
}

MP_EXTERN void *mp_shared_calloc(size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    if (total <= MP__SMALL_MAX) {
        void *p = mp_shared_malloc(total);
        if (p != NULL)
            memset(p, 0, mp__class_size[mp__size_class(total)]);
        return p;
    }
    bool dirty;
    void *p = alloc_slow(total, &forever, &dirty);
    if (p == NULL || !dirty)
        return p; /* fresh or punched pages read as zeros: leave them untouched */
    size_t bytes = (total + MP__PAGE - 1) & ~(size_t)(MP__PAGE - 1);
    if (bytes < CALLOC_PUNCH_MIN || mp__memfile_release(p, bytes) != 0)
        memset(p, 0, bytes);
    return p;
}

/* ---- freeing ------------------------------------------------------------------ */

/* free_cached pushes p onto the list of its class: the whole free unless
 * the list is full. */
static void free_small(struct mp__slab *s, void *p)
{
    struct mp__tcache *tc = mp__tcache_mine();
    if (tc == NULL) {
        mp__arena_free_block(s, p);
        return;
    }
    struct mp__tbin *b = &tc->bin[s->cls];
    void **q = p;
    if ((uint64_t)(uintptr_t)q[1] == H->key) {
        /* Maybe freed already (or data that looks like the mark): a block
         * in our own list would be handed out twice. */
        for (void **x = b->head; x != NULL; x = *x)
            if (x == q)
                mp__panic("mp_shared_free: %p freed twice", p);
    }
    if (atomic_load_explicit(&b->count, memory_order_relaxed) >= b->cap)
        mp__tcache_overflow(tc, s->cls);
    q[0] = b->head;
    q[1] = (void *)(uintptr_t)H->key;
    b->head = q; /* the commit */
    atomic_store_explicit(&b->count, atomic_load_explicit(&b->count, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

MP_EXTERN void mp_shared_free(void *ptr)
{
    if (ptr == NULL)
        return;
    uint32_t pg;
    struct mp__slab *s = lookup(ptr, &pg, "mp_shared_free");
    if (s != NULL) {
        free_small(s, ptr);
        return;
    }
    /* A large block is freed with one store (DEFERRED), the commit: a
     * process killed anywhere after it loses nothing, and a caller that
     * marked its own record done just before (a queue's repair) has
     * nothing between the two worth a kill's aim. Then, when the pool's
     * lock is free, the block is binned at once (taking the lock bins
     * every deferred block); else the next holder bins it. Nothing waits. */
    mp__pages_defer(pg);
    if (mp__pages_trylock()) {
        mp__pages_unlock();
        mp__pages_punch_pending();
    }
}

MP_EXTERN size_t mp_shared_usable_size(const void *ptr)
{
    if (ptr == NULL)
        return 0;
    uint32_t pg;
    struct mp__slab *s = lookup(ptr, &pg, "mp_shared_usable_size");
    if (s != NULL)
        return mp__class_size[s->cls];
    return (size_t)MP__TAG_LEN(mp__tag(pg)) << MP__PAGE_SHIFT;
}

/* ---- statistics, reclaiming, checking ------------------------------------------ */

MP_EXTERN int mp_shared_stats(mp_heap_stats *out)
{
    if (out == NULL)
        return MP_EINVAL;
    if (mp__heap_init() < 0)
        return MP_ENOMEM;
    struct mp__pool *P = &H->pool;
    int64_t used = mp__arena_used_bytes(), cap = mp__arena_cap_bytes();
    int64_t cached = mp__tcache_bytes();
    /* A large block freed while the pool lock was busy counts as in use
     * until the next holder bins it. */
    int64_t large = atomic_load_explicit(&P->large_pages, memory_order_relaxed);
    int64_t freep = atomic_load_explicit(&P->free_pages, memory_order_relaxed);
    int64_t reserved = (int64_t)(H->npages - H->first_page) << MP__PAGE_SHIFT;
    /* Counters read one by one while others change them: clamp, so the
     * figures always fit each other. */
    int64_t in_use = used - cached + (large << MP__PAGE_SHIFT);
    in_use = in_use < 0 ? 0 : in_use > reserved ? reserved : in_use;
    int64_t fr = (freep << MP__PAGE_SHIFT) + (cap - used) + cached;
    fr = fr < 0 ? 0 : fr > reserved - in_use ? reserved - in_use : fr;
    int64_t largest = (int64_t)mp__pages_largest_bytes();
    uint64_t peak = atomic_load_explicit(&H->peak, memory_order_relaxed);
    while ((uint64_t)in_use > peak &&
           !atomic_compare_exchange_weak_explicit(&H->peak, &peak, (uint64_t)in_use,
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
    out->reserved = (size_t)reserved;
    out->in_use = (size_t)in_use;
    out->free = (size_t)fr;
    out->largest_free = (size_t)(largest < fr ? largest : fr);
    out->peak = (size_t)((uint64_t)in_use > peak ? (uint64_t)in_use : peak);
    return 0;
}

void mp__heap_stats(size_t *in_use, size_t *heap_size)
{
    mp_heap_stats st;
    if (mp_shared_stats(&st) != 0) {
        *in_use = 0;
        *heap_size = 0;
        return;
    }
    *in_use = st.in_use;
    *heap_size = H->size;
}

void mp__heap_reclaim(const mp__deadline *d)
{
    if (mp__heap_init() < 0)
        return;
    mp__tcache_drain(d);
    mp__tcache_reclaim(true, d);
    mp__arena_trim(d);
    mp__pages_rebuild(d);
    mp__pages_punch_pending();
}

bool mp__heap_allocated(const void *p)
{
    uintptr_t off = (uintptr_t)((const char *)p - (const char *)H);
    if (H == NULL || off >= H->size || (off & 15) != 0 || (off >> MP__PAGE_SHIFT) < H->first_page)
        return false;
    uint32_t pg = (uint32_t)(off >> MP__PAGE_SHIFT);
    uint64_t t = mp__tag(pg);
    if (MP__TAG_KIND(t) == MP__PK_SLABIN) {
        pg = atomic_load_explicit(&mp__PM[pg].head, memory_order_relaxed);
        t = mp__tag(pg);
    }
    if (MP__TAG_KIND(t) == MP__PK_SLAB) {
        struct mp__slab *s = mp__slab_at(pg);
        uint32_t i = mp__block_index(s, p);
        return i != UINT32_MAX && mp__bit_get(s, i);
    }
    return MP__TAG_KIND(t) == MP__PK_LARGE && (off & (MP__PAGE - 1)) == 0;
}

size_t mp__heap_block_size(size_t size)
{
    if (size <= MP__SMALL_MAX)
        return mp__class_size[mp__size_class(size)];
    return (size + MP__PAGE - 1) & ~(size_t)(MP__PAGE - 1);
}

int mp__heap_check(char *why, size_t cap)
{
    if (mp__heap_init() < 0) {
        snprintf(why, cap, "no heap");
        return -1;
    }
    mp__deadline d;
    mp__deadline_init(&d, 10.0);
    if (mp__arena_lock_all(&d) != 0) {
        snprintf(why, cap, "arenas busy");
        return -1;
    }
    if (mp__pages_lock(&d) != 0) {
        mp__arena_unlock_all();
        snprintf(why, cap, "pool busy");
        return -1;
    }
    int64_t large = 0, slab_pages = 0;
    int rc = H->magic != MP__HEAP_MAGIC ? (snprintf(why, cap, "bad magic"), -1) : 0;
    if (rc == 0)
        rc = mp__pages_check(&large, why, cap);
    if (rc == 0)
        rc = mp__arena_check(&slab_pages, why, cap);
    if (rc == 0)
        rc = mp__tcache_check(why, cap);
    mp__pages_unlock();
    mp__arena_unlock_all();
    return rc;
}
