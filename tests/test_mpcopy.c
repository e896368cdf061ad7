/* test_mpcopy.c - runs the built mpcopy tool on generated trees and checks
 * the copies with diff -r, the permission bits, the times, the exit codes
 * and the progress bar (under a pseudo-terminal and in a pipe).
 *
 * ctest-timeout: 300 */
#include "mp_test.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pty.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>

#define MPCOPY MP_BINARY_DIR "/tools/mpcopy"

static char top[256]; /* this test's scratch directory */

/* ---- helpers -------------------------------------------------------------- */

static char *path(const char *rel)
{
    static char buf[8][1024];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 1024, "%s/%s", top, rel);
    return p;
}

/* Write a file of `size` pseudo-random bytes (different for each seed). */
static void mkfile(const char *rel, size_t size, mode_t mode, unsigned seed)
{
    int fd = open(path(rel), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    static uint64_t buf[1 << 17]; /* 1 MiB */
    uint64_t x = 0x9e3779b97f4a7c15ull * (seed + 1);
    while (size > 0) {
        for (size_t i = 0; i < sizeof buf / sizeof buf[0]; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[i] = x;
        }
        size_t n = size < sizeof buf ? size : sizeof buf;
        assert_int_equal(write(fd, buf, n), (ssize_t)n);
        size -= n;
    }
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
}

static void mkdir_rel(const char *rel, mode_t mode)
{
    assert_int_equal(mkdir(path(rel), 0700), 0);
    assert_int_equal(chmod(path(rel), mode), 0);
}

static void write_str(const char *rel, const char *s)
{
    int fd = open(path(rel), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
    close(fd);
}

static char *read_all(const char *p)
{
    int fd = open(p, O_RDONLY);
    if (fd < 0)
        return NULL;
    size_t cap = 4096, len = 0;
    char *s = malloc(cap);
    for (;;) {
        if (len + 1 >= cap)
            s = realloc(s, cap *= 2);
        ssize_t r = read(fd, s + len, cap - len - 1);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    s[len] = '\0';
    close(fd);
    return s;
}

struct run {
    int status; /* exit status, or 128 + signal */
    char *out;  /* what it printed on stdout */
    char *err;  /* ... and on stderr */
};

/* Run argv (argv[0] found on PATH or a path) with one environment
 * addition "NAME=value" (or NULL); stdout and stderr go to files that are
 * read back. */
static struct run run_cmd(const char *const *argv, const char *env)
{
    char o[1100], e[1100];
    snprintf(o, sizeof o, "%s/.out", top);
    snprintf(e, sizeof e, "%s/.err", top);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fo = open(o, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fe = open(e, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fo < 0 || fe < 0)
            _exit(126);
        dup2(fo, 1);
        dup2(fe, 2);
        if (env)
            putenv((char *)env);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    struct run r = {mpt_wait(pid), read_all(o), read_all(e)};
    unlink(o);
    unlink(e);
    return r;
}

static void run_free(struct run *r)
{
    free(r->out);
    free(r->err);
}

static int sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* Compare every entry's type, permission bits, symlink target (and with
 * times, modification times) between the two trees, both ways. */
static const char *cmp_a, *cmp_b;
static bool cmp_times;
static int cmp_bad;

static int cmp_one(const char *p, const struct stat *sa, int flag, struct FTW *ftw)
{
    (void)flag;
    (void)ftw;
    char other[2048];
    snprintf(other, sizeof other, "%s%s", cmp_b, p + strlen(cmp_a));
    struct stat sb;
    if (lstat(other, &sb) != 0) {
        fprintf(stderr, "missing in copy: %s\n", other);
        cmp_bad++;
        return 0;
    }
    if ((sa->st_mode & S_IFMT) != (sb.st_mode & S_IFMT)) {
        fprintf(stderr, "type differs: %s\n", other);
        cmp_bad++;
    } else if (!S_ISLNK(sa->st_mode) && (sa->st_mode & 07777) != (sb.st_mode & 07777)) {
        fprintf(stderr, "mode %o != %o: %s\n", (unsigned)(sa->st_mode & 07777),
                (unsigned)(sb.st_mode & 07777), other);
        cmp_bad++;
    }
    if (S_ISLNK(sa->st_mode)) {
        char ta[1024] = "", tb[1024] = "";
        readlink(p, ta, sizeof ta - 1);
        readlink(other, tb, sizeof tb - 1);
        if (strcmp(ta, tb) != 0) {
            fprintf(stderr, "link target differs: %s\n", other);
            cmp_bad++;
        }
    }
    if (cmp_times &&
        (sa->st_mtim.tv_sec != sb.st_mtim.tv_sec || sa->st_mtim.tv_nsec != sb.st_mtim.tv_nsec)) {
        fprintf(stderr, "mtime differs: %s\n", other);
        cmp_bad++;
    }
    return 0;
}

static int compare_trees(const char *a, const char *b, bool times)
{
    cmp_a = a;
    cmp_b = b;
    cmp_times = times;
    cmp_bad = 0;
    nftw(a, cmp_one, 16, FTW_PHYS);
    cmp_a = b;
    cmp_b = a;
    cmp_times = false;
    nftw(b, cmp_one, 16, FTW_PHYS);
    return cmp_bad;
}

static int count_entries;
static int count_one(const char *p, const struct stat *s, int flag, struct FTW *ftw)
{
    (void)s;
    (void)flag;
    (void)ftw;
    if (strstr(p, ".mpcopy-") != NULL)
        count_entries += 1000000; /* a temporary file left behind */
    count_entries++;
    return 0;
}

/* Entries under p (temporary files left behind count a million). */
static int count_tree(const char *p)
{
    count_entries = 0;
    nftw(p, count_one, 16, FTW_PHYS);
    return count_entries;
}

static int setup(void **state)
{
    (void)state;
    snprintf(top, sizeof top, "/tmp/mp-test-mpcopy-XXXXXX");
    if (mkdtemp(top) == NULL)
        return -1;
    chmod(top, 0755); /* the unprivileged-user case must get in */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sh("chmod -R u+rwx '%s' 2>/dev/null; rm -rf '%s'", top, top);
    return 0;
}

/* The tree of the issue: nested directories, empty files, 1 B to 64 MiB,
 * a symlink, names with spaces and UTF-8, assorted permission bits. */
static void make_tree(const char *root, bool big)
{
    char r[256];
#define P(s) (snprintf(r, sizeof r, "%s/%s", root, s), r)
    mkdir_rel(root, 0755);
    mkdir_rel(P("a"), 0755);
    mkdir_rel(P("a/b"), 0750);
    mkdir_rel(P("a/b/c"), 0700);
    mkdir_rel(P("a/b/c/d"), 0755);
    mkdir_rel(P("empty dir"), 0755);
    mkdir_rel(P("dir with spaces"), 0755);
    mkdir_rel(P("dir with spaces/ünïcødé ✓"), 0755);
    mkfile(P("empty"), 0, 0644, 1);
    mkfile(P("a/b/c/d/empty too"), 0, 0600, 2);
    mkfile(P("one"), 1, 0644, 3);
    mkfile(P("a/page-1"), 4095, 0640, 4);
    mkfile(P("a/page"), 4096, 0755, 5);
    mkfile(P("a/b/odd"), 65537, 0604, 6);
    mkfile(P("a/b/c/mib"), (1 << 20) + 3, 0444, 7);
    mkfile(P("dir with spaces/file with spaces"), 1000, 0644, 8);
    mkfile(P("dir with spaces/ünïcødé ✓/日本語.txt"), 3333, 0620, 9);
    for (int i = 0; i < 200; i++) {
        char n[64];
        snprintf(n, sizeof n, "a/b/small%03d", i);
        mkfile(P(n), (size_t)(i * 37 % 5000), 0644, 100 + (unsigned)i);
    }
    if (big) {
        mkfile(P("a/big33"), (33u << 20) + 5, 0640, 10); /* 2 ranges, short tail */
        mkfile(P("a/b/c/big64"), 64u << 20, 0600, 11);   /* 2 full ranges */
    }
    assert_int_equal(symlink("a/b/odd", path(P("link to odd"))), 0);
    assert_int_equal(symlink("nowhere", path(P("a/dangling"))), 0);
    /* Read-only directory: its contents must still be copied into it. */
    mkdir_rel(P("ro"), 0755);
    mkfile(P("ro/inside"), 10, 0644, 12);
    assert_int_equal(chmod(path(P("ro")), 0555), 0);
#undef P
}

/* ---- tests ---------------------------------------------------------------- */

static void test_mpcopy_copies_tree_like_cp(void **state)
{
    (void)state;
    make_tree("src", true);
    const char *argv[] = {MPCOPY, "-q", "-j", "3", path("src"), path("dst"), NULL};
    struct run r = run_cmd(argv, NULL);
    if (r.status != 0)
        fprintf(stderr, "mpcopy: %s\n", r.err);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.err, ""); /* -q: no summary */
    assert_int_equal(sh("diff -r --no-dereference '%s' '%s'", path("src"), path("dst")), 0);
    assert_int_equal(compare_trees(path("src"), path("dst"), false), 0);
    assert_int_equal(count_tree(path("dst")), count_tree(path("src")));
    run_free(&r);
}

static void test_mpcopy_named_temporaries_copy_the_same(void **state)
{
    (void)state;
    /* The way used where O_TMPFILE is missing: temporary names, renamed. */
    make_tree("src", true);
    const char *argv[] = {MPCOPY, "-j", "2", path("src"), path("dst"), NULL};
    struct run r = run_cmd(argv, "MPCOPY_NO_TMPFILE=1");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.err, "files")); /* the summary */
    assert_int_equal(sh("diff -r --no-dereference '%s' '%s'", path("src"), path("dst")), 0);
    assert_int_equal(compare_trees(path("src"), path("dst"), false), 0);
    assert_int_equal(count_tree(path("dst")), count_tree(path("src")));
    run_free(&r);
}

