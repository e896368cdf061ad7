/* main.c - mpcopy, libmp's parallel folder copier: options, the checks
 * made before anything is written, and the run.
 *
 *     mpcopy [-j N] [-p | -a] [-n] [-v] [-q] SRC DST
 *
 * copies the contents of SRC into DST (like cp -r SRC/. DST) with a pool
 * of worker processes. Exit status: 0 all copied, 1 some entries failed,
 * 2 nothing done (bad options, bad SRC or DST), or death by the signal
 * that interrupted it. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <langinfo.h>
#include <limits.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mpcopy.h"

struct mpc_config mpc = {.src_fd = -1, .dst_fd = -1, .range = MPC_RANGE_DEFAULT};
struct mpc_counters *mpc_count;

enum { EXIT_PARTIAL = 1, EXIT_USAGE = 2 };

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: mpcopy [OPTION]... SRC DST\n"
            "Copy the contents of directory SRC into DST (created if missing) with\n"
            "several worker processes: files, directories, symlinks and special files,\n"
            "recursively, with their permission bits. Symlinks are never followed.\n"
            "\n"
            "  -j, --jobs=N        N worker processes (default: the CPUs available, %d)\n"
            "  -p, --preserve      also keep modification and access times\n"
            "  -a, --archive       -p, and keep hard links, extended attributes and\n"
            "                      ACLs, and the owner when run as root (like cp -a)\n"
            "  -n, --no-clobber    never overwrite an existing file\n"
            "  -v, --verbose       list each file copied on stdout, quoted like cp -v\n"
            "  -q, --quiet         no progress bar and no summary\n"
            "  -h, --help          show this help and exit\n"
            "  -V, --version       show the version and exit\n"
            "\n"
            "Exit status: 0 all copied, 1 some files failed (each one is reported),\n"
            "2 nothing copied (bad options, SRC not a directory, DST inside SRC, DST\n"
            "not writable). Interrupted (SIGINT, SIGTERM, SIGHUP), it removes its\n"
            "temporary files and ends by the same signal.\n",
            mp_cpu_count());
}

static int bad_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "mpcopy: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'mpcopy --help' for more information.\n");
    return EXIT_USAGE;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The absolute, symlink-free form of path, which need not exist yet: the
 * longest existing prefix is resolved with realpath, the rest is appended
 * with "." and ".." applied. Returns a malloc'd string or NULL. */
