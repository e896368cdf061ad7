/* fuzz_heap.c - libFuzzer target: random sequences of shared-heap calls
 * (malloc, calloc, the deadline form, free in any order, usable_size,
 * statistics) on a 64 MiB heap, checked call by call against a model of
 * the live blocks:
 *   - every block is aligned as promised and overlaps no other live one;
 *   - the bytes written into a block are still there when it is checked
 *     or freed, and calloc's are zero;
 *   - usable_size is the size class (or pages) of the request;
 *   - in_use is exactly the sum of the live blocks' usable sizes (one
 *     thread: the statistics are exact), and the figures fit each other;
 *   - a malloc fails only when no free run of pages could hold it;
 *   - after each input every invariant of the allocator holds
 *     (mp__heap_check) and in_use is back where it started.
 * A mismatch aborts.
 *
 * The heap is mapped when libmp is loaded, so LLVMFuzzerInitialize runs
 * the program again with MP_HEAP_SIZE=64M when it is not set: requests
 * of up to 1 MiB, up to 256 live blocks, fill it. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heap/heap.h"
#include "mp.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_heap: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);    \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define MAX_LIVE 256
#define MAX_SIZE (1u << 20)

struct input {
    const uint8_t *p;
    size_t n;
};

static uint8_t take8(struct input *in)
{
    if (in->n == 0)
        return 0;
    in->n--;
    return *in->p++;
}

static uint32_t take32(struct input *in)
{
    uint32_t v = take8(in);
    v |= (uint32_t)take8(in) << 8;
    v |= (uint32_t)take8(in) << 16;
    return v | (uint32_t)take8(in) << 24;
}

/* A request size in 0..1 MiB: mostly small, some around the edges of the
 * size classes and of pages, some large. */
static size_t take_size(struct input *in)
{
    static const size_t edges[] = {15,   16,   17,   48,    63,    64,    65,    1024,    1025,
                                   4095, 4096, 4097, 32767, 32768, 32769, 65536, 1u << 20};
    uint8_t k = take8(in);
    uint32_t r = take32(in);
    switch (k % 8) {
    case 0:
        return 0;
    case 1:
    case 2:
        return r % 256;
    case 3:
        return r % 4096;
    case 4:
        return r % 32768;
    case 5:
        return edges[r % (sizeof edges / sizeof *edges)];
    case 6:
        return r % (128u << 10);
    default:
        return r % (MAX_SIZE + 1);
    }
}

/* ---- the model ------------------------------------------------------------ */

struct blk {
    unsigned char *p;
    size_t size;   /* asked for */
    size_t usable; /* mp_shared_usable_size at allocation */
    uint8_t seed;
};

static struct blk live[MAX_LIVE];
static int nlive;
static size_t live_bytes; /* sum of usable sizes */
static size_t base_in_use;

/* A block's bytes: its seed, with every TAG_STEP-th byte a tag of its
 * position, so that a shifted or overlapping write shows. Blocks above
 * WHOLE bytes get their first and last pages written and a tag every
 * SPARSE bytes in between (overlap is checked by address anyway): filling
 * hundreds of MiB per input would leave no time for anything else. */
#define TAG_STEP 256
#define WHOLE    (64u << 10)
#define EDGE     4096u
#define SPARSE   (64u << 10)

static unsigned char tag(const struct blk *b, size_t i)
{
    return (unsigned char)(b->seed ^ 0x5a ^ (i / TAG_STEP));
}

static void fill_range(struct blk *b, size_t from, size_t to)
{
    memset(b->p + from, b->seed, to - from);
    for (size_t i = from; i < to; i += TAG_STEP)
        b->p[i] = tag(b, i);
}

static void verify_range(const struct blk *b, size_t from, size_t to)
{
    static unsigned char same[TAG_STEP];
    memset(same, b->seed, sizeof same);
    for (size_t i = from; i < to; i += TAG_STEP) {
        size_t n = to - i < TAG_STEP ? to - i : TAG_STEP;
        if (b->p[i] != tag(b, i) || memcmp(b->p + i + 1, same, n - 1) != 0) {
            fprintf(stderr, "fuzz_heap: block %p (%zu bytes) changed near byte %zu\n", (void *)b->p,
                    b->size, i);
            abort();
        }
    }
}

static void fill(struct blk *b)
{
    if (b->size <= WHOLE) {
        fill_range(b, 0, b->size);
        return;
    }
    fill_range(b, 0, EDGE);
    fill_range(b, b->size - EDGE, b->size);
    for (size_t i = SPARSE; i < b->size - EDGE; i += SPARSE)
        b->p[i] = tag(b, i);
}

static void verify(const struct blk *b)
{
    if (b->size <= WHOLE) {
        verify_range(b, 0, b->size);
        return;
    }
    verify_range(b, 0, EDGE);
    verify_range(b, b->size - EDGE, b->size);
    for (size_t i = SPARSE; i < b->size - EDGE; i += SPARSE)
        if (b->p[i] != tag(b, i)) {
            fprintf(stderr, "fuzz_heap: block %p (%zu bytes) changed at byte %zu\n", (void *)b->p,
                    b->size, i);
            abort();
        }
}

