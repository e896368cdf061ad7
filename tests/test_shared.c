/* test_shared.c - Value, Array and named shared memory.
 *
 * ctest-timeout: 90 */
#include "mp_test.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdatomic.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "heap/heap.h"

extern char **environ;

/* Every block these tests name starts with "mpt_shared_<pid>_", so two
 * builds testing at once never meet, and the last test can check that none
 * is left in /dev/shm. Generated names (NULL) are remembered for it too. */
static char prefix[64];
static char fresh[8][NAME_MAX + 1];
static int nfresh;

static const char *shm_name(const char *suffix)
{
    static char buf[4][NAME_MAX + 1];
    static int next;
    char *b = buf[next++ % 4];
    snprintf(b, NAME_MAX + 1, "%s%s", prefix, suffix);
    return b;
}

static bool in_dev_shm(const char *name)
{
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof path, "/dev/shm/%s", name);
    return stat(path, &st) == 0;
}

static unsigned char pattern(size_t i, unsigned seed)
{
    return (unsigned char)((i * 31 + seed) & 0xff);
}

/* Run tests/helpers/shm_peer with args (posix_spawn: a fresh program, not
 * a fork) and return its exit status. */
static int run_peer(const char *mode, const char *name, size_t size, unsigned seed)
{
    char sz[32], sd[32];
    snprintf(sz, sizeof sz, "%zu", size);
    snprintf(sd, sizeof sd, "%u", seed);
    char *argv[] = {(char *)"shm_peer", (char *)mode, (char *)name, sz, sd, NULL};
    pid_t pid;
    if (posix_spawn(&pid, MP_TEST_HELPERS "/shm_peer", NULL, NULL, argv, environ) != 0)
        return -1;
    return mpt_wait(pid);
}

static int setup_prefix(void **state)
{
    snprintf(prefix, sizeof prefix, "mpt_shared_%d_", (int)getpid());
    return 0;
}

/* Whatever a failed test left behind goes, so /dev/shm stays clean. */
static int teardown_leftovers(void **state)
{
    DIR *d = opendir("/dev/shm");
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
            mp_shm_unlink(e->d_name);
    if (d != NULL)
        closedir(d);
    for (int i = 0; i < nfresh; i++)
        mp_shm_unlink(fresh[i]);
    return 0;
}

/* ---- Value and Array ---------------------------------------------------- */

#define WORKERS    4
#define INCREMENTS 100000

/* The workers start together, once all are forked, so that their
 * increments really overlap (one alone finishes faster than a fork). */
static _Atomic int *start_gate;

static int add_under_lock(void *arg)
{
    volatile int64_t *v = arg;
    mp_lock *l = mp_value_lock(arg);
    if (l == NULL)
        return 1;
    while (atomic_load(start_gate) == 0)
        sched_yield();
    for (int i = 0; i < INCREMENTS; i++) {
        if (mp_lock_acquire(l, MP_FOREVER) != 0)
            return 2;
        *v = *v + 1; /* a read-modify-write: only the lock makes it exact */
        if (mp_lock_release(l) != 0)
            return 3;
    }
    return 0;
}

