/* test_heap.c - the shared heap: one heap for the whole family, whenever
 * a block was allocated; reuse, statistics, alignment; processes killed
 * or stopped inside the allocator. (Reuse under a 64 MiB heap, with the
 * queue and the pool: test_heap_reuse.c.) */
/* ctest-timeout: 900 (3.5 min beside 16 busy loops; 300 s ran out once) */
#include "mp_test.h"

#include <pthread.h>
#include <sys/mman.h>

#include "heap/heap.h"
#include "heap/layout.h"

/* check_heap fails the test when an allocator invariant is broken. */
#define check_heap()                                                                               \
    do {                                                                                           \
        char why_[256] = "";                                                                       \
        int rc_ = mp__heap_check(why_, sizeof why_);                                               \
        if (rc_ != 0)                                                                              \
            print_error("heap check: %s\n", why_);                                                 \
        assert_int_equal(rc_, 0);                                                                  \
    } while (0)

/* Sanitizers slow every forked child down many times: the tests that
 * fork hundreds of processes do fewer rounds there. */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

static int pipe_fds[2];

static bool parent_answered(void *p)
{
    return atomic_load_explicit((_Atomic char *)p, memory_order_acquire) == 'P';
}

/* Child: allocate after the fork, fill, send the pointer, wait for the
 * parent's answer written into the same block. */
static int child_allocates(void *arg)
{
    (void)arg;
    char *p = mp_shared_malloc(4096);
    if (p == NULL)
        return 2;
    memset(p, 'c', 4096);
    if (write(pipe_fds[1], &p, sizeof p) != sizeof p)
        return 3;
    if (!mpt_until(parent_answered, p, 10))
        return 4;
    return p[4095] == 'P' ? 0 : 5;
}

static void test_block_allocated_by_child_after_fork_is_shared(void **state)
{
    (void)state;
    assert_int_equal(pipe(pipe_fds), 0);
    pid_t pid = mpt_fork(child_allocates, NULL);
    char *p = NULL;
    assert_int_equal(read(pipe_fds[0], &p, sizeof p), sizeof p);
    assert_non_null(p);
    for (int i = 0; i < 4096; i++)
        assert_int_equal(p[i], 'c');
    memset(p + 1, 'P', 4095);
    atomic_store_explicit((_Atomic char *)p, 'P', memory_order_release); /* the answer's flag */
    assert_int_equal(mpt_wait(pid), 0);
    mp_shared_free(p);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
}

/* Child: wait for a pointer the parent allocates after the fork. */
static int child_reads_parent_block(void *arg)
{
    (void)arg;
    char *p;
    if (read(pipe_fds[0], &p, sizeof p) != sizeof p)
        return 2;
    for (int i = 0; i < 100000; i++)
        if (p[i] != (char)(i * 7))
            return 3;
    memset(p, 0x5a, 100000);
    return 0;
}

static void test_block_allocated_by_parent_after_fork_is_shared(void **state)
{
    (void)state;
    assert_int_equal(pipe(pipe_fds), 0);
    pid_t pid = mpt_fork(child_reads_parent_block, NULL);
    assert_true(mpt_wait_asleep(pid, 10)); /* running, waiting in its read */
    char *p = mp_shared_malloc(100000);
    assert_non_null(p);
    for (int i = 0; i < 100000; i++)
        p[i] = (char)(i * 7);
    assert_int_equal(write(pipe_fds[1], &p, sizeof p), sizeof p);
    assert_int_equal(mpt_wait(pid), 0);
    for (int i = 0; i < 100000; i++)
        assert_int_equal((unsigned char)p[i], 0x5a);
    mp_shared_free(p);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
}

#define SLOTS 64

struct churn {
    unsigned seed;
    int rounds; /* allocations and frees to make */
    int bad;
    long ops;
};

static size_t random_size(unsigned *seed)
{
    unsigned r = (unsigned)rand_r(seed);
    switch (r % 8) {
    case 0:
        return 0;
    case 1:
        return r % 17;
    case 7:
        return 100000 + r % 400000; /* large blocks now and then */
    default:
        return r % 3000;
    }
}

/* Allocate and free random sizes; each block holds a pattern naming its
 * owner, checked before it is freed. */