static void check_stats(void)
{
    mp_heap_stats st;
    CHECK(mp_shared_stats(&st) == 0);
    if (st.in_use != base_in_use + live_bytes) {
        fprintf(stderr, "fuzz_heap: in_use %zu, model %zu + %zu\n", st.in_use, base_in_use,
                live_bytes);
        abort();
    }
    CHECK(st.in_use + st.free <= st.reserved);
    CHECK(st.largest_free <= st.free);
    CHECK(st.peak >= st.in_use);
}

/* A new block from the allocator: aligned, apart from every live one. */
static void adopt(unsigned char *p, size_t size, uint8_t seed, bool zeroed)
{
    size_t usable = mp_shared_usable_size(p);
    CHECK(usable == mp__heap_block_size(size));
    CHECK((uintptr_t)p % (usable >= 64 ? 64 : 16) == 0);
    for (int i = 0; i < nlive; i++)
        CHECK(p + usable <= live[i].p || live[i].p + live[i].usable <= p);
    static const unsigned char zero[WHOLE];
    if (zeroed) { /* sampled like the contents beyond WHOLE bytes */
        if (usable <= WHOLE) {
            CHECK(memcmp(p, zero, usable) == 0);
        } else {
            CHECK(memcmp(p, zero, EDGE) == 0 && memcmp(p + usable - EDGE, zero, EDGE) == 0);
            for (size_t i = SPARSE; i < usable - EDGE; i += SPARSE)
                CHECK(p[i] == 0);
        }
    }
    struct blk *b = &live[nlive++];
    *b = (struct blk){.p = p, .size = size, .usable = usable, .seed = seed};
    fill(b);
    live_bytes += usable;
}

/* A failed allocation: only when no free run of pages could hold it. */
static void refused(size_t size)
{
    CHECK(errno == ENOMEM);
    mp_heap_stats st;
    CHECK(mp_shared_stats(&st) == 0);
    /* A slab of the biggest class is 65 pages. */
    if (st.largest_free >= mp__heap_block_size(size) + (65u << 12)) {
        fprintf(stderr, "fuzz_heap: malloc(%zu) refused with %zu bytes free in one run\n", size,
                st.largest_free);
        abort();
    }
}

static void drop(int i)
{
    verify(&live[i]);
    CHECK(mp_shared_usable_size(live[i].p) == live[i].usable);
    live_bytes -= live[i].usable;
    mp_shared_free(live[i].p);
    live[i] = live[--nlive];
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    const char *size = getenv("MP_HEAP_SIZE");
    if (size == NULL || strcmp(size, "64M") != 0) {
        setenv("MP_HEAP_SIZE", "64M", 1);
        execv("/proc/self/exe", *argv);
        perror("fuzz_heap: execv");
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    struct input in = {data, len};
    mp_heap_stats st;
    CHECK(mp_shared_stats(&st) == 0);
    base_in_use = st.in_use;
    nlive = 0;
    live_bytes = 0;
    while (in.n > 0) {
        uint8_t op = take8(&in);
        switch (op % 8) {
        case 0:
        case 1: { /* malloc */
            size_t size = take_size(&in);
            if (nlive == MAX_LIVE)
                drop(0);
            errno = 0;
            unsigned char *p = mp_shared_malloc(size);
            if (p == NULL)
                refused(size);
            else
                adopt(p, size, op, false);
            break;
        }
        case 2: { /* calloc */
            size_t n = take8(&in) % 64 + 1, size = take_size(&in) / n;
            if (nlive == MAX_LIVE)
                drop(0);
            errno = 0;
            unsigned char *p = mp_shared_calloc(n, size);
            if (p == NULL)
                refused(n * size);
            else
                adopt(p, n * size, op, true);
            break;
        }
        case 3: { /* with a deadline: nobody else holds a lock, so never ETIMEDOUT */
            size_t size = take_size(&in);
            if (nlive == MAX_LIVE)
                drop(0);
            mp__deadline d;
            mp__deadline_init(&d, 0);
            errno = 0;
            unsigned char *p = mp__heap_alloc(size, &d);
            if (p == NULL)
                refused(size);
            else
                adopt(p, size, op, false);
            break;
        }
        case 4:
        case 5: /* free any one */
            if (nlive > 0)
                drop(take8(&in) % nlive);
            break;
        case 6: /* look at one */
            if (nlive > 0) {
                struct blk *b = &live[take8(&in) % nlive];
                verify(b);
                CHECK(mp_shared_usable_size(b->p) == mp__heap_block_size(b->size));
            }
            break;
        default:
            check_stats();
            break;
        }
    }
    check_stats();
    /* Free the rest from both ends and the middle. */
    while (nlive > 0)
        drop(nlive % 3 == 0 ? 0 : nlive % 3 == 1 ? nlive - 1 : nlive / 2);
    check_stats();
    char why[256] = "";
    if (mp__heap_check(why, sizeof why) != 0) {
        fprintf(stderr, "fuzz_heap: heap check: %s\n", why);
        abort();
    }
    return 0;
}