static void test_value_counts_exactly_under_lock_in_4_processes(void **state)
{
    int64_t zero = 0;
    int64_t *v = mp_value_new(sizeof zero, &zero);
    assert_non_null(v);
    start_gate = mp_shared_calloc(1, sizeof *start_gate);
    assert_non_null(start_gate);
    pid_t pids[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        pids[i] = mpt_fork(add_under_lock, v);
    atomic_store(start_gate, 1);
    for (int i = 0; i < WORKERS; i++)
        assert_int_equal(mpt_wait(pids[i]), 0);
    assert_int_equal(*v, (int64_t)WORKERS * INCREMENTS);
    mp_value_free(v);
    mp_shared_free((void *)start_gate);
}

#define NDOUBLES 10007

struct fill_arg {
    double *a;
    int k;
};

static int fill_my_indexes(void *arg)
{
    struct fill_arg *f = arg;
    if (mp_array_len(f->a) != NDOUBLES)
        return 1;
    for (size_t i = (size_t)f->k; i < NDOUBLES; i += WORKERS)
        f->a[i] = (double)i * 1.5 + 0.25;
    return 0;
}

static void test_array_of_doubles_filled_by_4_processes_reads_back_whole(void **state)
{
    double *a = mp_array_new(NDOUBLES, sizeof(double), NULL);
    assert_non_null(a);
    assert_int_equal(mp_array_len(a), NDOUBLES);
    for (size_t i = 0; i < NDOUBLES; i++)
        assert_true(a[i] == 0.0);
    struct fill_arg args[WORKERS];
    pid_t pids[WORKERS];
    for (int k = 0; k < WORKERS; k++) {
        args[k] = (struct fill_arg){a, k};
        pids[k] = mpt_fork(fill_my_indexes, &args[k]);
    }
    for (int k = 0; k < WORKERS; k++)
        assert_int_equal(mpt_wait(pids[k]), 0);
    for (size_t i = 0; i < NDOUBLES; i++)
        assert_true(a[i] == (double)i * 1.5 + 0.25);
    mp_value_free(a);
}

static int make_value_and_send(void *arg)
{
    int *fd = arg;
    int32_t init = 1234;
    void *v = mp_value_new(sizeof init, &init);
    if (v == NULL)
        return 1;
    return write(fd[1], &v, sizeof v) == (ssize_t)sizeof v ? 0 : 2;
}

static void test_value_made_in_child_after_fork_is_usable_by_parent(void **state)
{
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    assert_int_equal(mpt_wait(mpt_fork(make_value_and_send, fd)), 0);
    int32_t *v;
    assert_int_equal(read(fd[0], &v, sizeof v), sizeof v);
    close(fd[0]);
    close(fd[1]);
    assert_int_equal(*v, 1234);
    assert_int_equal(mp_array_len(v), 1);
    mp_lock *l = mp_value_lock(v);
    assert_non_null(l);
    assert_int_equal(mp_lock_acquire(l, 1.0), 0);
    (*v)++;
    assert_int_equal(mp_lock_release(l), 0);
    assert_int_equal(*v, 1235);
    mp_value_free(v);
}

static void test_value_new_copies_init_or_zeroes(void **state)
{
    struct point {
        int x, y;
        double w;
    } p = {3, -4, 2.5};
    struct point *v = mp_value_new(sizeof p, &p);
    assert_non_null(v);
    assert_int_equal(v->x, 3);
    assert_int_equal(v->y, -4);
    assert_true(v->w == 2.5);
    assert_int_equal(mp_array_len(v), 1);
    mp_value_free(v);

    /* A block that held other bytes before still comes back zeroed. */
    unsigned char ff[200];
    memset(ff, 0xff, sizeof ff);
    unsigned char *a = mp_array_new(sizeof ff, 1, ff);
    assert_non_null(a);
    assert_memory_equal(a, ff, sizeof ff);
    mp_value_free(a);
    a = mp_array_new(sizeof ff, 1, NULL);
    assert_non_null(a);
    for (size_t i = 0; i < sizeof ff; i++)
        assert_int_equal(a[i], 0);
    mp_value_free(a);

    int init[3] = {7, 8, 9};
    int *arr = mp_array_new(3, sizeof(int), init);
    assert_non_null(arr);
    assert_memory_equal(arr, init, sizeof init);
    assert_int_equal(mp_array_len(arr), 3);
    mp_value_free(arr);
}

static void test_value_bytes_are_16_byte_aligned(void **state)
{
    size_t sizes[] = {1, 3, 8, 17, 100, 4096, 100000};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        void *v = mp_value_new(sizes[i], NULL);
        void *a = mp_array_new(3, sizes[i], NULL);
        assert_non_null(v);
        assert_non_null(a);
        assert_int_equal((uintptr_t)v % 16, 0);
        assert_int_equal((uintptr_t)a % 16, 0);
        mp_value_free(v);
        mp_value_free(a);
    }
}

static void test_value_and_array_of_size_zero_fail_einval(void **state)
{
    errno = 0;
    assert_null(mp_value_new(0, NULL));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(mp_array_new(4, 0, NULL));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(mp_array_new(0, 0, NULL));
    assert_int_equal(errno, EINVAL);
}

