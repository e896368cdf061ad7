/* test_mpcopy.c - runs the built mpcopy tool on generated trees and checks
 * the copies with diff -r, the permission bits, the times, the exit codes
 * and the progress bar (under a pseudo-terminal and in a pipe); then one
 * regression test per item of issue 20 (symlinks in DST, holes, files that
 * change, reruns, signals, FIFOs, long paths, -v quoting, unwritable DST)
 * and -a against cp -a. Tests that must act in the middle of a copy make
 * mpcopy wait at a named point on a FIFO they hold (MPCOPY_TEST_HOLD), never
 * sleep.
 *
 * ctest-timeout: 400 */
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

/* A command that takes longer than this has hung: SIGALRM ends the test
 * (the machine is loaded; a copy here takes well under a second). */
#define GUARD_SECONDS 45

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

/* Assert that top/rel holds exactly want. */
static void expect_content(const char *rel, const char *want)
{
    char *s = read_all(path(rel));
    assert_non_null(s);
    assert_string_equal(s, want);
    free(s);
}

struct run {
    int status; /* exit status, or 128 + signal */
    char *out;  /* what it printed on stdout */
    char *err;  /* ... and on stderr */
};

/* Start argv (argv[0] found on PATH or a path) in a process group of its
 * own (so a test can signal it as Ctrl-C signals a job), with environment
 * additions "NAME=value" (a NULL-terminated list, or NULL); stdout and
 * stderr go to files that finish_cmd reads back. Returns the pid. */
