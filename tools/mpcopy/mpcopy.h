/* mpcopy.h - what the parts of mpcopy share: the run's settings, the
 * shared progress counters, the batch format and the copy tasks.
 *
 * The parent walks SRC, creates the directories, symlinks and special files
 * of DST itself and packs the regular files it meets into batches; pool
 * workers copy the batches. Large files are cut into ranges that several
 * workers copy at once. Progress and failures travel back through counters
 * in the shared heap.
 *
 * Two rules hold everywhere below SRC and DST (see beneath.c):
 * - no symlink is followed on the way to an entry: directories are opened
 *   with mpc_open_dir, and the last component with O_NOFOLLOW or the *at
 *   call's no-follow flag, so nothing is ever read or written outside the
 *   two trees, even when someone swaps a directory for a symlink mid-copy;
 * - a file appears under its final name only once complete (O_TMPFILE and
 *   linkat, or a temporary name renamed; stop.c removes temporary names
 *   when a signal ends the run). */
#ifndef MPCOPY_H
#define MPCOPY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "mp.h"

#define MPC_VERSION "1.1"

/* Files larger than this are split into ranges of this size (tests may
 * lower it with MPCOPY_RANGE_KIB, see main.c). */
#define MPC_RANGE_DEFAULT ((uint64_t)32 << 20)

/* A batch is flushed when it holds this many files, bytes of file data or
 * bytes of records, whichever comes first. */
#define MPC_BATCH_FILES 256
#define MPC_BATCH_DATA  ((uint64_t)16 << 20)
#define MPC_BATCH_BYTES (48 * 1024)

/* The run's settings: set by the parent before the pool is made, so every
 * worker (forked later) sees them. */
struct mpc_config {
    const char *src;  /* SRC as given, for messages */
    const char *dst;  /* DST as given, for messages */
    int src_fd;       /* SRC's directory, open in every process */
    int dst_fd;       /* DST's directory, open in every process */
    int jobs;         /* worker count */
    uint64_t range;   /* files above this size are copied in ranges of it */
    bool preserve;    /* -p: keep modification and access times */
    bool archive;     /* -a: -p, hard links, ownership (root), xattrs and ACLs */
    bool no_clobber;  /* -n: never overwrite */
    bool verbose;     /* -v: list each file on stdout */
    bool quiet;       /* -q: no summary, no bar */
    bool bar;         /* the progress bar is drawn (stderr is a terminal) */
    bool utf8;        /* names may print UTF-8 as is (-v in a UTF-8 locale) */
    bool use_tmpfile; /* O_TMPFILE + linkat works on DST's file system */
    bool root;        /* effective uid 0: ownership is kept with -a */
    pid_t parent;     /* the main process (the one that walks) */
    gid_t egid;       /* our group: -a without root keeps other groups if it may */
    mode_t umask;     /* the process umask, to skip fchmod when it changes nothing */
    const char *hold; /* test hook MPCOPY_TEST_HOLD "POINT:FIFO", or NULL (stop.c) */
};

extern struct mpc_config mpc;

/* Counters every process adds to; they live in the shared heap. Each is
 * written by several processes, so each has its own cache line. */
struct mpc_counters {
    _Alignas(64) _Atomic uint64_t files;   /* entries copied (files, links, special files) */
    _Alignas(64) _Atomic uint64_t bytes;   /* file data bytes copied (holes not counted) */
    _Alignas(64) _Atomic uint64_t failed;  /* entries that could not be copied */
    _Alignas(64) _Atomic uint64_t skipped; /* existing files kept by -n */
    _Alignas(64) _Atomic int stop;         /* the signal that asked the run to stop, or 0 */
    _Atomic int held;                      /* the test hold happened (stop.c) */
};
_Static_assert(sizeof(struct mpc_counters) == 320, "one cache line per counter");

extern struct mpc_counters *mpc_count;

/* A batch (the argument of mpc_copy_batch) is a sequence of records, each
 * 8-byte aligned: a header then name_len bytes of name and a NUL. A DIR
 * record names a directory relative to SRC and DST ("" for the top) that
 * the FILE records after it live in; a FILE record names a file in it. A
 * record of kind 0 ends the batch. */
