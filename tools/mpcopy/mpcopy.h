/* mpcopy.h - what the parts of mpcopy share: the run's settings, the
 * shared progress counters, the batch format and the copy tasks.
 *
 * The parent walks SRC, creates the directories of DST itself and packs
 * the files it meets into batches; pool workers copy the batches. Large
 * files are cut into ranges that several workers copy at once. Progress and
 * failures travel back through counters in the shared heap. */
#ifndef MPCOPY_H
#define MPCOPY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "mp.h"

#define MPC_VERSION "1.0"

/* Files larger than this are split into ranges of this size. */
#define MPC_RANGE ((uint64_t)32 << 20)

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
    bool preserve;    /* -p: keep modification and access times */
    bool no_clobber;  /* -n: never overwrite */
    bool verbose;     /* -v: list each file on stdout */
    bool quiet;       /* -q: no summary, no bar */
    bool bar;         /* the progress bar is drawn (stderr is a terminal) */
    bool use_tmpfile; /* O_TMPFILE + linkat works on DST's file system */
    mode_t umask;     /* the process umask, to skip fchmod when it changes nothing */
};

extern struct mpc_config mpc;

/* Counters every process adds to; they live in the shared heap. Each is
 * written by several processes, so each has its own cache line. */
struct mpc_counters {
    _Alignas(64) _Atomic uint64_t files;   /* entries copied (files and symlinks) */
    _Alignas(64) _Atomic uint64_t bytes;   /* file bytes copied */
    _Alignas(64) _Atomic uint64_t failed;  /* entries that could not be copied */
    _Alignas(64) _Atomic uint64_t skipped; /* existing files kept by -n */
};
_Static_assert(sizeof(struct mpc_counters) == 256, "one cache line per counter");

extern struct mpc_counters *mpc_count;

/* A batch (the argument of mpc_copy_batch) is a sequence of records, each
 * 8-byte aligned: a header then name_len bytes of name and a NUL. A DIR
 * record names a directory relative to SRC and DST ("" for the top) that
 * the FILE records after it live in; a FILE record names a file in it. */
enum { MPC_REC_DIR = 1, MPC_REC_FILE = 2 };

struct mpc_rec {
    uint8_t kind;                  /* MPC_REC_DIR or MPC_REC_FILE */
    uint8_t fresh;                 /* DIR: the walk created it, so no file in it exists yet */
    uint16_t name_len;             /* bytes of the name that follows, without its NUL */
    uint32_t mode;                 /* FILE: st_mode of the source */
    uint64_t size;                 /* FILE: size when the walk saw it */
    int64_t atime_sec, atime_nsec; /* FILE: access time (for -p) */
    int64_t mtime_sec, mtime_nsec; /* FILE: modification time (for -p) */
};
_Static_assert(sizeof(struct mpc_rec) == 48, "records stay 8-byte aligned");

/* Where a large file's ranges meet: in the shared heap, one per file. The
 * worker that finishes the last range renames the file into place. */
struct mpc_big {
    _Atomic uint32_t left;    /* ranges not finished */
    _Atomic uint32_t failed;  /* a range failed: drop the file */
    uint32_t mode;            /* source st_mode */
    uint32_t fresh;           /* the destination name was free when the walk looked */
    uint64_t size;            /* bytes, when the walk saw it */
    struct timespec times[2]; /* atime, mtime for -p */
    char rel[]; /* "dir/name" relative to SRC and DST, then NUL, then the temporary name */
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

/* copy.c: the temporary name used for a file in this process. */
void mpc_tmp_name(char *buf, size_t cap);

/* copy.c: report a failure: "mpcopy: PATH: reason" on stderr, counted. */
void mpc_fail(const char *root, const char *rel, const char *name, int err);

/* copy.c: print "mpcopy: " + message (clearing the bar line first). */
void mpc_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* walk.c: walk SRC, create DST's directories and symlinks, hand the files
 * to the pool. Returns once every copy is finished, 0 or -1 (out of
 * memory at the start). dst_created: DST did not exist before this run;
 * src_st: SRC's attributes, for DST's own mode and times. */
int mpc_walk(mp_pool *pool, bool dst_created, const struct stat *src_st);

/* progress.c: the bar thread and the final summary. */
struct mpc_totals {
    _Atomic uint64_t files; /* entries found so far */
    _Atomic uint64_t bytes; /* file bytes found so far */
    _Atomic bool walk_done; /* the walk has seen everything */
};
extern struct mpc_totals mpc_total;

int mpc_progress_start(void);
void mpc_progress_stop(void);
void mpc_summary(double seconds);

#endif /* MPCOPY_H */