static pid_t start_cmd(const char *const *argv, const char *const *envs)
{
    char o[1100], e[1100];
    snprintf(o, sizeof o, "%s/.out", top);
    snprintf(e, sizeof e, "%s/.err", top);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setpgid(0, 0);
        int fo = open(o, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fe = open(e, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fo < 0 || fe < 0)
            _exit(126);
        dup2(fo, 1);
        dup2(fe, 2);
        for (size_t i = 0; envs && envs[i]; i++)
            putenv((char *)envs[i]);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    setpgid(pid, pid); /* also here: whichever runs first */
    return pid;
}

/* Wait for a command of start_cmd (at most a guard time: a hang fails the
 * test instead of stalling it) and collect what it printed. */
static struct run finish_cmd(pid_t pid)
{
    char o[1100], e[1100];
    snprintf(o, sizeof o, "%s/.out", top);
    snprintf(e, sizeof e, "%s/.err", top);
    alarm(GUARD_SECONDS);
    struct run r = {mpt_wait(pid), read_all(o), read_all(e)};
    alarm(0);
    unlink(o);
    unlink(e);
    return r;
}

static struct run run_cmd(const char *const *argv, const char *env)
{
    const char *envs[] = {env, NULL};
    return finish_cmd(start_cmd(argv, envs));
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

/* Remove top/rel, read-only directories and all (we may not be root). */
static int rm_tree(const char *rel)
{
    return sh("chmod -R u+rwx '%s' 2>/dev/null; rm -rf '%s'", path(rel), path(rel));
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
    expect_content("dst/already", "there");
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
    expect_content("dst/keep", "old");
    expect_content("dst/sub/keep2", "old2");
    expect_content("dst/big", "old big");
    expect_content("dst/other", "other");
    assert_non_null(strstr(r.err, "3 kept"));
    run_free(&r);

    /* Without -n the same copy overwrites. */
    const char *argv2[] = {MPCOPY, "-q", path("src"), path("dst"), NULL};
    r = run_cmd(argv2, NULL);
    assert_int_equal(r.status, 0);
    expect_content("dst/keep", "new");
    assert_int_equal(sh("cmp -s '%s' '%s'", path("src/big"), path("dst/big")), 0);
    assert_int_equal(count_tree(path("dst")), count_tree(path("src")));
    run_free(&r);
}

static bool have(const char *prog)
{
    return sh("command -v %s >/dev/null 2>&1", prog) == 0;
}

/* Root reads and writes anything: a test of refused access runs the copy
 * as nobody (setpriv) then, and is skipped without setpriv. */
static void skip_if_root_without_setpriv(void)
{
    if (geteuid() == 0 && !have("setpriv")) {
        fprintf(stderr, "SKIP: running as root without setpriv: cannot refuse access\n");
        skip();
    }
}

/* Run mpcopy SRC DST (top-relative) as nobody when we are root, else as
 * ourselves. */
static struct run run_unprivileged(const char *src, const char *dst)
{
    const char *as_nobody[] = {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                               MPCOPY,    path(src),       path(dst),       NULL};
    const char *as_me[] = {MPCOPY, path(src), path(dst), NULL};
    return run_cmd(geteuid() == 0 ? as_nobody : as_me, NULL);
}

static void test_mpcopy_unreadable_file_fails_rest_copied(void **state)
{
    (void)state;
    skip_if_root_without_setpriv();
    mkdir_rel("src", 0755);
    mkdir_rel("src/d", 0755);
    write_str("src/readable", "yes");
    write_str("src/d/also", "yes too");
    write_str("src/d/secret", "no");
    assert_int_equal(chmod(path("src/d/secret"), 0000), 0);
    mkdir_rel("out", 0777); /* nobody may create dst in it */

    struct run r = run_unprivileged("src", "out/dst");
    assert_int_equal(r.status, 1);
    char want[1100];
    snprintf(want, sizeof want, "mpcopy: %s/d/secret: Permission denied", path("src"));
    if (strstr(r.err, want) == NULL)
        fprintf(stderr, "stderr was: %s\n", r.err);
    assert_non_null(strstr(r.err, want));
    assert_non_null(strstr(r.err, "1 failed")); /* the summary counts it */
    expect_content("out/dst/readable", "yes");
    expect_content("out/dst/d/also", "yes too");
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
    write_str("src/d/it's", "3");
    write_str("src/a\nb", "4"); /* item 8: a newline must not split the line */
    assert_int_equal(symlink("x", path("src/l")), 0);
    const char *argv[] = {MPCOPY, "-v", path("src"), path("dst"), NULL};
    struct run r = run_cmd(argv, NULL);
    assert_int_equal(r.status, 0);
    /* Quoted as cp -v quotes: always, and $'\n' for the newline. */
    assert_non_null(strstr(r.out, "'x'\n"));
    assert_non_null(strstr(r.out, "'d/y z'\n"));
    assert_non_null(strstr(r.out, "\"d/it's\"\n"));
    assert_non_null(strstr(r.out, "'l'\n"));
    assert_non_null(strstr(r.out, "'a'$'\\n''b'\n"));
    int lines = 0;
    for (const char *c = r.out; *c; c++)
        lines += *c == '\n';
    assert_int_equal(lines, 5); /* one line per entry */
    assert_non_null(strstr(r.err, "5 files"));
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
    assert_int_equal(rm_tree("dst"), 0);

    s = run_on_pty("-q", &st);
    assert_int_equal(st, 0);
    assert_string_equal(s, ""); /* -q: nothing at all */
    free(s);
    assert_int_equal(rm_tree("dst"), 0);

    /* In a pipe (here a file): the summary only, no bar. */
    const char *argv[] = {MPCOPY, path("src"), path("dst"), NULL};
    struct run r = run_cmd(argv, NULL);
    assert_int_equal(r.status, 0);
    assert_null(strstr(r.err, "ETA"));
    assert_null(strchr(r.err, '\r'));
    assert_non_null(strstr(r.err, "files,"));
    run_free(&r);
}

/* ---- the regression tests of issue 20 -------------------------------------- */

/* Temporary files (.mpcopy-*) under p. */
static int temps(const char *p)
{
    return count_tree(p) / 1000000;
}

/* The environment string that makes mpcopy wait at `point` until the test
 * opens and closes the FIFO top/hold (see tools/mpcopy/stop.c). */
static const char *hold_env(const char *point)
{
    static char env[1200];
    unlink(path("hold"));
    assert_int_equal(mkfifo(path("hold"), 0600), 0);
    snprintf(env, sizeof env, "MPCOPY_TEST_HOLD=%s:%s", point, path("hold"));
    return env;
}

/* Returns once mpcopy waits at its hold point (it opened the FIFO): the
 * descriptor; closing it lets mpcopy go on. */
static int reach_hold(void)
{
    alarm(GUARD_SECONDS);
    int fd = open(path("hold"), O_WRONLY);
    alarm(0);
    assert_true(fd >= 0);
    return fd;
}

static mode_t mode_of(const char *rel)
{
    struct stat st;
    assert_int_equal(lstat(path(rel), &st), 0);
    return st.st_mode;
}

/* Item 1: a symlink in DST (there before, or put in a directory's place
 * while the copy runs) is never followed: nothing appears outside DST. */
static void test_mpcopy_never_writes_through_symlinks_in_dst(void **state)
{
    (void)state;
    mkdir_rel("outside", 0755);
    mkdir_rel("outside/keep", 0700);
    write_str("outside/target", "mine");
    int outside = count_tree(path("outside"));

    mkdir_rel("es", 0755);
    mkdir_rel("es/x", 0755);
    write_str("es/x/f", "hi");
    write_str("es/g", "g");
    mkdir_rel("ed", 0755);
    assert_int_equal(symlink(path("outside"), path("ed/x")), 0);
    assert_int_equal(symlink(path("outside/target"), path("ed/g")), 0);
    const char *argv[] = {MPCOPY, "-q", path("es"), path("ed"), NULL};
    struct run r = run_cmd(argv, NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "ed/x: cannot overwrite non-directory"));
    assert_int_equal(count_tree(path("outside")), outside);
    expect_content("outside/target", "mine");
    assert_true(S_ISREG(mode_of("ed/g"))); /* the symlink was replaced */
    assert_true(S_ISLNK(mode_of("ed/x")));
    run_free(&r);

    /* A directory the walk made, swapped for a symlink before the
     * workers write into it, and before its mode is set (-p). */
    mkdir_rel("rs", 0755);
    mkdir_rel("rs/sub", 0750);
    write_str("rs/sub/f", "data");
    write_str("rs/top", "t");
    const char *envs[] = {hold_env("walked"), NULL};
    const char *argv2[] = {MPCOPY, "-q", "-p", path("rs"), path("rd"), NULL};
    pid_t pid = start_cmd(argv2, envs);
    int fd = reach_hold();
    assert_int_equal(rmdir(path("rd/sub")), 0);
    assert_int_equal(symlink(path("outside"), path("rd/sub")), 0);
    close(fd);
    r = finish_cmd(pid);
    assert_int_equal(r.status, 1);
    assert_int_equal(count_tree(path("outside")), outside);
    assert_int_equal(mode_of("outside") & 07777, 0755);
    expect_content("rd/top", "t");
    run_free(&r);
}

/* A file of `size` bytes with `n` 4 KiB blocks of data at offs[], holes
 * elsewhere. */
static void mksparse(const char *rel, off_t size, const off_t *offs, int n)
{
    int fd = open(path(rel), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    char block[4096];
    memset(block, 'z', sizeof block);
    for (int i = 0; i < n; i++)
        assert_int_equal(pwrite(fd, block, sizeof block, offs[i]), (ssize_t)sizeof block);
    assert_int_equal(ftruncate(fd, size), 0);
    close(fd);
}

/* Item 2: holes stay holes (small files and ranges of large ones), and
 * the summary counts the data, not the holes. */
static void test_mpcopy_keeps_holes(void **state)
{
    (void)state;
    mkdir_rel("src", 0755);
    mksparse("src/hole", (off_t)1 << 30, NULL, 0); /* truncate -s 1G */
    const off_t small[] = {0, 512 << 10};
    mksparse("src/small", 1 << 20, small, 2);
    const off_t mid[] = {100 << 10, 1536 << 10, (3 << 20) - 4096};
    mksparse("src/mid", 3 << 20, mid, 3);
    struct stat st;
    assert_int_equal(stat(path("src/hole"), &st), 0);
    if (st.st_blocks != 0) {
        fprintf(stderr, "SKIP: this file system has no holes\n");
        skip();
    }
    const char *envs[] = {"MPCOPY_RANGE_KIB=1024", NULL}; /* mid: 3 ranges */
    const char *argv[] = {MPCOPY, "-j", "2", path("src"), path("dst"), NULL};
    struct run r = finish_cmd(start_cmd(argv, envs));
    assert_int_equal(r.status, 0);
    const char *names[] = {"hole", "small", "mid"};
    for (int i = 0; i < 3; i++) {
        char a[64], b[64];
        snprintf(a, sizeof a, "src/%s", names[i]);
        snprintf(b, sizeof b, "dst/%s", names[i]);
        struct stat sa, sb;
        assert_int_equal(stat(path(a), &sa), 0);
        assert_int_equal(stat(path(b), &sb), 0);
        assert_int_equal(sb.st_size, sa.st_size);
        if (sb.st_blocks > sa.st_blocks + 16)
            fprintf(stderr, "%s: %ld blocks, source %ld\n", b, (long)sb.st_blocks,
                    (long)sa.st_blocks);
        assert_true(sb.st_blocks <= sa.st_blocks + 16);
        if (i == 0) /* no block at all: all zeros (cmp would read 2 GiB of them) */
            assert_int_equal(sb.st_blocks, 0);
        else
            assert_int_equal(sh("cmp -s '%s' '%s'", path(a), path(b)), 0);
    }
    /* 5 blocks of data: "20.0 KiB copied", never the 1 GiB of holes. */
    if (strstr(r.err, "KiB copied") == NULL)
        fprintf(stderr, "summary: %s", r.err);
    assert_non_null(strstr(r.err, "KiB copied"));
    run_free(&r);
}

/* Item 3: a large file that shrinks or grows between the walk and its
 * copy is reported and not copied (no zero-filled or cut copy), exit 1,
 * with O_TMPFILE and with temporary names. */
static void test_mpcopy_large_file_that_changes_is_not_copied(void **state)
{
    (void)state;
    for (int named = 0; named < 2; named++) {
        rm_tree("src");
        rm_tree("dst");
        mkdir_rel("src", 0755);
        mkfile("src/shrinks", 1 << 20, 0644, 1);
        mkfile("src/grows", 1 << 20, 0644, 2);
        write_str("src/small", "s");
        const char *envs[] = {hold_env("walked"), "MPCOPY_RANGE_KIB=64",
                              named ? "MPCOPY_NO_TMPFILE=1" : NULL, NULL};
        const char *argv[] = {MPCOPY, "-q", "-j", "2", path("src"), path("dst"), NULL};
        pid_t pid = start_cmd(argv, envs);
        int fd = reach_hold(); /* walked, nothing copied yet */
        assert_int_equal(truncate(path("src/shrinks"), 300 << 10), 0);
        int g = open(path("src/grows"), O_WRONLY | O_APPEND);
        assert_true(g >= 0);
        assert_int_equal(write(g, "more", 4), 4);
        close(g);
        close(fd);
        struct run r = finish_cmd(pid);
        if (r.status != 1)
            fprintf(stderr, "stderr: %s\n", r.err);
        assert_int_equal(r.status, 1);
        assert_non_null(strstr(r.err, "src/shrinks: "));
        assert_non_null(strstr(r.err, "src/grows: changed while being copied"));
        assert_int_equal(access(path("dst/shrinks"), F_OK), -1);
        assert_int_equal(access(path("dst/grows"), F_OK), -1);
        expect_content("dst/small", "s");
        assert_int_equal(temps(path("dst")), 0);
        run_free(&r);
    }
}

/* Item 4: a copy killed mid-way (SIGKILL: no clean-up at all) leaves
 * directories with their owner's bits added; a clean rerun restores every
 * mode, DST's own included. */
static void test_mpcopy_rerun_after_kill_restores_every_mode(void **state)
{
    (void)state;
    make_tree("src", false);
    assert_int_equal(chmod(path("src"), 0555), 0);
    const char *envs[] = {hold_env("copy"), NULL};
    const char *argv[] = {MPCOPY, "-q", "-j", "2", path("src"), path("dst"), NULL};
    pid_t pid = start_cmd(argv, envs);
    int fd = reach_hold(); /* a worker is copying a file */
    assert_int_equal(kill(-pid, SIGKILL), 0);
    close(fd);
    struct run r = finish_cmd(pid);
    assert_int_equal(r.status, 128 + SIGKILL);
    run_free(&r);
    assert_int_not_equal(mode_of("dst") & 07777, 0555); /* still open for filling */

    const char *again[] = {MPCOPY, "-q", path("src"), path("dst"), NULL};
    r = run_cmd(again, NULL);
    if (r.status != 0)
        fprintf(stderr, "rerun: %s\n", r.err);
    assert_int_equal(r.status, 0);
    assert_int_equal(compare_trees(path("src"), path("dst"), false), 0);
    assert_int_equal(sh("diff -r --no-dereference '%s' '%s'", path("src"), path("dst")), 0);
    assert_int_equal(mode_of("dst") & 07777, 0555);
    run_free(&r);

    /* Once more over the finished copy, read-only directories and all. */
    r = run_cmd(again, NULL);
    assert_int_equal(r.status, 0);
    assert_int_equal(compare_trees(path("src"), path("dst"), false), 0);
    run_free(&r);
}

/* Item 5: Ctrl-C (SIGINT to the whole job) or SIGINT to mpcopy alone, in
 * the middle of a copy with temporary names: no temporary file is left,
 * mpcopy ends by SIGINT, and a rerun restores every file and mode. */
static void test_mpcopy_sigint_leaves_no_temporary_file(void **state)
{
    (void)state;
    make_tree("src", false);
    mkfile("src/a/big", 2 << 20, 0640, 13); /* 8 ranges of 256 KiB */
    for (int group = 1; group >= 0; group--) {
        assert_int_equal(rm_tree("dst"), 0);
        const char *envs[] = {hold_env("copy"), "MPCOPY_NO_TMPFILE=1", "MPCOPY_RANGE_KIB=256",
                              NULL};
        const char *argv[] = {MPCOPY, "-q", "-j", "2", path("src"), path("dst"), NULL};
        pid_t pid = start_cmd(argv, envs);
        int fd = reach_hold(); /* a worker has its temporary file open */
        assert_true(temps(path("dst")) >= 1);
        assert_int_equal(kill(group ? -pid : pid, SIGINT), 0);
        close(fd);
        struct run r = finish_cmd(pid);
        if (r.status != 128 + SIGINT)
            fprintf(stderr, "stderr: %s\n", r.err);
        assert_int_equal(r.status, 128 + SIGINT);
        assert_int_equal(temps(path("dst")), 0);
        run_free(&r);

        const char *again[] = {MPCOPY, "-q", path("src"), path("dst"), NULL};
        r = run_cmd(again, NULL);
        assert_int_equal(r.status, 0);
        assert_int_equal(compare_trees(path("src"), path("dst"), false), 0);
        assert_int_equal(sh("diff -r --no-dereference '%s' '%s'", path("src"), path("dst")), 0);
        assert_int_equal(temps(path("dst")), 0);
        run_free(&r);
    }
}

/* Item 6: a file replaced by a FIFO (or by another file) between the walk
 * and its copy: reported, not copied, no hang. */
static void test_mpcopy_file_replaced_by_fifo_does_not_hang(void **state)
{
    (void)state;
    mkdir_rel("src", 0755);
    write_str("src/f", "data");
    write_str("src/h", "old");
    write_str("src/g", "g");
    const char *envs[] = {hold_env("walked"), NULL};
    const char *argv[] = {MPCOPY, "-q", path("src"), path("dst"), NULL};
    pid_t pid = start_cmd(argv, envs);
    int fd = reach_hold();
    assert_int_equal(unlink(path("src/f")), 0);
    assert_int_equal(mkfifo(path("src/f"), 0644), 0);
    write_str("new", "new");
    assert_int_equal(rename(path("new"), path("src/h")), 0);
    close(fd);
    struct run r = finish_cmd(pid); /* a hang ends in SIGALRM */
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "src/f: no longer a regular file"));
    assert_non_null(strstr(r.err, "src/h: replaced by another file"));
    assert_int_equal(access(path("dst/f"), F_OK), -1);
    assert_int_equal(access(path("dst/h"), F_OK), -1);
    expect_content("dst/g", "g");
    assert_int_equal(temps(path("dst")), 0);
    run_free(&r);
}