static void test_array_too_large_fails_enomem(void **state)
{
    size_t in_use, heap_size;
    mp__heap_stats(&in_use, &heap_size);
    errno = 0;
    assert_null(mp_array_new(SIZE_MAX / 2 + 1, 2, NULL)); /* n * size overflows */
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    assert_null(mp_array_new(SIZE_MAX, SIZE_MAX, NULL));
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    assert_null(mp_array_new(SIZE_MAX - 8, 1, NULL)); /* with the header it overflows */
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    assert_null(mp_value_new(heap_size + 1, NULL)); /* more than the heap */
    assert_int_equal(errno, ENOMEM);
    size_t after;
    mp__heap_stats(&after, &heap_size);
    assert_int_equal(after, in_use); /* failures leave nothing allocated */
}

static void test_array_of_zero_elements_is_valid_with_a_lock(void **state)
{
    int dummy = 5;
    void *a = mp_array_new(0, sizeof(double), NULL);
    void *b = mp_array_new(0, sizeof(int), &dummy);
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    assert_int_equal(mp_array_len(a), 0);
    mp_lock *l = mp_value_lock(a);
    assert_non_null(l);
    assert_int_equal(mp_lock_acquire(l, 0), 0);
    assert_int_equal(mp_lock_release(l), 0);
    mp_value_free(a);
    mp_value_free(b);
}

static void test_value_lock_is_its_own_and_works_for_arrays(void **state)
{
    void *v = mp_value_new(sizeof(int), NULL);
    void *a = mp_array_new(10, sizeof(int), NULL);
    mp_lock *lv = mp_value_lock(v), *la = mp_value_lock(a);
    assert_non_null(lv);
    assert_non_null(la);
    assert_ptr_not_equal(lv, la);
    assert_ptr_equal(mp_value_lock(a), la); /* the same lock every time */

    assert_int_equal(mp_lock_acquire(la, 0), 0);
    assert_int_equal(mp_lock_acquire(la, 0), MP_ETIMEDOUT); /* held */
    assert_int_equal(mp_lock_acquire(lv, 0), 0);            /* another lock */
    assert_int_equal(mp_lock_release(lv), 0);
    assert_int_equal(mp_lock_release(la), 0);
    mp_value_free(v);
    mp_value_free(a);
}

static void test_value_calls_on_non_values_are_harmless(void **state)
{
    int local = 0;
    char *raw = mp_shared_calloc(1, 64); /* RawArray: no lock */
    assert_non_null(raw);
    void *bad[] = {NULL, &local, raw, raw + 16, raw + 1};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        errno = 0;
        assert_null(mp_value_lock(bad[i]));
        assert_int_equal(errno, EINVAL);
        assert_int_equal(mp_array_len(bad[i]), 0);
        mp_value_free(bad[i]); /* ignored */
    }
    raw[63] = 1; /* still ours */
    mp_shared_free(raw);
}

static void test_value_free_null_or_twice_does_nothing(void **state)
{
    size_t before, after, heap_size;
    mp_value_free(NULL);
    mp__heap_stats(&before, &heap_size);
    void *v = mp_value_new(24, NULL);
    assert_non_null(v);
    mp_value_free(v);
    mp__heap_stats(&after, &heap_size);
    assert_int_equal(after, before); /* the bytes and the lock went back */
    mp_value_free(v);
    errno = 0;
    assert_null(mp_value_lock(v));
    assert_int_equal(errno, EINVAL);
}

/* ---- named shared memory ------------------------------------------------ */