enum { MPC_REC_DIR = 1, MPC_REC_FILE = 2 };
enum {
    MPC_F_FRESH = 1,  /* DIR: the walk created it, so no name in it is taken yet */
    MPC_F_SPARSE = 2, /* FILE: fewer blocks than bytes: copy the data extents only */
};

struct mpc_rec {
    uint8_t kind;                    /* MPC_REC_DIR, MPC_REC_FILE, or 0: the end */
    uint8_t flags;                   /* MPC_F_* */
    uint16_t name_len;               /* bytes of the name that follows, without its NUL */
    uint32_t mode;                   /* FILE: st_mode of the source */
    uint64_t size;                   /* FILE: size when the walk saw it */
    uint64_t dev, ino;               /* FILE: identity when the walk saw it */
    uint32_t uid, gid;               /* FILE: owner (for -a) */
    int64_t atime_sec, mtime_sec;    /* FILE: times (for -p) */
    uint32_t atime_nsec, mtime_nsec; /* ... */
};
_Static_assert(sizeof(struct mpc_rec) == 64, "records stay 8-byte aligned");

/* What the walk saw of a file: the fields of struct mpc_rec and mpc_big a
 * worker checks the open file against and copies to the new one. */
struct mpc_meta {
    uint64_t size;            /* bytes */
    uint64_t dev, ino;        /* identity */
    uint32_t mode, uid, gid;  /* st_mode, owner */
    bool sparse;              /* MPC_F_SPARSE */
    struct timespec times[2]; /* atime, mtime */
};

/* Where a large file's ranges meet: in the shared heap, one per file. The
 * worker that finishes the last range checks that the source did not
 * change, sets the attributes and gives the file its name. */
struct mpc_big {
    _Atomic uint32_t left;   /* ranges not finished */
    _Atomic uint32_t failed; /* a range failed: drop the file */
    _Atomic uint32_t done;   /* the last range published or removed the file */
    uint32_t fresh;          /* the destination name was free when the walk looked */
    pid_t holder;            /* O_TMPFILE: the process holding it open (the walk), else 0 */
    int holder_fd;           /* ... and its descriptor there (workers reopen it by /proc) */
    struct mpc_meta meta;    /* the source as the walk saw it */
    char rel[]; /* "dir/name" relative to SRC and DST, NUL, then the temporary name or "" */
};

/* The argument of mpc_copy_range. */
struct mpc_range {
    struct mpc_big *big; /* shared */
    uint64_t offset;     /* first byte of the range */
    uint64_t len;        /* bytes in the range */
};

/* Pool tasks (run in workers). Both return 0: failures are reported on
 * stderr and counted in mpc_count->failed. */
int mpc_copy_batch(const void *arg, void *result);
int mpc_copy_range(const void *arg, void *result);

/* walk.c: walk SRC, create DST's directories, symlinks and special files,
 * hand the files to the pool. Returns once every copy is finished (or a
 * signal stopped the run), 0 or -1 (out of memory at the start).
 * dst_created: DST did not exist before this run; src_st: SRC's
 * attributes, for DST's own mode and times. */
int mpc_walk(mp_pool *pool, bool dst_created, const struct stat *src_st);

/* beneath.c: open the directory rel ("" is root itself) below root without
 * following any symlink on the way; rel may be longer than PATH_MAX.
 * Returns a descriptor (O_RDONLY, O_DIRECTORY, O_CLOEXEC), or -1 with errno
 * (ELOOP or ENOTDIR where a symlink was met). */
int mpc_open_dir(int root, const char *rel);

/* beneath.c: open the parent directory of rel below root as mpc_open_dir
 * does, and point *name at rel's last component. */
int mpc_open_parent(int root, const char *rel, const char **name);

/* copy.c: the temporary name used for a file in this process. */
void mpc_tmp_name(char *buf, size_t cap);

/* copy.c: give the finished O_TMPFILE file fd the name `name` in dir (an
 * existing file is replaced unless -n). Returns 0, 1 (kept by -n) or
 * -errno. */
int mpc_publish_tmpfile(int dir, int fd, const char *name);

/* copy.c: give the temporary file tmp (in dir) the name `name`; fresh: the
 * name was free when the walk looked. Returns 0, 1 (kept by -n; tmp is
 * removed) or -errno. */