/* A chain of n directories of 201-byte names under rel (made if missing);
 * returns the deepest one, open. */
static int deep_dir(const char *rel, int n)
{
    int fd = open(path(rel), O_RDONLY | O_DIRECTORY);
    assert_true(fd >= 0);
    char comp[202];
    memset(comp, 'd', 200);
    comp[201] = '\0';
    for (int i = 0; i < n; i++) {
        comp[200] = (char)('a' + i);
        mkdirat(fd, comp, 0755);
        int next = openat(fd, comp, O_RDONLY | O_DIRECTORY);
        assert_true(next >= 0);
        close(fd);
        fd = next;
    }
    return fd;
}

/* Item 7: over PATH_MAX deep (4.4 KiB), a tree copies, and an error
 * message keeps its reason at the end of the line. */
static void test_mpcopy_long_path_error_keeps_reason(void **state)
{
    (void)state;
    mkdir_rel("src", 0755);
    mkdir_rel("dst", 0755);
    int s = deep_dir("src", 22), d = deep_dir("dst", 22);
    int f = openat(s, "ok", O_WRONLY | O_CREAT, 0644);
    assert_true(f >= 0 && write(f, "ok", 2) == 2);
    close(f);
    f = openat(s, "leaf", O_WRONLY | O_CREAT, 0644);
    assert_true(f >= 0);
    close(f);
    assert_int_equal(mkdirat(d, "leaf", 0755), 0); /* a directory where SRC has a file */
    const char *argv[] = {MPCOPY, "-q", path("src"), path("dst"), NULL};
    struct run r = run_cmd(argv, NULL);
    assert_int_equal(r.status, 1);
    size_t n = strlen(r.err);
    assert_true(n > 4400);
    assert_non_null(strstr(r.err, "/leaf: Is a directory\n"));
    assert_int_equal(strchr(r.err, '\n') - r.err + 1, (long)n); /* one line */
    struct stat st;
    assert_int_equal(fstatat(d, "ok", &st, 0), 0); /* the deep file was copied */
    assert_int_equal(st.st_size, 2);
    close(s);
    close(d);
    run_free(&r);
}