static void *churn_thread(void *arg)
{
    struct churn *c = arg;
    unsigned char *blk[SLOTS] = {0};
    size_t len[SLOTS] = {0};
    unsigned char tag[SLOTS] = {0};
    for (int round = 0; round < c->rounds; round++) {
        int i = rand_r(&c->seed) % SLOTS;
        if (blk[i] != NULL) {
            for (size_t k = 0; k < len[i]; k++)
                if (blk[i][k] != (unsigned char)(tag[i] + k)) {
                    c->bad++;
                    break;
                }
            mp_shared_free(blk[i]);
            blk[i] = NULL;
        } else {
            len[i] = random_size(&c->seed);
            blk[i] = mp_shared_malloc(len[i]);
            if (blk[i] == NULL) {
                c->bad++;
                continue;
            }
            tag[i] = (unsigned char)rand_r(&c->seed);
            for (size_t k = 0; k < len[i]; k++)
                blk[i][k] = (unsigned char)(tag[i] + k);
        }
        c->ops++;
    }
    for (int i = 0; i < SLOTS; i++)
        mp_shared_free(blk[i]);
    return NULL;
}

static int churn_process(void *arg)
{
    unsigned base_seed = (unsigned)(uintptr_t)arg;
    pthread_t th[4];
    struct churn c[4];
    for (int i = 0; i < 4; i++) {
        c[i] = (struct churn){.seed = base_seed * 31 + (unsigned)i, .rounds = 400};
        pthread_create(&th[i], NULL, churn_thread, &c[i]);
    }
    int bad = 0;
    long ops = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        bad += c[i].bad;
        ops += c[i].ops;
    }
    /* Progress, not speed: a few hundred operations under a sanitizer on
     * a loaded machine. */
    return bad == 0 && ops > 200 ? 0 : 1;
}

static void test_two_processes_four_threads_churn(void **state)
{
    (void)state;
    size_t before, heap_size;
    mp__heap_stats(&before, &heap_size);
    pid_t a = mpt_fork(churn_process, (void *)(uintptr_t)1);
    pid_t b = mpt_fork(churn_process, (void *)(uintptr_t)2);
    assert_int_equal(mpt_wait(a), 0);
    assert_int_equal(mpt_wait(b), 0);
    size_t after;
    mp__heap_stats(&after, &heap_size);
    assert_int_equal(after, before); /* every block came back */
    check_heap();
}

static void test_freed_memory_is_reused(void **state)
{
    (void)state;
    void *a = mp_shared_malloc(200);
    assert_non_null(a);
    mp_shared_free(a);
    void *b = mp_shared_malloc(200);
    assert_ptr_equal(a, b);
    mp_shared_free(b);

    void *big = mp_shared_malloc(10u << 20);
    assert_non_null(big);
    mp_shared_free(big);
    void *big2 = mp_shared_malloc(9u << 20);
    assert_ptr_equal(big, big2);
    mp_shared_free(big2);
}

static int check_big_block(void *arg)
{
    unsigned char *p = arg;
    size_t n = 256u << 20;
    for (size_t i = 0; i < n; i += 4096)
        if (p[i] != (unsigned char)(i >> 12))
            return 1;
    return p[n - 1] == 0xee ? 0 : 2;
}

static void test_256_mib_block(void **state)
{
    (void)state;
    size_t n = 256u << 20;
    unsigned char *p = mp_shared_malloc(n);
    assert_non_null(p);
    assert_true(mp_shared_usable_size(p) >= n);
    for (size_t i = 0; i < n; i += 4096)
        p[i] = (unsigned char)(i >> 12);
    p[n - 1] = 0xee;
    assert_int_equal(mpt_wait(mpt_fork(check_big_block, p)), 0);
    mp_shared_free(p);
}

static void test_impossible_sizes_fail_with_enomem(void **state)
{
    (void)state;
    errno = 0;
    assert_null(mp_shared_malloc(SIZE_MAX));
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    assert_null(mp_shared_malloc(SIZE_MAX - 4096));
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    assert_null(mp_shared_calloc(SIZE_MAX / 2, 3));
    assert_int_equal(errno, ENOMEM);
    /* The heap still works afterwards. */
    void *p = mp_shared_malloc(64);
    assert_non_null(p);
    mp_shared_free(p);
}

static void test_zero_size_and_null(void **state)
{
    (void)state;
    void *a = mp_shared_malloc(0);
    void *b = mp_shared_malloc(0);
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    assert_int_equal((uintptr_t)a % 16, 0);
    mp_shared_free(a);
    mp_shared_free(b);
    mp_shared_free(NULL);
    assert_int_equal(mp_shared_usable_size(NULL), 0);
}