static void test_mpcopy_into_existing_dst_merges(void **state)
{
    (void)state;
    make_tree("src", false);
    mkdir_rel("dst", 0755);
    write_str("dst/already", "there");
    const char *argv[] = {MPCOPY, "-q", path("src"), path("dst"), NULL};
    struct run r = run_cmd(argv, NULL);
    assert_int_equal(r.status, 0);
    char *s = read_all(path("dst/already"));
    assert_string_equal(s, "there");
    free(s);
    assert_int_equal(unlink(path("dst/already")), 0);
    assert_int_equal(sh("diff -r --no-dereference '%s' '%s'", path("src"), path("dst")), 0);
    run_free(&r);
}

static void set_old_times(const char *rel, bool link)
{
    struct timespec t[2] = {{1000000000, 123456789}, {1234567890, 987654321}};
    assert_int_equal(utimensat(AT_FDCWD, path(rel), t, link ? AT_SYMLINK_NOFOLLOW : 0), 0);
}

static void test_mpcopy_p_keeps_times(void **state)
{
    (void)state;
    make_tree("src", true);
    const char *rels[] = {
        "src/one",     "src/a/page", "src/a/big33", "src/a/b/c/big64", "src/a/b/c/d/empty too",
        "src/a/b/c/d", "src/a/b/c",  "src/a",       "src/empty dir",   "src/ro"};
    for (size_t i = 0; i < sizeof rels / sizeof rels[0]; i++)
        set_old_times(rels[i], false);
    set_old_times("src/link to odd", true);
    set_old_times("src", false);

    const char *argv[] = {MPCOPY, "-q", "-p", path("src"), path("dst"), NULL};
    struct run r = run_cmd(argv, NULL);
    assert_int_equal(r.status, 0);
    for (size_t i = 0; i < sizeof rels / sizeof rels[0]; i++) {
        char d[256];
        snprintf(d, sizeof d, "dst%s", rels[i] + 3);
        struct stat a, b;
        assert_int_equal(lstat(path(rels[i]), &a), 0);
        assert_int_equal(lstat(path(d), &b), 0);
        assert_int_equal(b.st_mtim.tv_sec, 1234567890);
        assert_int_equal(b.st_mtim.tv_nsec, 987654321);
        assert_int_equal(b.st_atim.tv_sec, 1000000000);
    }
    struct stat l;
    assert_int_equal(lstat(path("dst/link to odd"), &l), 0);
    assert_int_equal(l.st_mtim.tv_sec, 1234567890);
    assert_int_equal(lstat(path("dst"), &l), 0);
    assert_int_equal(l.st_mtim.tv_sec, 1234567890);
    run_free(&r);

    /* Without -p the copies are new files with new times. */
    const char *argv2[] = {MPCOPY, "-q", path("src"), path("dst2"), NULL};
    r = run_cmd(argv2, NULL);
    assert_int_equal(r.status, 0);
    assert_int_equal(lstat(path("dst2/one"), &l), 0);
    assert_true(l.st_mtim.tv_sec > 1234567890);
    assert_int_equal(sh("diff -r --no-dereference '%s' '%s'", path("src"), path("dst2")), 0);
    run_free(&r);
}

