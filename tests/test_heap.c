/* test_heap.c - the shared heap: one heap for the whole family, whenever
 * a block was allocated. */
/* ctest-timeout: 300 */
#include "mp_test.h"

#include <pthread.h>

#include "heap/heap.h"

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
    case 0: return 0;
    case 1: return r % 17;
    case 7: return 100000 + r % 400000; /* large blocks now and then */
    default: return r % 3000;
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
    return bad == 0 && ops > 1000 ? 0 : 1;
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