static void test_calloc_zeroes_reused_blocks(void **state)
{
    (void)state;
    unsigned char *a = mp_shared_malloc(500);
    memset(a, 0xff, 500);
    mp_shared_free(a);
    unsigned char *b = mp_shared_calloc(50, 10);
    assert_ptr_equal(a, b);
    for (int i = 0; i < 500; i++)
        assert_int_equal(b[i], 0);
    mp_shared_free(b);
}

/* Resident memory of this process in bytes (from /proc/self/statm). */
static size_t resident_bytes(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f != NULL) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return (size_t)rss * (size_t)sysconf(_SC_PAGESIZE);
}

/* Resident shared memory of this process in bytes (RssShmem in
 * /proc/self/status): the heap's pages it has touched, without a
 * sanitizer's own (anonymous) memory. */
static size_t resident_shared_bytes(void)
{
    char line[256];
    size_t kb = 0;
    FILE *f = fopen("/proc/self/status", "r");
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "RssShmem: %zu kB", &kb) == 1)
            break;
    if (f != NULL)
        fclose(f);
    return kb << 10;
}

static void test_calloc_of_large_blocks_is_zero_without_touching_pages(void **state)
{
    (void)state;
    /* A reused large block reads as zero. */
    unsigned char *a = mp_shared_malloc(1u << 20);
    assert_non_null(a);
    memset(a, 0xff, 1u << 20);
    mp_shared_free(a);
    unsigned char *b = mp_shared_calloc(1, 1u << 20);
    assert_ptr_equal(a, b);
    for (size_t i = 0; i < (1u << 20); i += 997)
        assert_int_equal(b[i], 0);
    mp_shared_free(b);
    /* A huge calloc commits no memory until it is written. */
    size_t before = resident_bytes();
    unsigned char *big = mp_shared_calloc(2048, 1u << 20);
    assert_non_null(big);
    size_t after = resident_bytes();
    assert_true(after < before + (64u << 20));
    assert_int_equal(big[0], 0);
    assert_int_equal(big[(2048u << 20) - 1], 0);
    mp_shared_free(big);
}

/* ---- statistics and alignment ------------------------------------------ */

static void test_stats_null_is_einval_and_figures_fit(void **state)
{
    (void)state;
    assert_int_equal(mp_shared_stats(NULL), MP_EINVAL);
    void *p = mp_shared_malloc(1u << 20);
    assert_non_null(p);
    mp_heap_stats st;
    assert_int_equal(mp_shared_stats(&st), 0);
    assert_true(st.reserved >= (64u << 20));
    assert_true(st.in_use >= (1u << 20));
    assert_true(st.in_use + st.free <= st.reserved);
    assert_true(st.largest_free <= st.free);
    assert_true(st.largest_free > 0);
    assert_true(st.peak >= st.in_use);
    mp_shared_free(p);
    mp_heap_stats after;
    assert_int_equal(mp_shared_stats(&after), 0);
    assert_int_equal(after.in_use, st.in_use - (1u << 20));
    assert_true(after.peak >= st.in_use);
}

/* One thread, nothing else running: in_use moves by exactly the usable
 * size of each block, whether it comes from a thread cache, a slab or the
 * page pool, and whether it is freed into the cache or beyond it. */
static void test_stats_count_usable_bytes_of_live_blocks(void **state)
{
    (void)state;
    enum { N = 3000 };
    static void *blk[N];
    size_t base = mpt_heap_in_use(), sum = 0;
    unsigned seed = 7;
    for (int i = 0; i < N; i++) {
        size_t n = (size_t)rand_r(&seed) % (i % 50 == 0 ? 300000 : 5000);
        blk[i] = mp_shared_malloc(n);
        assert_non_null(blk[i]);
        assert_int_equal(mp_shared_usable_size(blk[i]), mp__heap_block_size(n));
        sum += mp_shared_usable_size(blk[i]);
        if (i % 500 == 0)
            assert_int_equal(mpt_heap_in_use(), base + sum);
    }
    assert_int_equal(mpt_heap_in_use(), base + sum);
    for (int i = 0; i < N; i += 2) {
        sum -= mp_shared_usable_size(blk[i]);
        mp_shared_free(blk[i]);
    }
    assert_int_equal(mpt_heap_in_use(), base + sum);
    for (int i = 1; i < N; i += 2)
        mp_shared_free(blk[i]);
    assert_int_equal(mpt_heap_in_use(), base);
    check_heap();
}