static void test_shm_peer_program_attaches_and_sees_bytes_both_ways(void **state)
{
    const char *name = shm_name("peer");
    size_t size = 10000; /* not a page multiple */
    mp_shm *s = mp_shm_create(name, size);
    assert_non_null(s);
    assert_int_equal(mp_shm_size(s), size);
    unsigned char *b = mp_shm_buf(s);
    for (size_t i = 0; i < size; i++)
        assert_int_equal(b[i], 0); /* a new block is zeroed */
    for (size_t i = 0; i < size / 2; i++)
        b[i] = pattern(i, 7);

    assert_int_equal(run_peer("attach", name, size, 7), 0);

    for (size_t i = size / 2; i < size; i++)
        assert_int_equal(b[i], pattern(i, 8));
    assert_int_equal(mp_shm_close(s), 0);

    /* The peer closed its handle and exited: the block is still there. */
    assert_true(in_dev_shm(name));
    s = mp_shm_attach(name);
    assert_non_null(s);
    assert_int_equal(((unsigned char *)mp_shm_buf(s))[size - 1], pattern(size - 1, 8));
    assert_int_equal(mp_shm_close(s), 0);
    assert_int_equal(mp_shm_unlink(name), 0);
    assert_false(in_dev_shm(name));
}

static void test_shm_block_made_by_peer_outlives_it_with_its_real_size(void **state)
{
    const char *name = shm_name("made_by_peer");
    size_t size = 12345;
    assert_int_equal(run_peer("create", name, size, 9), 0);

    mp_shm *s = mp_shm_attach(name);
    assert_non_null(s);
    assert_int_equal(mp_shm_size(s), size);
    assert_string_equal(mp_shm_name(s), name);
    unsigned char *b = mp_shm_buf(s);
    for (size_t i = 0; i < size; i++)
        assert_int_equal(b[i], pattern(i, 9));

    /* Unlinking removes the name; the mapping stays usable. */
    assert_int_equal(mp_shm_unlink(name), 0);
    errno = 0;
    assert_null(mp_shm_attach(name));
    assert_int_equal(errno, ENOENT);
    b[0] = 42;
    assert_int_equal(b[0], 42);
    assert_int_equal(mp_shm_close(s), 0);
}

static void test_shm_create_existing_name_fails_eexist_and_keeps_it(void **state)
{
    const char *name = shm_name("twice");
    mp_shm *s = mp_shm_create(name, 100);
    assert_non_null(s);
    memset(mp_shm_buf(s), 0xab, 100);

    char slashed[NAME_MAX + 2];
    snprintf(slashed, sizeof slashed, "/%s", name);
    errno = 0;
    assert_null(mp_shm_create(name, 100));
    assert_int_equal(errno, EEXIST);
    errno = 0;
    assert_null(mp_shm_create(slashed, 4096)); /* the same block */
    assert_int_equal(errno, EEXIST);

    mp_shm *t = mp_shm_attach(name);
    assert_non_null(t);
    assert_int_equal(mp_shm_size(t), 100);
    assert_int_equal(((unsigned char *)mp_shm_buf(t))[99], 0xab);
    assert_int_equal(mp_shm_close(t), 0);
    assert_int_equal(mp_shm_close(s), 0);
    assert_int_equal(mp_shm_unlink(name), 0);
}

static void test_shm_attach_or_unlink_missing_fails_enoent(void **state)
{
    const char *name = shm_name("missing");
    errno = 0;
    assert_null(mp_shm_attach(name));
    assert_int_equal(errno, ENOENT);
    assert_int_equal(mp_shm_unlink(name), -ENOENT);
    assert_false(in_dev_shm(name)); /* attach never creates */
}

static void test_shm_create_size_zero_fails_einval_leaving_nothing(void **state)
{
    const char *name = shm_name("zero");
    errno = 0;
    assert_null(mp_shm_create(name, 0));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(mp_shm_create(NULL, 0));
    assert_int_equal(errno, EINVAL);
    assert_false(in_dev_shm(name));
}

static void test_shm_attach_unsized_block_fails_einval(void **state)
{
    /* Another program's block that was never given a size. */
    const char *name = shm_name("unsized");
    char path[NAME_MAX + 2];
    snprintf(path, sizeof path, "/%s", name);
    int fd = shm_open(path, O_CREAT | O_EXCL | O_RDWR, 0600);
    assert_true(fd >= 0);
    close(fd);
    errno = 0;
    assert_null(mp_shm_attach(name));
    assert_int_equal(errno, EINVAL);
    assert_int_equal(mp_shm_unlink(name), 0);
}