static void test_mpcopy_n_keeps_existing_file(void **state)
{
    (void)state;
    mkdir_rel("src", 0755);
    mkdir_rel("src/sub", 0755);
    write_str("src/keep", "new");
    write_str("src/sub/keep2", "new2");
    write_str("src/other", "other");
    mkfile("src/big", (40u << 20) + 1, 0644, 3);
    mkdir_rel("dst", 0755);
    mkdir_rel("dst/sub", 0755);
    write_str("dst/keep", "old");
    write_str("dst/sub/keep2", "old2");
    write_str("dst/big", "old big");

    const char *argv[] = {MPCOPY, "-n", path("src"), path("dst"), NULL};
    struct run r = run_cmd(argv, NULL);
    assert_int_equal(r.status, 0);
    char *s = read_all(path("dst/keep"));
    assert_string_equal(s, "old");
    free(s);
    s = read_all(path("dst/sub/keep2"));
    assert_string_equal(s, "old2");
    free(s);
    s = read_all(path("dst/big"));
    assert_string_equal(s, "old big");
    free(s);
    s = read_all(path("dst/other"));
    assert_string_equal(s, "other");
    free(s);
    assert_non_null(strstr(r.err, "3 kept"));
    run_free(&r);

    /* Without -n the same copy overwrites. */
    const char *argv2[] = {MPCOPY, "-q", path("src"), path("dst"), NULL};
    r = run_cmd(argv2, NULL);
    assert_int_equal(r.status, 0);
    s = read_all(path("dst/keep"));
    assert_string_equal(s, "new");
    free(s);
    assert_int_equal(sh("cmp -s '%s' '%s'", path("src/big"), path("dst/big")), 0);
    assert_int_equal(count_tree(path("dst")), count_tree(path("src")));
    run_free(&r);
}