static void test_blocks_of_64_bytes_or_more_are_cache_line_aligned(void **state)
{
    (void)state;
    static void *blk[2000];
    for (size_t i = 0; i < 2000; i++) {
        size_t n = i < 1000 ? i : 1000 + (i - 1000) * 97;
        blk[i] = mp_shared_malloc(n);
        assert_non_null(blk[i]);
        uintptr_t a = (uintptr_t)blk[i];
        assert_int_equal(a % (n >= 64 ? 64 : 16), 0);
        if (n > 32 * 1024)
            assert_int_equal(a % 4096, 0);
    }
    for (size_t i = 0; i < 2000; i++)
        mp_shared_free(blk[i]);
}

/* ---- memory goes back --------------------------------------------------- */

/* Small blocks freed become one large block: 200 MiB of 100-byte blocks,
 * freed, then 200 MiB in one piece at the same place (the pages the small
 * blocks used come first in the pool). */
static void test_small_blocks_freed_make_room_for_a_large_one(void **state)
{
    (void)state;
    enum { N = 2000000 };
    void **blk = malloc(N * sizeof *blk);
    assert_non_null(blk);
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (int i = 0; i < N; i++) {
        blk[i] = mp_shared_malloc(100);
        assert_non_null(blk[i]);
        lo = (uintptr_t)blk[i] < lo ? (uintptr_t)blk[i] : lo;
        hi = (uintptr_t)blk[i] > hi ? (uintptr_t)blk[i] : hi;
    }
    for (int i = 0; i < N; i++)
        mp_shared_free(blk[i]);
    free(blk);
    mp__deadline d;
    mp__deadline_init(&d, 5.0);
    mp__heap_reclaim(&d);
    char *big = mp_shared_malloc(hi - lo);
    assert_non_null(big);
    /* Inside the range the small blocks had, or overlapping it. */
    assert_true((uintptr_t)big < hi && (uintptr_t)big + (hi - lo) > lo);
    mp_shared_free(big);
    check_heap();
}

/* fill_blocks makes n blocks of size bytes and writes byte all over them
 * (so that their pages are resident); free_blocks frees them. */
static void fill_blocks(char **blk, int n, size_t size, int byte)
{
    for (int i = 0; i < n; i++) {
        blk[i] = mp_shared_malloc(size);
        assert_non_null(blk[i]);
        memset(blk[i], byte, size);
    }
}

static void free_blocks(char **blk, int n)
{
    for (int i = 0; i < n; i++)
        mp_shared_free(blk[i]);
}

static void test_rss_falls_after_a_drain(void **state)
{
    (void)state;
    enum { N = 640, SIZE = 100 * 1024 };
    static char *blk[N];
    size_t before = resident_shared_bytes();
    fill_blocks(blk, N, SIZE, 0x5a);
    size_t full = resident_shared_bytes();
    assert_true(full > before + (size_t)N * SIZE / 2);
    free_blocks(blk, N);
    size_t after = resident_shared_bytes();
    print_message("RSS %zu MiB, filled %zu MiB, drained %zu MiB\n", before >> 20, full >> 20,
                  after >> 20);
    /* What is left: the budget of dirty pages kept for reuse (8 MiB). */
    assert_true(after < before + (12u << 20));
    check_heap();
}

/* Large blocks that come and go (a queue's chunks piling up behind a
 * preempted consumer, then freed at once) get their own pages back: what
 * was in use a moment ago stays mapped for reuse, not punched and faulted
 * in again. The budget follows the recent peak, not what is in use at
 * the last free (which is nothing). */
static void test_large_blocks_freed_in_a_swing_stay_for_reuse(void **state)
{
    (void)state;
    enum { N = 8, SIZE = 4 << 20 };
    char *blk[N];
    fill_blocks(blk, N, SIZE, 0x5a);
    size_t full = resident_shared_bytes();
    free_blocks(blk, N);
    size_t freed = resident_shared_bytes();
    fill_blocks(blk, N, SIZE, 0xa5);
    size_t again = resident_shared_bytes();
    print_message("RSS in use %zu MiB, freed %zu MiB, in use again %zu MiB\n", full >> 20,
                  freed >> 20, again >> 20);
    assert_true(freed + (2u << 20) >= full); /* nothing punched */
    assert_true(again <= full + (2u << 20)); /* the same pages reused */
    free_blocks(blk, N);
    check_heap();
}

/* Blocks that keep cycling after a peak (a queue's chunks: one or two in
 * use, then ten behind a preempted consumer) keep the pages of the peak:
 * every free is followed by a take, so the peak fades slowly, and the
 * next swing finds its pages mapped instead of punched and faulted in
 * again by every process. */
