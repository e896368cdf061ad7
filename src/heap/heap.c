/* heap.c - the shared heap: one sparse memory file per process family,
 * mapped at load time, with its allocator state inside it.
 *
 * Layout: the first page holds the header (a robust process-shared mutex,
 * the bump pointer and the free lists); blocks follow. Every block starts
 * with a 16-byte header. Small blocks (up to 128 KiB) come in size classes
 * with one free list each. Large blocks are whole pages: their header sits
 * at the end of a leading page so the payload is page-aligned and its pages
 * can be given back to the system when freed.
 *
 * Death of a process inside the allocator: the mutex is robust, and every
 * list change is a single store of the list head, so a process that dies
 * at any instruction can at worst leak the block it was working on. */
#include "mp/shared.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heap/heap.h"
#include "os/memfile.h"
#include "os/panic.h"
#include "os/thread.h"

#define HEAP_MAGIC 0x31307061656870dULL /* "mpheap01" */
#define PAGE 4096u
#define HDR 16u
#define DEFAULT_HEAP_SIZE (16ULL << 30) /* address space, not memory */
#define MIN_HEAP_SIZE (64ULL << 20)
#define BLOCK_USED 0x55534544u /* "USED" */
#define BLOCK_FREE 0x46524545u /* "FREE" */
#define CLASS_LARGE 0xffffffffu

/* Size classes: 16-byte steps up to 128, then four steps per power of
 * two up to 128 KiB, so no small block wastes more than 25%. */
#define SMALL_MAX (128u * 1024u)
#define NCLASSES 48

struct block {
    uint64_t size;  /* usable bytes (the class size, or pages for large) */
    uint32_t state; /* BLOCK_USED or BLOCK_FREE */
    uint32_t cls;   /* size class index, or CLASS_LARGE */
};
_Static_assert(sizeof(struct block) == HDR, "block header is 16 bytes");

struct heap {
    uint64_t magic;                /* HEAP_MAGIC once initialised */
    pthread_mutex_t lock;          /* robust, process-shared; guards all below */
    uint64_t size;                 /* bytes mapped */
    uint64_t top;                  /* bump offset: bytes below it are carved */
    uint64_t in_use;               /* bytes handed out, headers excluded */
    uint64_t small_free[NCLASSES]; /* offset of the first free block's header, 0 = none */
    uint64_t large_free;           /* offset of the first free large block's header */
};
_Static_assert(sizeof(struct heap) <= PAGE, "heap header fits its page");

/* A free large block keeps its list link in its header page, beside the
 * header, so the payload pages can be punched out. */
struct large_link {
    uint64_t next; /* offset of the next free large block's header, 0 = none */
    uint64_t span; /* bytes from the block's first page to its end */
};

static struct heap *heap;         /* the mapping; same address in the family */
static uint32_t class_size[NCLASSES];
static pthread_once_t heap_once = PTHREAD_ONCE_INIT;
static int heap_init_err;

static inline char *base(void)
{
    return (char *)heap;
}

static inline struct block *block_at(uint64_t off)
{
    return (struct block *)(base() + off);
}

static inline uint64_t offset_of(const void *p)
{
    return (uint64_t)((const char *)p - base());
}

static void init_classes(void)
{
    uint32_t n = 0;
    for (uint32_t s = 16; s <= 128; s += 16)
        class_size[n++] = s;
    for (uint32_t p = 256; p <= SMALL_MAX; p *= 2)
        for (uint32_t q = 1; q <= 4; q++)
            class_size[n++] = p / 2 + q * (p / 8);
    if (n != NCLASSES || class_size[n - 1] != SMALL_MAX)
        mp__panic("heap size classes misconfigured (%u)", n);
}