static void test_shm_bad_names_fail_einval(void **state)
{
    const char *bad[] = {"", "/", "a/b", "/a/b", "//x", ".", "/..", "..", NULL};
    for (int i = 0; bad[i] != NULL; i++) {
        errno = 0;
        assert_null(mp_shm_create(bad[i], 10));
        assert_int_equal(errno, EINVAL);
        errno = 0;
        assert_null(mp_shm_attach(bad[i]));
        assert_int_equal(errno, EINVAL);
        assert_int_equal(mp_shm_unlink(bad[i]), MP_EINVAL);
    }
    errno = 0;
    assert_null(mp_shm_attach(NULL));
    assert_int_equal(errno, EINVAL);
    assert_int_equal(mp_shm_unlink(NULL), MP_EINVAL);
}

static void test_shm_name_length_limit_is_name_max(void **state)
{
    char name[NAME_MAX + 2];
    size_t plen = strlen(prefix);
    memcpy(name, prefix, plen);
    memset(name + plen, 'x', NAME_MAX - plen);
    name[NAME_MAX] = '\0'; /* exactly NAME_MAX bytes: fine */
    mp_shm *s = mp_shm_create(name, 10);
    assert_non_null(s);
    assert_string_equal(mp_shm_name(s), name);
    assert_int_equal(mp_shm_close(s), 0);
    assert_int_equal(mp_shm_unlink(name), 0);

    name[NAME_MAX] = 'x';
    name[NAME_MAX + 1] = '\0'; /* one more: too long */
    errno = 0;
    assert_null(mp_shm_create(name, 10));
    assert_int_equal(errno, ENAMETOOLONG);
    errno = 0;
    assert_null(mp_shm_attach(name));
    assert_int_equal(errno, ENAMETOOLONG);
    assert_int_equal(mp_shm_unlink(name), -ENAMETOOLONG);
}

static void test_shm_leading_slash_is_optional(void **state)
{
    char slashed[NAME_MAX + 2];
    const char *name = shm_name("slash");
    snprintf(slashed, sizeof slashed, "/%s", name);
    mp_shm *s = mp_shm_create(slashed, 64);
    assert_non_null(s);
    assert_string_equal(mp_shm_name(s), name); /* reported without it */
    assert_true(in_dev_shm(name));

    mp_shm *t = mp_shm_attach(name);
    assert_non_null(t);
    strcpy(mp_shm_buf(t), "hello");
    assert_string_equal(mp_shm_buf(s), "hello");
    assert_int_equal(mp_shm_close(t), 0);
    assert_int_equal(mp_shm_close(s), 0);
    assert_int_equal(mp_shm_unlink(slashed), 0);
    assert_false(in_dev_shm(name));
}

static void test_shm_null_name_gives_fresh_unique_names(void **state)
{
    mp_shm *a = mp_shm_create(NULL, 32);
    mp_shm *b = mp_shm_create(NULL, 32);
    assert_non_null(a);
    assert_non_null(b);
    snprintf(fresh[nfresh++], NAME_MAX + 1, "%s", mp_shm_name(a));
    snprintf(fresh[nfresh++], NAME_MAX + 1, "%s", mp_shm_name(b));
    assert_string_not_equal(mp_shm_name(a), mp_shm_name(b));
    for (int i = 0; i < 2; i++) {
        const char *n = fresh[nfresh - 2 + i];
        assert_int_equal(strncmp(n, "psm_", 4), 0);
        assert_int_equal(strlen(n), 4 + 16);
        assert_true(in_dev_shm(n));
    }
    /* The generated name is a name like any other. */
    mp_shm *c = mp_shm_attach(mp_shm_name(a));
    assert_non_null(c);
    assert_int_equal(mp_shm_size(c), 32);
    assert_int_equal(mp_shm_close(c), 0);

    assert_int_equal(mp_shm_unlink(mp_shm_name(a)), 0);
    assert_int_equal(mp_shm_unlink(mp_shm_name(b)), 0);
    assert_int_equal(mp_shm_close(a), 0);
    assert_int_equal(mp_shm_close(b), 0);
}

static int child_writes_shm(void *arg)
{
    mp_shm *s = arg;
    ((char *)mp_shm_buf(s))[1] = 'C';
    return mp_shm_close(s) == 0 ? 0 : 1; /* its own copy of the handle */
}