static void test_large_blocks_cycling_after_a_peak_keep_its_pages(void **state)
{
    (void)state;
    enum { N = 16, KEEP = 2, SIZE = 4 << 20, CYCLES = 200 };
    char *blk[N];
    fill_blocks(blk, N, SIZE, 0x5a);
    size_t full = resident_shared_bytes();
    free_blocks(blk + KEEP, N - KEEP);
    for (int i = 0; i < CYCLES; i++) {
        mp_shared_free(blk[i % KEEP]);
        blk[i % KEEP] = mp_shared_malloc(SIZE);
        assert_non_null(blk[i % KEEP]);
        blk[i % KEEP][0] = (char)i;
    }
    size_t cycled = resident_shared_bytes();
    fill_blocks(blk + KEEP, N - KEEP, SIZE, 0xa5);
    size_t again = resident_shared_bytes();
    print_message("RSS at the peak %zu MiB, after %d cycles %zu MiB, at the peak again %zu MiB\n",
                  full >> 20, CYCLES, cycled >> 20, again >> 20);
    assert_true(cycled + (4u << 20) >= full); /* the peak's pages kept */
    assert_true(again <= full + (2u << 20));  /* and reused */
    free_blocks(blk, N);
    check_heap();
}

/* ---- killed inside malloc and free ---------------------------------------- */

/* A child allocates and frees random sizes and publishes, per slot, what
 * it is doing, so that after a SIGKILL the parent knows which blocks are
 * live (it frees them), which are certainly not, and which are in flight
 * in the caller's hands: a malloc that may have committed before the
 * pointer reached the slot. Only those may stay in use; everything the
 * allocator itself held (caches, intents, spans being punched, locks)
 * must come back. */
enum { KSLOTS = 24, K_EMPTY = 0, K_ALLOCATING, K_LIVE, K_FREEING };

struct kslot {
    _Atomic int state;
    _Atomic size_t size;
    void *_Atomic p;
};

struct kctl {
    _Atomic long ops;
    struct kslot slot[KSLOTS];
};

static size_t kill_size(unsigned *seed)
{
    unsigned r = (unsigned)rand_r(seed);
    switch (r % 10) {
    case 0:
        return r % 16;
    case 1:
    case 2:
    case 3:
        return r % 512;
    case 4:
    case 5:
        return r % 8192;
    case 6:
        return r % 40000;
    case 7:
        return 33000 + r % 300000;
    default:
        return r % 2048;
    }
}

static int killed_child(void *arg)
{
    struct kctl *k = arg;
    unsigned seed = (unsigned)getpid();
    for (;;) {
        int i = rand_r(&seed) % KSLOTS;
        struct kslot *s = &k->slot[i];
        if (atomic_load(&s->state) == K_LIVE) {
            unsigned char *p = atomic_load(&s->p);
            size_t n = atomic_load(&s->size);
            if (n > 0 && (p[0] != (unsigned char)i || p[n - 1] != (unsigned char)i))
                return 4;
            atomic_store(&s->state, K_FREEING);
            mp_shared_free(p);
            atomic_store(&s->p, NULL);
            atomic_store(&s->state, K_EMPTY);
        } else {
            size_t n = kill_size(&seed);
            atomic_store(&s->size, n);
            atomic_store(&s->state, K_ALLOCATING);
            unsigned char *p = mp_shared_malloc(n);
            atomic_store(&s->p, p); /* at once: the caller's window */
            if (p == NULL)
                return 3;
            if (n > 0)
                p[0] = p[n - 1] = (unsigned char)i;
            atomic_store(&s->state, K_LIVE);
        }
        atomic_fetch_add(&k->ops, 1);
    }
}