int mpc_publish_named(int dir, const char *tmp, const char *name, bool fresh);

/* attrs.c: set what the walk saw (owner with -a, extended attributes with
 * -a, permission bits, times with -p or -a) on the new file or directory
 * out, copied from in; `now` is the permission bits out has (fchmod is
 * skipped when they are right). Returns 0 or -errno. */
int mpc_attrs_fd(int in, int out, const struct mpc_meta *m, mode_t now);

/* attrs.c: the same for the entry `name` in dir that is no regular file
 * (a symlink or a special file; never followed): src names the source
 * entry as "/proc/self/fd/N/name" (for its extended attributes). */
int mpc_attrs_at(int dir, const char *name, const char *src, const struct stat *st);

/* attrs.c: fill m from a stat of the source. */
void mpc_meta_from(struct mpc_meta *m, const struct stat *st);

/* report.c: print "mpcopy: " + message (clearing the bar line first), in
 * one write; the message may be of any length. */
void mpc_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* report.c: report a failure on stderr, "mpcopy: ROOT/REL/NAME: reason"
 * (strerror(err)), and count it. rel and name may be NULL or "". */
void mpc_fail(const char *root, const char *rel, const char *name, int err);

/* report.c: mpc_fail with a reason of our own instead of strerror. */
void mpc_fail_why(const char *root, const char *rel, const char *name, const char *why);

/* report.c: quote s for the shell as cp -v does: always in quotes, control
 * characters (and bytes that are no printable UTF-8) as $'\n' escapes. With
 * only_if_needed, a name with none of those stays bare. Writes at most cap
 * bytes (NUL included) at buf; returns the length of the whole quoted
 * form, as snprintf does. */
size_t mpc_quote(char *buf, size_t cap, const char *s, bool only_if_needed);

/* report.c: -v lines, gathered and written a buffer at a time. */
struct mpc_vout {
    char buf[16384];
    size_t len;
};
void mpc_vline(struct mpc_vout *v, const char *rel, const char *name);
void mpc_vflush(struct mpc_vout *v);

/* stop.c: catch SIGINT, SIGTERM, SIGHUP and SIGPIPE (in the parent before
 * the pool is made, so the workers inherit the handler). In the parent a
 * signal sets mpc_count->stop: the walk stops, workers drop the file they
 * copy, and mpc_stop_exit ends the run. A worker that gets the signal
 * itself removes its temporary file and dies. */
int mpc_signals_install(void);

/* stop.c: has a signal asked the run to stop? */
static inline bool mpc_stopping(void)
{
    return atomic_load_explicit(&mpc_count->stop, memory_order_relaxed) != 0;
}

/* stop.c: name the temporary file this process is making (in dir), so a
 * signal removes it; disarm once it is renamed or removed. */
void mpc_tmp_arm(int dir, const char *name);
void mpc_tmp_disarm(void);

/* stop.c: after a stop, end the parent as the signal would have (the
 * caller has cleaned up). Never returns. */
_Noreturn void mpc_stop_exit(void);

/* stop.c: test hook: at POINT, block until the test releases the FIFO
 * (only when MPCOPY_TEST_HOLD is set: one load otherwise). */
void mpc_hold_at(const char *point);
static inline void mpc_hold(const char *point)
{
    if (mpc.hold != NULL)
        mpc_hold_at(point);
}

/* links.c (-a): remember a source inode with several links. Returns NULL
 * when rel is its first name in this run (copy it), else the relative path
 * of the first name (link to it once the copies are done). */
const char *mpc_links_first(const struct stat *st, const char *rel);

/* links.c: after every copy: link each later name to the first copy (-v
 * lines go to v). */
void mpc_links_make(struct mpc_vout *v);

/* progress.c: the bar thread and the final summary. */
struct mpc_totals {
    _Atomic uint64_t files; /* entries found so far */
    _Atomic uint64_t bytes; /* file data bytes found so far */
    _Atomic bool walk_done; /* the walk has seen everything */
};
extern struct mpc_totals mpc_total;

int mpc_progress_start(void);
void mpc_progress_stop(void);
void mpc_summary(double seconds);

#endif /* MPCOPY_H */