/* Item 9: a DST we cannot write into is refused before anything is
 * written, with one message. */
static void test_mpcopy_unwritable_dst_one_error(void **state)
{
    (void)state;
    skip_if_root_without_setpriv();
    mkdir_rel("src", 0755);
    mkdir_rel("src/d", 0755);
    for (int i = 0; i < 50; i++) {
        char n[32];
        snprintf(n, sizeof n, "src/d/f%d", i);
        write_str(n, "x");
    }
    mkdir_rel("dst", geteuid() == 0 ? 0755 : 0555); /* root's: nobody may not write */
    struct run r = run_unprivileged("src", "dst");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "cannot write into"));
    assert_int_equal(strchr(r.err, '\n') - r.err + 1, (long)strlen(r.err)); /* one line */
    assert_int_equal(count_tree(path("dst")), 1);
    run_free(&r);
}

/* The lines of `find DIR -printf FMT | sort` in top/NAME. */
static void find_list(const char *dir, const char *name)
{
    assert_int_equal(sh("cd '%s' && find . -printf '%%p %%y %%m %%U %%G %%n %%s %%T@ %%l\\n' "
                        "| sort > '%s'",
                        path(dir), path(name)),
                     0);
}

/* -a against cp -a on a tree with hard links, a FIFO, extended attributes
 * and ACLs (where the file system has them) and, as root, files of
 * another owner: the same contents, and the same type, mode, owner, link
 * count, size, modification time and link target everywhere. */