static void test_processes_killed_inside_malloc_and_free_leave_the_heap_whole(void **state)
{
    (void)state;
    const char *env = getenv("MP_HEAP_KILLS");
    int kills = env != NULL ? atoi(env) : SANITIZED ? 60 : 300;
    struct kctl *k =
        mmap(NULL, sizeof *k, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(k != MAP_FAILED);
    mp__deadline d;
    mp__deadline_init(&d, 10.0);
    mp__heap_reclaim(&d);
    size_t base = mpt_heap_in_use();
    size_t in_flight = 0;
    int hits[4] = {0};
    unsigned seed = 99;
    for (int n = 0; n < kills; n++) {
        memset(k, 0, sizeof *k);
        pid_t pid = mpt_fork(killed_child, k);
        /* Kill after a random number of operations, counted by the child
         * (no sleep decides where the kill lands). */
        long target = 1 + rand_r(&seed) % 400;
        double end = mpt_now() + 30;
        while (atomic_load(&k->ops) < target && mpt_now() < end)
            ;
        assert_true(atomic_load(&k->ops) >= target);
        kill(pid, SIGKILL);
        assert_int_equal(mpt_wait(pid), 128 + SIGKILL);
        for (int i = 0; i < KSLOTS; i++) {
            struct kslot *s = &k->slot[i];
            void *p = atomic_load(&s->p);
            int st = atomic_load(&s->state);
            hits[st]++;
            if (st == K_LIVE || (st == K_ALLOCATING && p != NULL)) {
                mp_shared_free(p);
            } else if (st == K_ALLOCATING) {
                in_flight += mp__heap_block_size(atomic_load(&s->size));
            } else if (st == K_FREEING) {
                /* Freed or not: once the dead child's cache is emptied,
                 * the allocator knows. */
                mp__heap_reclaim(&d);
                if (mp__heap_allocated(p))
                    mp_shared_free(p);
            }
        }
    }
    munmap(k, sizeof *k);
    mp__heap_reclaim(&d);
    size_t after = mpt_heap_in_use();
    print_message("%d kills: in_use %zu -> %zu bytes; in flight at most %zu "
                  "(allocating %d, freeing %d)\n",
                  kills, base, after, in_flight, hits[K_ALLOCATING], hits[K_FREEING]);
    assert_true(after >= base);
    assert_true(after - base <= in_flight);
    check_heap();
    mp_heap_stats st;
    assert_int_equal(mp_shared_stats(&st), 0);
    assert_true(st.in_use + st.free <= st.reserved);
    /* Still usable: a block of a quarter of what is free, and small ones. */
    void *big = mp_shared_malloc(st.largest_free / 4);
    assert_non_null(big);
    void *small[100];
    for (int i = 0; i < 100; i++)
        assert_non_null(small[i] = mp_shared_malloc((size_t)i * 37));
    for (int i = 0; i < 100; i++)
        mp_shared_free(small[i]);
    mp_shared_free(big);
    check_heap();
}

/* A thread's cache is returned when the thread exits, and a dead
 * process's cache when another process registers or reclaims. */
static void *cache_some(void *arg)
{
    void *blk[40];
    for (int i = 0; i < 40; i++)
        blk[i] = mp_shared_malloc(200);
    for (int i = 0; i < 40; i++)
        mp_shared_free(blk[i]);
    *(int64_t *)arg = mp__tcache_bytes();
    return NULL;
}

static int cache_and_exit(void *arg)
{
    int64_t held;
    cache_some(&held);
    return held > 0 ? 0 : 1;
}

static void test_caches_of_ended_threads_and_processes_come_back(void **state)
{
    (void)state;
    mp__deadline d;
    mp__deadline_init(&d, 10.0);
    mp__heap_reclaim(&d);
    int64_t before = mp__tcache_bytes();
    int64_t held = 0;
    pthread_t t;
    pthread_create(&t, NULL, cache_some, &held);
    pthread_join(t, NULL);
    assert_true(held > before);
    assert_int_equal(mp__tcache_bytes(), before); /* emptied at thread exit */
    assert_int_equal(mpt_wait(mpt_fork(cache_and_exit, NULL)), 0);
    assert_true(mp__tcache_bytes() > before); /* _exit ran no destructor */
    mp__heap_reclaim(&d);
    assert_int_equal(mp__tcache_bytes(), 0);
    check_heap();
}

/* ---- stopped inside the allocator ----------------------------------------- */

struct stopctl {
    _Atomic long ops;
};

static int large_looper(void *arg)
{
    struct stopctl *c = arg;
    unsigned seed = (unsigned)getpid();
    for (;;) {
        void *p = mp_shared_malloc(40000 + (size_t)rand_r(&seed) % 400000);
        if (p == NULL)
            return 3;
        mp_shared_free(p);
        atomic_fetch_add(&c->ops, 1);
    }
}

static int small_looper(void *arg)
{
    struct stopctl *c = arg;
    unsigned seed = (unsigned)getpid();
    void *blk[300];
    for (;;) {
        for (int i = 0; i < 300; i++)
            if ((blk[i] = mp_shared_malloc((size_t)rand_r(&seed) % 4000)) == NULL)
                return 3;
        for (int i = 0; i < 300; i++)
            mp_shared_free(blk[i]);
        atomic_fetch_add(&c->ops, 1);
    }
}

static bool holds_pool(pid_t pid)
{
    return mp__lock_owner(&mp__H->pool.lock) == pid;
}

static bool holds_only_an_arena(pid_t pid)
{
    if (holds_pool(pid))
        return false;
    for (int k = 0; k < MP__ARENAS; k++)
        if (mp__lock_owner(&mp__H->arena[k].lock) == pid)
            return true;
    return false;
}

/* The stopped child of the running test, killed by its teardown even when
 * an assertion jumps out of the test (a stopped holder of a heap lock
 * left behind would wedge every later test). */
static pid_t stopped_child;

static int kill_stopped_child(void **state)
{
    (void)state;
    if (stopped_child > 0) {
        kill(stopped_child, SIGKILL);
        kill(stopped_child, SIGCONT);
        mpt_wait(stopped_child);
        stopped_child = 0;
    }
    return 0;
}

/* stop_inside starts looper and stops it until it is caught holding what
 * `held` asks (up to 2000 tries). Returns the stopped pid, or 0. */
static pid_t stop_inside(int (*looper)(void *), bool (*held)(pid_t), struct stopctl *c)
{
    pid_t pid = mpt_fork(looper, c);
    unsigned seed = (unsigned)pid;
    double round = 0, last = mpt_now();
    for (int i = 0; i < 2000; i++) {
        long seen = atomic_load(&c->ops);
        double end = mpt_now() + 10;
        while (atomic_load(&c->ops) == seen && mpt_now() < end)
            ;
        /* The counter moves at the end of a round: let a random part of
         * the next round go by (busy, reading the clock), so that the
         * stop lands anywhere in it. */
        double now = mpt_now();
        round = now - last;
        for (double until = now + round * (rand_r(&seed) % 1000) / 1000.0; mpt_now() < until;)
            ;
        kill(pid, SIGSTOP);
        siginfo_t si;
        waitid(P_PID, (id_t)pid, &si, WSTOPPED);
        if (held(pid)) {
            stopped_child = pid;
            return pid;
        }
        kill(pid, SIGCONT);
        last = mpt_now();
    }
    kill(pid, SIGKILL);
    mpt_wait(pid);
    return 0;
}

static void end_stopped(pid_t pid)
{
    stopped_child = 0;
    kill(pid, SIGKILL);
    kill(pid, SIGCONT);
    assert_int_equal(mpt_wait(pid), 128 + SIGKILL);
    mp__deadline d;
    mp__deadline_init(&d, 10.0);
    mp__heap_reclaim(&d);
    check_heap();
}

static int puncher(void *arg)
{
    struct stopctl *c = arg;
    enum { N = 40, SIZE = 300 * 1024 };
    char *blk[N];
    for (;;) {
        for (int i = 0; i < N; i++) {
            if ((blk[i] = mp_shared_malloc(SIZE)) == NULL)
                return 3;
            memset(blk[i], 1, SIZE); /* dirty pages, 12 MB a round: over the budget */
        }
        for (int i = 0; i < N; i++)
            mp_shared_free(blk[i]);
        atomic_fetch_add(&c->ops, 1);
    }
}

/* out_pages counts the pages pid holds out of the pool to punch them. */
static uint32_t out_pages(pid_t pid)
{
    uint32_t n = 0;
    for (uint32_t p = mp__H->first_page; p < mp__H->npages; p += MP__TAG_LEN(mp__tag(p)))
        if (MP__TAG_KIND(mp__tag(p)) == MP__PK_OUT && mp__PM[p].owner == (uint32_t)pid)
            n += MP__TAG_LEN(mp__tag(p));
    return n;
}

static bool punching(pid_t pid)
{
    return !holds_pool(pid) && out_pages(pid) > 0;
}

/* Pages a process took out of the pool to give back to the system (the
 * system call runs with no lock held) come back when it dies there. */
static void test_pages_out_for_punching_come_back_when_the_process_dies(void **state)
{
    (void)state;
    struct stopctl *c =
        mmap(NULL, sizeof *c, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    for (int round = 0; round < (SANITIZED ? 2 : 5); round++) {
        atomic_store(&c->ops, 0);
        pid_t pid = stop_inside(puncher, punching, c);
        if (pid == 0)
            skip();
        uint32_t out = out_pages(pid);
        mp_heap_stats before, after;
        assert_int_equal(mp_shared_stats(&before), 0);
        end_stopped(pid); /* kills it, reclaims, checks */
        assert_int_equal(out_pages(pid), 0);
        assert_int_equal(mp_shared_stats(&after), 0);
        /* The span is free again (and whatever the dead held besides). */
        assert_true(after.free >= before.free + ((size_t)out << MP__PAGE_SHIFT));
    }
    munmap(c, sizeof *c);
}

/* A process stopped while it holds the page pool's lock: a large malloc
 * with a deadline returns ETIMEDOUT at that deadline, frees return at
 * once, and small mallocs that find room in a slab go through. */
static void test_process_stopped_in_the_page_pool_delays_no_one_past_a_deadline(void **state)
{
    (void)state;
    struct stopctl *c =
        mmap(NULL, sizeof *c, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    void *large[20], *small[20];
    for (int i = 0; i < 20; i++) {
        assert_non_null(large[i] = mp_shared_malloc(100000));
        assert_non_null(small[i] = mp_shared_malloc(100));
    }
    for (int round = 0; round < 20; round++) {
        atomic_store(&c->ops, 0);
        pid_t pid = stop_inside(large_looper, holds_pool, c);
        if (pid == 0)
            skip(); /* never caught inside: nothing to test on this machine */
        mp__deadline d;
        mp__deadline_init(&d, 0.2);
        double t0 = mpt_now();
        errno = 0;
        void *p = mp__heap_alloc(1u << 20, &d);
        double took = mpt_now() - t0;
        assert_null(p);
        assert_int_equal(errno, ETIMEDOUT);
        assert_true(took >= 0.19 && took < 1.2);
        t0 = mpt_now();
        mp_shared_free(large[round]);
        mp_shared_free(small[round]);
        /* Frees never wait: one that waited for the stopped process would
         * wait until end_stopped. The bound only allows for preemption. */
        assert_true(mpt_now() - t0 < 1.0);
        mp__deadline_init(&d, 0.2);
        t0 = mpt_now();
        p = mp__heap_alloc(100, &d);
        assert_true(mpt_now() - t0 < 1.2);
        mp_shared_free(p);
        end_stopped(pid);
    }
    munmap(c, sizeof *c);
}

/* A process stopped while it holds an arena's lock: other processes use
 * the other arenas, so small mallocs and frees go through at once. */
static void test_process_stopped_in_an_arena_delays_no_small_block(void **state)
{
    (void)state;
    struct stopctl *c =
        mmap(NULL, sizeof *c, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    for (int round = 0; round < 20; round++) {
        atomic_store(&c->ops, 0);
        pid_t pid = stop_inside(small_looper, holds_only_an_arena, c);
        if (pid == 0)
            skip();
        /* Each would time out (NULL) if it waited for the stopped arena. */
        void *blk[500];
        for (int i = 0; i < 500; i++) {
            mp__deadline d;
            mp__deadline_init(&d, 0.5);
            double t0 = mpt_now();
            assert_non_null(blk[i] = mp__heap_alloc((size_t)i * 8, &d));
            assert_true(mpt_now() - t0 < 1.5);
        }
        for (int i = 0; i < 500; i++)
            mp_shared_free(blk[i]); /* never waits: a wait here would hang */
        end_stopped(pid);
    }
    munmap(c, sizeof *c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        mpt_test(test_block_allocated_by_child_after_fork_is_shared),
        mpt_test(test_block_allocated_by_parent_after_fork_is_shared),
        mpt_test(test_two_processes_four_threads_churn),
        mpt_test(test_freed_memory_is_reused),
        mpt_test(test_256_mib_block),
        mpt_test(test_impossible_sizes_fail_with_enomem),
        mpt_test(test_zero_size_and_null),
        mpt_test(test_calloc_zeroes_reused_blocks),
        mpt_test(test_calloc_of_large_blocks_is_zero_without_touching_pages),
        mpt_test(test_stats_null_is_einval_and_figures_fit),
        mpt_test(test_stats_count_usable_bytes_of_live_blocks),
        mpt_test(test_blocks_of_64_bytes_or_more_are_cache_line_aligned),
        mpt_test(test_small_blocks_freed_make_room_for_a_large_one),
        mpt_test(test_rss_falls_after_a_drain),
        mpt_test(test_large_blocks_freed_in_a_swing_stay_for_reuse),
        mpt_test(test_large_blocks_cycling_after_a_peak_keep_its_pages),
        mpt_test(test_processes_killed_inside_malloc_and_free_leave_the_heap_whole),
        mpt_test(test_caches_of_ended_threads_and_processes_come_back),
        mpt_test_fixture(test_process_stopped_in_the_page_pool_delays_no_one_past_a_deadline, NULL,
                         kill_stopped_child),
        mpt_test_fixture(test_process_stopped_in_an_arena_delays_no_small_block, NULL,
                         kill_stopped_child),
        mpt_test_fixture(test_pages_out_for_punching_come_back_when_the_process_dies, NULL,
                         kill_stopped_child),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