static bool have(const char *prog)
{
    return sh("command -v %s >/dev/null 2>&1", prog) == 0;
}

static void test_mpcopy_unreadable_file_fails_rest_copied(void **state)
{
    (void)state;
    /* Root reads anything: run the copy as nobody (setpriv) then. */
    bool root = geteuid() == 0;
    if (root && !have("setpriv")) {
        fprintf(stderr, "SKIP: running as root without setpriv: cannot make a file unreadable\n");
        skip();
    }
    mkdir_rel("src", 0755);
    mkdir_rel("src/d", 0755);
    write_str("src/readable", "yes");
    write_str("src/d/also", "yes too");
    write_str("src/d/secret", "no");
    assert_int_equal(chmod(path("src/d/secret"), 0000), 0);
    mkdir_rel("out", 0777); /* nobody may create dst in it */

    const char *as_nobody[] = {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                               MPCOPY,    path("src"),     path("out/dst"), NULL};
    const char *as_me[] = {MPCOPY, path("src"), path("out/dst"), NULL};
    struct run r = run_cmd(root ? as_nobody : as_me, NULL);
    assert_int_equal(r.status, 1);
    char want[1100];
    snprintf(want, sizeof want, "mpcopy: %s/d/secret: Permission denied", path("src"));
    if (strstr(r.err, want) == NULL)
        fprintf(stderr, "stderr was: %s\n", r.err);
    assert_non_null(strstr(r.err, want));
    assert_non_null(strstr(r.err, "1 failed")); /* the summary counts it */
    char *s = read_all(path("out/dst/readable"));
    assert_string_equal(s, "yes");
    free(s);
    s = read_all(path("out/dst/d/also"));
    assert_string_equal(s, "yes too");
    free(s);
    assert_int_equal(access(path("out/dst/d/secret"), F_OK), -1);
    /* Nothing half-made left: src has 5 entries, dst 4 (no secret, no temp). */
    assert_int_equal(count_tree(path("out/dst")), 4);
    run_free(&r);
}