static char *resolve(const char *path)
{
    char *rest = strdup("");
    char *head = strdup(path);
    char *real = NULL;
    while (rest && head && (real = realpath(head, NULL)) == NULL) {
        if (errno != ENOENT || strcmp(head, "/") == 0 || strcmp(head, ".") == 0)
            goto out;
        /* Move the last component of head to the front of rest. */
        size_t n = strlen(head);
        while (n > 1 && head[n - 1] == '/')
            head[--n] = '\0';
        char *slash = strrchr(head, '/');
        const char *last = slash ? slash + 1 : head;
        char *r = malloc(strlen(last) + strlen(rest) + 2);
        if (r == NULL)
            goto out;
        sprintf(r, "%s/%s", last, rest);
        free(rest);
        rest = r;
        if (slash == head)
            head[1] = '\0';
        else if (slash)
            *slash = '\0';
        else
            strcpy(head, ".");
    }
    if (real == NULL)
        goto out;
    /* Apply rest's components lexically: none of them exists. */
    size_t cap = strlen(real) + strlen(rest) + 2;
    char *out = malloc(cap);
    if (out == NULL)
        goto out;
    strcpy(out, real);
    for (char *save = NULL, *c = strtok_r(rest, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (strcmp(c, ".") == 0)
            continue;
        if (strcmp(c, "..") == 0) {
            char *s = strrchr(out, '/');
            if (s && s != out)
                *s = '\0';
            else
                strcpy(out, "/");
            continue;
        }
        if (strcmp(out, "/") != 0)
            strcat(out, "/");
        strcat(out, c);
    }
    free(real);
    free(rest);
    free(head);
    return out;
out:
    free(real);
    free(rest);
    free(head);
    return NULL;
}

/* Is b the same as a or inside it (both resolved)? */
static bool inside(const char *a, const char *b)
{
    size_t n = strlen(a);
    if (strcmp(a, "/") == 0)
        return true;
    return strncmp(a, b, n) == 0 && (b[n] == '\0' || b[n] == '/');
}

/* Can we create files in DST, and how? Asked once before anything is
 * written, so a read-only or foreign DST gives one error instead of one
 * per file; the probe leaves nothing behind. *tmpfile: O_TMPFILE works
 * there and its files can be named through /proc (linkat, and workers
 * reopening the walk's large files): the cheapest way to never show a
 * partly written file. Returns 0 or an errno value. */
static int probe_dst(int dir, bool *tmpfile)
{
    *tmpfile = false;
    int fd = openat(dir, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    if (fd >= 0) {
        close(fd);
        *tmpfile = getenv("MPCOPY_NO_TMPFILE") == NULL && /* tests of the other way */
                   access("/proc/self/fd", X_OK) == 0;
        return 0;
    }
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
        return errno;
    char tmp[64];
    mpc_tmp_name(tmp, sizeof tmp);
    fd = openat(dir, tmp, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno;
    close(fd);
    unlinkat(dir, tmp, 0);
    return 0;
}

/* The test hooks (not in the manual): MPCOPY_RANGE_KIB sets the range size,
 * so tests need no large files; MPCOPY_TEST_HOLD, see stop.c. */
static void test_hooks(void)
{
    const char *r = getenv("MPCOPY_RANGE_KIB");
    long kib = r ? strtol(r, NULL, 10) : 0;
    if (kib > 0)
        mpc.range = (uint64_t)kib << 10;
    mpc.hold = getenv("MPCOPY_TEST_HOLD");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"jobs", required_argument, NULL, 'j'},
        {"preserve", no_argument, NULL, 'p'},
        {"archive", no_argument, NULL, 'a'},
        {"no-clobber", no_argument, NULL, 'n'},
        {"verbose", no_argument, NULL, 'v'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int jobs = 0;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":j:panvqhV", longopts, NULL)) != -1) {
        switch (c) {
        case 'j': {
            char *end;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || v < 1 || v > 1024)
                return bad_usage("invalid number of jobs '%s' (1 to 1024)", optarg);
            jobs = (int)v;
            break;
        }
        case 'p':
            mpc.preserve = true;
            break;
        case 'a':
            mpc.archive = true;
            mpc.preserve = true;
            break;
        case 'n':
            mpc.no_clobber = true;
            break;
        case 'v':
            mpc.verbose = true;
            break;
        case 'q':
            mpc.quiet = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("mpcopy %s (libmp %s)\n", MPC_VERSION, mp_version_string());
            return 0;
        case ':':
            return bad_usage("option '%s' needs a value", argv[optind - 1]);
        default:
            return bad_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 2)
        return bad_usage("%s", argc - optind < 2 ? "missing SRC or DST" : "too many arguments");
    mpc.src = argv[optind];
    mpc.dst = argv[optind + 1];

    /* Everything that makes the run impossible is found before anything
     * is written. */
    struct stat sst, dst;
    if (stat(mpc.src, &sst) < 0) {
        fprintf(stderr, "mpcopy: cannot access '%s': %s\n", mpc.src, strerror(errno));
        return EXIT_USAGE;
    }
    if (!S_ISDIR(sst.st_mode)) {
        fprintf(stderr, "mpcopy: '%s' is not a directory\n", mpc.src);
        return EXIT_USAGE;
    }
    bool dst_exists = stat(mpc.dst, &dst) == 0;
    if (!dst_exists && errno != ENOENT) {
        fprintf(stderr, "mpcopy: cannot access '%s': %s\n", mpc.dst, strerror(errno));
        return EXIT_USAGE;
    }
    if (dst_exists && !S_ISDIR(dst.st_mode)) {
        fprintf(stderr, "mpcopy: '%s' exists and is not a directory\n", mpc.dst);
        return EXIT_USAGE;
    }
    char *rsrc = resolve(mpc.src);
    char *rdst = resolve(mpc.dst);
    if (rsrc == NULL || rdst == NULL) {
        fprintf(stderr, "mpcopy: cannot resolve '%s': %s\n", rsrc ? mpc.dst : mpc.src,
                strerror(errno));
        free(rsrc);
        free(rdst);
        return EXIT_USAGE;
    }
    bool loop =
        inside(rsrc, rdst) || (dst_exists && dst.st_dev == sst.st_dev && dst.st_ino == sst.st_ino);
    free(rsrc);
    free(rdst);
    if (loop) {
        fprintf(stderr, "mpcopy: cannot copy '%s' into itself ('%s' is inside it)\n", mpc.src,
                mpc.dst);
        return EXIT_USAGE;
    }
    mpc.src_fd = open(mpc.src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (mpc.src_fd < 0) {
        fprintf(stderr, "mpcopy: cannot open '%s': %s\n", mpc.src, strerror(errno));
        return EXIT_USAGE;
    }
    test_hooks();
    mpc.umask = umask(0);
    umask(mpc.umask);
    mpc.root = geteuid() == 0;
    mpc.egid = getegid();
    mpc.parent = getpid();
    if (mpc.verbose) {
        /* Names print as they are only in a UTF-8 locale (as cp does). */
        setlocale(LC_CTYPE, "");
        mpc.utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
    }
    /* Made with its owner's rwx added, so it can be filled; the walk gives
     * it SRC's bits at the end. Never 0700 for good if we are stopped. */
    if (!dst_exists && mkdir(mpc.dst, (sst.st_mode & 0777) | 0700) < 0) {
        fprintf(stderr, "mpcopy: cannot create directory '%s': %s\n", mpc.dst, strerror(errno));
        return EXIT_USAGE;
    }
    mpc.dst_fd = open(mpc.dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (mpc.dst_fd < 0) {
        fprintf(stderr, "mpcopy: cannot open '%s': %s\n", mpc.dst, strerror(errno));
        return EXIT_USAGE;
    }
    /* A DST left read-only by an earlier copy of this SRC (its bits are
     * SRC's, and it is ours) is opened up for the run, as the directories
     * below it are; any other DST we cannot write into is refused. */
    if (dst_exists && (dst.st_mode & 0300) != 0300 && dst.st_uid == geteuid() &&
        (dst.st_mode & 07777) == (sst.st_mode & 07777))
        fchmod(mpc.dst_fd, (dst.st_mode & 07777) | 0700);
    int werr = probe_dst(mpc.dst_fd, &mpc.use_tmpfile);
    if (werr != 0) {
        fprintf(stderr, "mpcopy: cannot write into '%s': %s\n", mpc.dst, strerror(werr));
        return EXIT_USAGE;
    }
    mpc.jobs = jobs > 0 ? jobs : mp_cpu_count();
    if (mpc.jobs < 1)
        mpc.jobs = 1;
    mpc.bar = !mpc.quiet && isatty(STDERR_FILENO) && !(mpc.verbose && isatty(STDOUT_FILENO));

    /* The shared heap aligns to 16 bytes; the counters want 64. */
    char *cm = mp_shared_calloc(1, sizeof *mpc_count + 63);
    mpc_count = cm ? (void *)(((uintptr_t)cm + 63) & ~(uintptr_t)63) : NULL;
    if (mpc_count == NULL) {
        fprintf(stderr, "mpcopy: out of shared memory\n");
        return EXIT_USAGE;
    }
    /* Before the pool: its workers inherit the handler. */
    if (mpc_signals_install() < 0) {
        fprintf(stderr, "mpcopy: cannot catch signals: %s\n", strerror(errno));
        return EXIT_USAGE;
    }
    /* Workers print -v lines with write(2): our own buffered lines must
     * go out first, and in order, so stdout is line-buffered. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    double t0 = now();
    mp_pool *pool = mp_pool_new(mpc.jobs);
    if (pool == NULL) {
        fprintf(stderr, "mpcopy: cannot start %d workers: %s\n", mpc.jobs, strerror(errno));
        return EXIT_USAGE;
    }
    mpc_progress_start();
    int rc = mpc_walk(pool, !dst_exists, &sst);
    if (mpc_stopping()) {
        /* Every task has returned and every temporary is gone. */
        mp_pool_terminate(pool);
        mp_pool_free(pool);
        mpc_progress_stop();
        if (!mpc.quiet)
            mpc_msg("interrupted: %llu files copied, no temporary file left",
                    (unsigned long long)atomic_load(&mpc_count->files));
        mpc_stop_exit();
    }
    mp_pool_close(pool);
    mp_pool_join(pool);
    mp_pool_free(pool);
    mpc_progress_stop();
    double el = now() - t0;
    fflush(stdout);
    if (!mpc.quiet)
        mpc_summary(el);
    bool failed = rc != 0 || atomic_load(&mpc_count->failed) > 0;
    return failed ? EXIT_PARTIAL : 0;
}