static void test_shm_handle_works_in_child_forked_after_create(void **state)
{
    const char *name = shm_name("fork");
    mp_shm *s = mp_shm_create(name, 8);
    assert_non_null(s);
    assert_int_equal(mpt_wait(mpt_fork(child_writes_shm, s)), 0);
    assert_int_equal(((char *)mp_shm_buf(s))[1], 'C');
    assert_true(in_dev_shm(name)); /* the child's close removed nothing */
    assert_int_equal(mp_shm_close(s), 0);
    assert_int_equal(mp_shm_unlink(name), 0);
}

static void test_shm_handles_keep_no_file_descriptor(void **state)
{
    int fds = mpt_count_fds();
    const char *name = shm_name("fds");
    mp_shm *s = mp_shm_create(name, 4096);
    mp_shm *t = mp_shm_attach(name);
    assert_non_null(s);
    assert_non_null(t);
    assert_int_equal(mpt_count_fds(), fds);
    assert_null(mp_shm_create(name, 4096)); /* failures leak none either */
    assert_null(mp_shm_attach(shm_name("nofds")));
    assert_int_equal(mpt_count_fds(), fds);
    assert_int_equal(mp_shm_close(t), 0);
    assert_int_equal(mp_shm_close(s), 0);
    assert_int_equal(mp_shm_unlink(name), 0);
}

static void test_shm_null_handle_is_harmless(void **state)
{
    assert_null(mp_shm_name(NULL));
    assert_null(mp_shm_buf(NULL));
    assert_int_equal(mp_shm_size(NULL), 0);
    assert_int_equal(mp_shm_close(NULL), MP_EINVAL);
}

/* Runs last: nothing these tests named is left in /dev/shm. */
static void test_shm_nothing_left_in_dev_shm(void **state)
{
    DIR *d = opendir("/dev/shm");
    assert_non_null(d);
    struct dirent *e;
    int left = 0;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
            fprintf(stderr, "left in /dev/shm: %s\n", e->d_name);
            left++;
        }
    closedir(d);
    assert_int_equal(left, 0);
    assert_true(nfresh > 0);
    for (int i = 0; i < nfresh; i++)
        assert_false(in_dev_shm(fresh[i]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        mpt_test(test_value_counts_exactly_under_lock_in_4_processes),
        mpt_test(test_array_of_doubles_filled_by_4_processes_reads_back_whole),
        mpt_test(test_value_made_in_child_after_fork_is_usable_by_parent),
        mpt_test(test_value_new_copies_init_or_zeroes),
        mpt_test(test_value_bytes_are_16_byte_aligned),
        mpt_test(test_value_and_array_of_size_zero_fail_einval),
        mpt_test(test_array_too_large_fails_enomem),
        mpt_test(test_array_of_zero_elements_is_valid_with_a_lock),
        mpt_test(test_value_lock_is_its_own_and_works_for_arrays),
        mpt_test(test_value_calls_on_non_values_are_harmless),
        mpt_test(test_value_free_null_or_twice_does_nothing),
        mpt_test(test_shm_peer_program_attaches_and_sees_bytes_both_ways),
        mpt_test(test_shm_block_made_by_peer_outlives_it_with_its_real_size),
        mpt_test(test_shm_create_existing_name_fails_eexist_and_keeps_it),
        mpt_test(test_shm_attach_or_unlink_missing_fails_enoent),
        mpt_test(test_shm_create_size_zero_fails_einval_leaving_nothing),
        mpt_test(test_shm_attach_unsized_block_fails_einval),
        mpt_test(test_shm_bad_names_fail_einval),
        mpt_test(test_shm_name_length_limit_is_name_max),
        mpt_test(test_shm_leading_slash_is_optional),
        mpt_test(test_shm_null_name_gives_fresh_unique_names),
        mpt_test(test_shm_handle_works_in_child_forked_after_create),
        mpt_test(test_shm_handles_keep_no_file_descriptor),
        mpt_test(test_shm_null_handle_is_harmless),
        mpt_test(test_shm_nothing_left_in_dev_shm),
    };
    return cmocka_run_group_tests(tests, setup_prefix, teardown_leftovers);
}