static void test_mpcopy_refuses_dst_inside_src(void **state)
{
    (void)state;
    make_tree("src", false);
    int before = count_tree(path("src"));
    const char *argv[] = {MPCOPY, path("src"), path("src/a/new/copy"), NULL};
    struct run r = run_cmd(argv, NULL);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "into itself"));
    assert_int_equal(count_tree(path("src")), before);
    run_free(&r);

    /* The same directory, and an existing one inside, through "..". */
    char via[1100];
    snprintf(via, sizeof via, "%s/src/a/../a/b", top);
    const char *argv2[] = {MPCOPY, path("src"), via, NULL};
    r = run_cmd(argv2, NULL);
    assert_int_equal(r.status, 2);
    run_free(&r);
    const char *argv3[] = {MPCOPY, path("src"), path("src"), NULL};
    r = run_cmd(argv3, NULL);
    assert_int_equal(r.status, 2);
    run_free(&r);
    assert_int_equal(count_tree(path("src")), before);
}

static void test_mpcopy_bad_arguments_exit_2(void **state)
{
    (void)state;
    mkdir_rel("src", 0755);
    write_str("file", "x");
    const char *cases[][6] = {
        {MPCOPY, path("missing"), path("dst"), NULL},        /* SRC missing */
        {MPCOPY, path("file"), path("dst"), NULL},           /* SRC not a directory */
        {MPCOPY, path("src"), path("file"), NULL},           /* DST a file */
        {MPCOPY, path("src"), NULL},                         /* DST missing */
        {MPCOPY, "-j", "0", path("src"), path("dst"), NULL}, /* bad -j */
        {MPCOPY, "--bogus", path("src"), path("dst"), NULL},
        {MPCOPY, path("src"), path("dst"), path("x"), NULL},
        {MPCOPY, path("src"), path("no/such/parent"), NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct run r = run_cmd(cases[i], NULL);
        if (r.status != 2)
            fprintf(stderr, "case %zu: status %d: %s\n", i, r.status, r.err);
        assert_int_equal(r.status, 2);
        assert_true(strncmp(r.err, "mpcopy: ", 8) == 0);
        run_free(&r);
    }
    assert_int_equal(access(path("dst"), F_OK), -1); /* nothing written */

    const char *help[] = {MPCOPY, "--help", NULL};
    struct run r = run_cmd(help, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "Usage: mpcopy"));
    run_free(&r);
    const char *ver[] = {MPCOPY, "--version", NULL};
    r = run_cmd(ver, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "mpcopy "));
    run_free(&r);
}