static void test_mpcopy_a_matches_cp_a(void **state)
{
    (void)state;
    make_tree("src", false);
    assert_int_equal(link(path("src/one"), path("src/a/one-link")), 0);
    assert_int_equal(link(path("src/one"), path("src/a/b/one-link2")), 0);
    assert_int_equal(link(path("src/a/page"), path("src/dir with spaces/page-link")), 0);
    assert_int_equal(mkfifo(path("src/fifo"), 0640), 0);
    bool xattrs = have("setfattr") && sh("setfattr -n user.mp -v 1 '%s'", path("src/one")) == 0;
    if (xattrs) {
        assert_int_equal(sh("setfattr -n user.color -v blue '%s'", path("src/a")), 0);
        assert_int_equal(sh("setfattr -n user.big -v 0x%0512d '%s'", 7, path("src/a/page")), 0);
        if (have("setfacl")) {
            assert_int_equal(sh("setfacl -m u:12345:rw '%s'", path("src/a/page-1")), 0);
            assert_int_equal(sh("setfacl -d -m u:12345:rx '%s'", path("src/empty dir")), 0);
        }
    }
    if (geteuid() == 0) {
        assert_int_equal(chown(path("src/a/page"), 12345, 12346), 0);
        assert_int_equal(chown(path("src/a/b"), 12345, 12345), 0);
        assert_int_equal(lchown(path("src/link to odd"), 12345, 12346), 0);
        assert_int_equal(chmod(path("src/a/page"), 06755), 0); /* after chown */
    }
    set_old_times("src/one", false);
    set_old_times("src/a/b", false);
    set_old_times("src/link to odd", true);
    set_old_times("src/fifo", false);

    assert_int_equal(sh("cp -a '%s' '%s'", path("src"), path("ref")), 0);
    const char *argv[] = {MPCOPY, "-q", "-a", path("src"), path("out"), NULL};
    struct run r = run_cmd(argv, NULL);
    if (r.status != 0)
        fprintf(stderr, "stderr: %s\n", r.err);
    assert_int_equal(r.status, 0);
    run_free(&r);
    assert_int_equal(sh("diff -r --no-dereference -x fifo '%s' '%s'", path("ref"), path("out")), 0);
    find_list("ref", "ref.find");
    find_list("out", "out.find");
    if (sh("cmp -s '%s' '%s'", path("ref.find"), path("out.find")) != 0)
        sh("diff '%s' '%s' >&2", path("ref.find"), path("out.find"));
    assert_int_equal(sh("cmp -s '%s' '%s'", path("ref.find"), path("out.find")), 0);
    if (!xattrs) {
        fprintf(stderr, "SKIP: no extended attributes here (or no setfattr)\n");
        skip();
    }
    assert_int_equal(
        sh("cd '%s' && getfattr -R -h -d -m - . > '%s' 2>&1", path("ref"), path("ref.x")), 0);
    assert_int_equal(
        sh("cd '%s' && getfattr -R -h -d -m - . > '%s' 2>&1", path("out"), path("out.x")), 0);
    assert_int_equal(sh("grep -q user.color '%s'", path("out.x")), 0);
    assert_int_equal(sh("cmp -s '%s' '%s'", path("ref.x"), path("out.x")), 0);
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
        mpt_test_fixture(test_mpcopy_never_writes_through_symlinks_in_dst, setup, teardown),
        mpt_test_fixture(test_mpcopy_keeps_holes, setup, teardown),
        mpt_test_fixture(test_mpcopy_large_file_that_changes_is_not_copied, setup, teardown),
        mpt_test_fixture(test_mpcopy_rerun_after_kill_restores_every_mode, setup, teardown),
        mpt_test_fixture(test_mpcopy_sigint_leaves_no_temporary_file, setup, teardown),
        mpt_test_fixture(test_mpcopy_file_replaced_by_fifo_does_not_hang, setup, teardown),
        mpt_test_fixture(test_mpcopy_long_path_error_keeps_reason, setup, teardown),
        mpt_test_fixture(test_mpcopy_unwritable_dst_one_error, setup, teardown),
        mpt_test_fixture(test_mpcopy_a_matches_cp_a, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
