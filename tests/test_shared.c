/* test_shared.c - Value, Array and named shared memory.
 *
 * ctest-timeout: 90 */
#include "mp_test.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/stat.h>

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
    if (posix_spawn(&pid, MP_TEST_HELPERS "/shm_peer", NULL, NULL, argv, environ) != 0) return -1;
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
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) mp_shm_unlink(e->d_name);
    if (d != NULL) closedir(d);
    for (int i = 0; i < nfresh; i++)
        mp_shm_unlink(fresh[i]);
    return 0;
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
        cmocka_unit_test(test_shm_peer_program_attaches_and_sees_bytes_both_ways),
        cmocka_unit_test(test_shm_block_made_by_peer_outlives_it_with_its_real_size),
        cmocka_unit_test(test_shm_create_existing_name_fails_eexist_and_keeps_it),
        cmocka_unit_test(test_shm_attach_or_unlink_missing_fails_enoent),
        cmocka_unit_test(test_shm_create_size_zero_fails_einval_leaving_nothing),
        cmocka_unit_test(test_shm_attach_unsized_block_fails_einval),
        cmocka_unit_test(test_shm_bad_names_fail_einval),
        cmocka_unit_test(test_shm_name_length_limit_is_name_max),
        cmocka_unit_test(test_shm_leading_slash_is_optional),
        cmocka_unit_test(test_shm_null_name_gives_fresh_unique_names),
        cmocka_unit_test(test_shm_handle_works_in_child_forked_after_create),
        cmocka_unit_test(test_shm_handles_keep_no_file_descriptor),
        cmocka_unit_test(test_shm_null_handle_is_harmless),
        cmocka_unit_test(test_shm_nothing_left_in_dev_shm),
    };
    return cmocka_run_group_tests(tests, setup_prefix, teardown_leftovers);
}