static void test_mpcopy_v_lists_each_file(void **state)
{
    (void)state;
    mkdir_rel("src", 0755);
    mkdir_rel("src/d", 0755);
    write_str("src/x", "1");
    write_str("src/d/y z", "2");
    assert_int_equal(symlink("x", path("src/l")), 0);
    const char *argv[] = {MPCOPY, "-v", path("src"), path("dst"), NULL};
    struct run r = run_cmd(argv, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "x\n"));
    assert_non_null(strstr(r.out, "d/y z\n"));
    assert_non_null(strstr(r.out, "l\n"));
    assert_non_null(strstr(r.err, "3 files"));
    run_free(&r);
}

/* Run mpcopy with stderr on a pseudo-terminal; returns what it wrote. */
static char *run_on_pty(const char *q, int *status)
{
    int master;
    fflush(NULL);
    pid_t pid = forkpty(&master, NULL, NULL, NULL);
    assert_true(pid >= 0);
    if (pid == 0) {
        if (q)
            execl(MPCOPY, MPCOPY, q, path("src"), path("dst"), (char *)NULL);
        else
            execl(MPCOPY, MPCOPY, path("src"), path("dst"), (char *)NULL);
        _exit(127);
    }
    size_t cap = 1 << 16, len = 0;
    char *s = malloc(cap);
    for (;;) {
        if (len + 1 >= cap)
            s = realloc(s, cap *= 2);
        ssize_t n = read(master, s + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* EIO once the child closed its side */
        len += (size_t)n;
    }
    s[len] = '\0';
    close(master);
    *status = mpt_wait(pid);
    return s;
}

static void test_mpcopy_progress_bar_on_terminal_only(void **state)
{
    (void)state;
    make_tree("src", false);
    int st;
    char *s = run_on_pty(NULL, &st);
    assert_int_equal(st, 0);
    assert_non_null(strstr(s, "ETA"));      /* the bar was drawn */
    assert_non_null(strstr(s, "\r\033[K")); /* and cleared */
    assert_non_null(strstr(s, "files,"));   /* the summary */
    free(s);
    assert_int_equal(sh("rm -rf '%s'", path("dst")), 0);

    s = run_on_pty("-q", &st);
    assert_int_equal(st, 0);
    assert_string_equal(s, ""); /* -q: nothing at all */
    free(s);
    assert_int_equal(sh("rm -rf '%s'", path("dst")), 0);

    /* In a pipe (here a file): the summary only, no bar. */
    const char *argv[] = {MPCOPY, path("src"), path("dst"), NULL};
    struct run r = run_cmd(argv, NULL);
    assert_int_equal(r.status, 0);
    assert_null(strstr(r.err, "ETA"));
    assert_null(strchr(r.err, '\r'));
    assert_non_null(strstr(r.err, "files,"));
    run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        mpt_test_fixture(test_mpcopy_copies_tree_like_cp, setup, teardown),
        mpt_test_fixture(test_mpcopy_named_temporaries_copy_the_same, setup, teardown),
        mpt_test_fixture(test_mpcopy_into_existing_dst_merges, setup, teardown),
        mpt_test_fixture(test_mpcopy_p_keeps_times, setup, teardown),
        mpt_test_fixture(test_mpcopy_n_keeps_existing_file, setup, teardown),
        mpt_test_fixture(test_mpcopy_unreadable_file_fails_rest_copied, setup, teardown),
        mpt_test_fixture(test_mpcopy_refuses_dst_inside_src, setup, teardown),
        mpt_test_fixture(test_mpcopy_bad_arguments_exit_2, setup, teardown),
        mpt_test_fixture(test_mpcopy_v_lists_each_file, setup, teardown),
        mpt_test_fixture(test_mpcopy_progress_bar_on_terminal_only, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