static uint32_t class_of(size_t size)
{
    uint32_t lo = 0, hi = NCLASSES - 1;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (class_size[mid] >= size)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static size_t heap_size_wanted(void)
{
    const char *env = getenv("MP_HEAP_SIZE");
    if (env == NULL || *env == '\0')
        return DEFAULT_HEAP_SIZE;
    char *end;
    unsigned long long v = strtoull(env, &end, 10);
    switch (*end) {
    case 'G': case 'g': v <<= 30; break;
    case 'M': case 'm': v <<= 20; break;
    case 'K': case 'k': v <<= 10; break;
    default: break;
    }
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
    struct heap *h = p;
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&h->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    h->size = size;
    h->top = PAGE;
    h->magic = HEAP_MAGIC;
    heap = h;
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
    return heap != NULL && (const char *)p >= base() && (const char *)p < base() + heap->size;
}

static void heap_lock(void)
{
    int rc = pthread_mutex_lock(&heap->lock);
    if (rc == EOWNERDEAD) {
        /* A process died inside the allocator. Each list update is one
         * store, so the lists are whole; at most one block leaked. */
        pthread_mutex_consistent(&heap->lock);
    } else if (rc != 0) {
        mp__panic("heap lock failed: %d", rc);
    }
}

static void heap_unlock(void)
{
    pthread_mutex_unlock(&heap->lock);
}

void mp__heap_stats(size_t *in_use, size_t *heap_size)
{
    if (mp__heap_init() < 0) {
        *in_use = 0;
        *heap_size = 0;
        return;
    }
    heap_lock();
    *in_use = heap->in_use;
    *heap_size = heap->size;
    heap_unlock();
}

/* Carve len bytes from the top, aligned to align. Returns the offset, or
 * 0 when the heap is exhausted. Called with the lock held. */
static uint64_t carve(uint64_t len, uint64_t align)
{
    uint64_t at = (heap->top + align - 1) & ~(align - 1);
    if (at > heap->size || len > heap->size - at)
        return 0;
    heap->top = at + len;
    return at;
}

static void *alloc_small(size_t size)
{
    uint32_t cls = class_of(size);
    uint64_t off = heap->small_free[cls];
    struct block *b;
    if (off != 0) {
        b = block_at(off);
        if (b->state != BLOCK_FREE || b->cls != cls)
            mp__panic("shared heap corrupted: free block at %#llx", (unsigned long long)off);
        /* The next link lives in the free block's payload. */
        heap->small_free[cls] = *(uint64_t *)(b + 1);
    } else {
        off = carve(HDR + class_size[cls], 16);
        if (off == 0)
            return NULL;
        b = block_at(off);
        b->size = class_size[cls];
        b->cls = cls;
    }
    b->state = BLOCK_USED;
    heap->in_use += b->size;
    return b + 1;
}

static void *alloc_large(size_t size)
{
    uint64_t span = PAGE + ((size + PAGE - 1) & ~(uint64_t)(PAGE - 1));
    if (span < size) /* overflow */
        return NULL;
    /* First fit among freed large blocks, refusing ones more than twice as
     * big as needed so a small request does not pin a huge range. */
    uint64_t *link = &heap->large_free;
    while (*link != 0) {
        uint64_t start = *link;
        struct large_link *ll = (struct large_link *)(base() + start);
        if (ll->span >= span && ll->span / 2 <= span) {
            *link = ll->next;
            struct block *b = (struct block *)(base() + start + PAGE - HDR);
            b->state = BLOCK_USED;
            heap->in_use += b->size;
            return b + 1;
        }
        link = &ll->next;
    }
    uint64_t start = carve(span, PAGE);
    if (start == 0)
        return NULL;
    struct large_link *ll = (struct large_link *)(base() + start);
    ll->next = 0;
    ll->span = span;
    struct block *b = (struct block *)(base() + start + PAGE - HDR);
    b->size = span - PAGE;
    b->cls = CLASS_LARGE;
    b->state = BLOCK_USED;
    heap->in_use += b->size;
    return b + 1;
}

MP_EXTERN void *mp_shared_malloc(size_t size)
{
    if (mp__heap_init() < 0) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = NULL;
    if (size <= heap->size) {
        heap_lock();
        p = size <= SMALL_MAX ? alloc_small(size) : alloc_large(size);
        heap_unlock();
    }
    if (p == NULL)
        errno = ENOMEM;
    return p;
}

MP_EXTERN void *mp_shared_calloc(size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = mp_shared_malloc(total);
    if (p == NULL)
        return NULL;
    struct block *b = (struct block *)p - 1;
    /* A large block's payload always reads as zero: fresh pages are, and
     * mp_shared_free punches (or clears) them. Touching them here would
     * commit memory for nothing. A reused small block holds old bytes. */
    if (b->cls != CLASS_LARGE)
        memset(p, 0, b->size);
    return p;
}

static struct block *block_of(const void *ptr, const char *who)
{
    if (!mp__heap_contains(ptr) || ((uintptr_t)ptr & 15) != 0)
        mp__panic("%s: %p is not a shared heap block", who, ptr);
    struct block *b = (struct block *)ptr - 1;
    if (b->state != BLOCK_USED)
        mp__panic("%s: %p is not allocated (double free?)", who, ptr);
    return b;
}

MP_EXTERN size_t mp_shared_usable_size(const void *ptr)
{
    if (ptr == NULL)
        return 0;
    return block_of(ptr, "mp_shared_usable_size")->size;
}

MP_EXTERN void mp_shared_free(void *ptr)
{
    if (ptr == NULL)
        return;
    struct block *b = block_of(ptr, "mp_shared_free");
    if (b->cls == CLASS_LARGE) {
        /* Give the payload pages back before taking the lock: nobody else
         * can reach this block until it is on the free list. */
        if (mp__memfile_release(ptr, b->size) < 0)
            memset(ptr, 0, b->size); /* keep free large blocks zeroed */
        char *start = (char *)ptr - PAGE;
        struct large_link *ll = (struct large_link *)start;
        heap_lock();
        b->state = BLOCK_FREE;
        heap->in_use -= b->size;
        ll->next = heap->large_free;
        heap->large_free = offset_of(start);
        heap_unlock();
        return;
    }
    heap_lock();
    b->state = BLOCK_FREE;
    heap->in_use -= b->size;
    *(uint64_t *)ptr = heap->small_free[b->cls];
    heap->small_free[b->cls] = offset_of(b);
    heap_unlock();
}
