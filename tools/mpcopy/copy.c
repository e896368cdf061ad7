/* copy.c - the worker side of mpcopy: copy the files of a batch, or one
 * range of a large file, never leaving a partly written file under its
 * final name, never copying what is no longer the file the walk saw. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "mpcopy.h"

/* Data moves in steps of this size: between two steps a worker adds to the
 * progress counter and looks whether a signal asked the run to stop. */
#define STEP ((uint64_t)8 << 20)

/* A copy that a stop interrupted returns this (never reported). */
#define STOPPED (-ECANCELED)

/* How data is moved. A worker falls back for good once a way is missing
 * or cannot join these file systems (ENOSYS, EXDEV, EOPNOTSUPP); other
 * refusals (EINVAL, EPERM, ...) may belong to one file and make only that
 * file fall back. */
enum { WAY_CFR, WAY_SENDFILE, WAY_RW };
static int way = WAY_CFR;

void mpc_tmp_name(char *buf, size_t cap)
{
    static unsigned long seq;
    snprintf(buf, cap, ".mpcopy-%ld-%lu.tmp", (long)getpid(), ++seq);
}

/* Errors that mean "this way of copying does not work for these files",
 * as opposed to a real read or write failure. */
static bool unsupported(int err)
{
    return err == EXDEV || err == ENOSYS || err == EOPNOTSUPP || err == EINVAL || err == EBADF ||
           err == ETXTBSY || err == EPERM;
}

/* ... and those of them that hold for every file of the run. */
static bool unsupported_for_good(int err)
{
    return err == EXDEV || err == ENOSYS || err == EOPNOTSUPP;
}

static void add_bytes(uint64_t n)
{
    atomic_fetch_add_explicit(&mpc_count->bytes, n, memory_order_relaxed);
}

/* Where a copy_data call reads and writes, and how far. */
struct span {
    off_t *off;      /* the offset in both files, advanced; NULL: file positions */
    uint64_t len;    /* bytes wanted (ignored with to_eof) */
    bool to_eof;     /* copy until the source ends */
    uint64_t copied; /* out: bytes moved */
};

static size_t want(const struct span *s)
{
    uint64_t left = s->len - s->copied;
    return (!s->to_eof && left < STEP) ? (size_t)left : (size_t)STEP;
}

static bool more(const struct span *s)
{
    return s->to_eof || s->copied < s->len;
}

static void moved(struct span *s, ssize_t r)
{
    if (s->off)
        *s->off += r;
    s->copied += (uint64_t)r;
    add_bytes((uint64_t)r);
}

/* Copy with read/write (the last resort, and pseudo files). */
static int copy_rw(int in, int out, struct span *s)
{
    enum { BUF = 256 * 1024 };
    static char *buf;
    if (buf == NULL && (buf = malloc(BUF)) == NULL)
        return -ENOMEM;
    while (more(s)) {
        if (mpc_stopping())
            return STOPPED;
        size_t n = want(s) < BUF ? want(s) : BUF;
        ssize_t r = s->off ? pread(in, buf, n, *s->off) : read(in, buf, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            break;
        for (ssize_t done = 0; done < r;) {
            ssize_t w = s->off ? pwrite(out, buf + done, (size_t)(r - done), *s->off + done)
                               : write(out, buf + done, (size_t)(r - done));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                return -errno;
            done += w;
        }
        moved(s, r);
    }
    return 0;
}

/* Copy s->len bytes (or up to end of file with to_eof) from in to out, at
 * *s->off in both files when off is given, else at their file positions.
 * copy_file_range first (the kernel copies, or shares the blocks), then
 * sendfile, then read/write. A source that ends early is not an error
 * here: s->copied tells. Returns 0, STOPPED or -errno. */
static int copy_data(int in, int out, struct span *s)
{
    int w = way;
    while (w == WAY_CFR && more(s)) {
        if (mpc_stopping())
            return STOPPED;
        loff_t oi = s->off ? *s->off : 0, oo = oi;
        ssize_t r = copy_file_range(in, s->off ? &oi : NULL, out, s->off ? &oo : NULL, want(s), 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            if (s->copied == 0 && unsupported(errno)) {
                w = WAY_SENDFILE;
                if (unsupported_for_good(errno))
                    way = w;
                break;
            }
            return -errno;
        }
        if (r == 0)
            return 0;
        moved(s, r);
    }
    if (w == WAY_CFR)
        return 0;
    while (w == WAY_SENDFILE && more(s)) {
        if (mpc_stopping())
            return STOPPED;
        if (s->off && lseek(out, *s->off, SEEK_SET) < 0)
            return -errno;
        off_t before = s->off ? *s->off : 0;
        ssize_t r = sendfile(out, in, s->off, want(s));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            if (s->copied == 0 && unsupported(errno)) {
                w = WAY_RW;
                if (unsupported_for_good(errno))
                    way = w;
                break;
            }
            return -errno;
        }
        if (r == 0)
            return 0;
        if (s->off) /* sendfile advanced it already */
            *s->off = before;
        moved(s, r);
    }
    if (w == WAY_SENDFILE)
        return 0;
    return copy_rw(in, out, s);
}

/* Copy the data of [start, end) of in to the same offsets of out, skipping
 * the holes (out is already end bytes long, or is sized by the caller).
 * *end_seen is where the data ended. Returns 0, STOPPED or -errno. */
static int copy_extents(int in, int out, uint64_t start, uint64_t end, uint64_t *end_seen)
{
    off_t pos = (off_t)start;
    *end_seen = start;
    while ((uint64_t)pos < end) {
        off_t data = lseek(in, pos, SEEK_DATA);
        if (data < 0 && errno == ENXIO)
            return 0; /* nothing but a hole (or the end) from pos on */
        if (data < 0) {
            /* No SEEK_DATA here: copy it all. */
            struct span s = {&pos, end - (uint64_t)pos, false, 0};
            int rc = copy_data(in, out, &s);
            *end_seen = (uint64_t)pos;
            return rc;
        }
        if ((uint64_t)data >= end)
            return 0;
        off_t hole = lseek(in, data, SEEK_HOLE);
        if (hole < 0)
            return -errno;
        if ((uint64_t)hole > end)
            hole = (off_t)end;
        pos = data;
        struct span s = {&pos, (uint64_t)(hole - data), false, 0};
        int rc = copy_data(in, out, &s);
        *end_seen = (uint64_t)pos;
        if (rc < 0 || s.copied < s.len)
            return rc; /* an error, or the file ends early: the caller sees end_seen */
    }
    return 0;
}

/* Errors that belong to the destination rather than the source. */
static bool write_error(int err)
{
    return err == ENOSPC || err == EDQUOT || err == EFBIG || err == EROFS;
}

/* Does O_NONBLOCK change reads of regular files on the file system of fd?
 * Local file systems ignore it (reads of regular files never wait for a
 * writer); FUSE and network file systems may pass it on. Asked once per
 * directory, to spare a system call per file. */
static bool nonblock_matters(int fd)
{
    struct statfs sf;
    if (fstatfs(fd, &sf) < 0)
        return true;
    switch ((unsigned long)sf.f_type) {
    case EXT4_SUPER_MAGIC: /* ext2, ext3 too */
    case XFS_SUPER_MAGIC:
    case BTRFS_SUPER_MAGIC:
    case TMPFS_MAGIC:
    case F2FS_SUPER_MAGIC:
        return false;
    default:
        return true;
    }
}

/* Open a source file the walk saw (m) without blocking on whatever may
 * have taken its place since (a FIFO would block an open for reading for
 * good) and check it is still that file (*st: what it is now). Returns the
 * descriptor, -1 with errno, or -2 when it changed (*why says how). */
static int open_source(int dir, const char *name, const struct mpc_meta *m, bool clear_nonblock,
                       struct stat *st, const char **why)
{
    int in = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (in < 0)
        return -1;
    if (fstat(in, st) < 0) {
        int err = errno;
        close(in);
        errno = err;
        return -1;
    }
    if (!S_ISREG(st->st_mode) || (uint64_t)st->st_dev != m->dev || (uint64_t)st->st_ino != m->ino) {
        close(in);
        *why = S_ISREG(st->st_mode)
                   ? "replaced by another file since the walk; not copied"
                   : "no longer a regular file (replaced since the walk); not copied";
        return -2;
    }
    /* O_NONBLOCK only guarded the open; reads are ordinary. */
    if (clear_nonblock)
        fcntl(in, F_SETFL, 0);
    return in;
}

/* Give an O_TMPFILE file its name. Returns 0 or -errno. */
static int link_fd(int fd, int dir, const char *name)
{
    /* linkat(fd, "", AT_EMPTY_PATH) names the file directly; kernels
     * before 6.10 allow it only with CAP_DAC_READ_SEARCH (ENOENT), and
     * then the /proc link, one path walk dearer, does the same. */
    static bool no_empty_path;
    if (!no_empty_path) {
        if (linkat(fd, "", dir, name, AT_EMPTY_PATH) == 0)
            return 0;
        if (errno != ENOENT && errno != EPERM && errno != EINVAL)
            return -errno;
        no_empty_path = true;
    }
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    return linkat(AT_FDCWD, proc, dir, name, AT_SYMLINK_FOLLOW) == 0 ? 0 : -errno;
}

int mpc_publish_tmpfile(int dir, int fd, const char *name)
{
    int rc = link_fd(fd, dir, name);
    if (rc != -EEXIST)
        return rc;
    if (mpc.no_clobber)
        return 1;
    /* Replace the existing file (or symlink: it is replaced, never
     * followed) in one step: link under a temporary name, then rename. */
    char tmp[64];
    mpc_tmp_name(tmp, sizeof tmp);
    mpc_tmp_arm(dir, tmp);
    if ((rc = link_fd(fd, dir, tmp)) == 0 && renameat(dir, tmp, dir, name) < 0) {
        rc = -errno;
        unlinkat(dir, tmp, 0);
    }
    mpc_tmp_disarm();
    return rc;
}

int mpc_publish_named(int dir, const char *tmp, const char *name, bool fresh)
{
    if (!mpc.no_clobber || fresh)
        return renameat(dir, tmp, dir, name) < 0 ? -errno : 0;
    if (renameat2(dir, tmp, dir, name, RENAME_NOREPLACE) == 0)
        return 0;
    int err = errno;
    if (err == EINVAL || err == ENOSYS) {
        /* No RENAME_NOREPLACE here: link(2) never replaces either. */
        if (linkat(dir, tmp, dir, name, 0) == 0) {
            unlinkat(dir, tmp, 0);
            return 0;
        }
        err = errno;
    }
    unlinkat(dir, tmp, 0);
    return err == EEXIST ? 1 : -err;
}

/* The worker's view of the batch's current directory. */
struct cur {
    const char *rel; /* relative path in SRC and DST */
    bool fresh;      /* created by the walk: its names are all free */
    int sfd, dfd;    /* open directories, or -1 */
    int err;         /* could not open them: every file in it fails */
    bool nonblock;   /* O_NONBLOCK must be cleared after opening a file */
};

static void cur_close(struct cur *c)
{
    if (c->sfd >= 0)
        close(c->sfd);
    if (c->dfd >= 0)
        close(c->dfd);
    c->sfd = c->dfd = -1;
}

static void cur_open(struct cur *c, const char *rel, bool fresh)
{
    cur_close(c);
    c->rel = rel;
    c->fresh = fresh;
    c->err = 0;
    if ((c->sfd = mpc_open_dir(mpc.src_fd, rel)) < 0) {
        c->err = errno;
        mpc_fail(mpc.src, rel, NULL, c->err);
        return;
    }
    c->nonblock = nonblock_matters(c->sfd);
    if ((c->dfd = mpc_open_dir(mpc.dst_fd, rel)) < 0) {
        c->err = errno;
        mpc_fail(mpc.dst, rel, NULL, c->err);
    }
}

static void meta_from_rec(struct mpc_meta *m, const struct mpc_rec *r)
{
    m->size = r->size;
    m->dev = r->dev;
    m->ino = r->ino;
    m->mode = r->mode;
    m->uid = r->uid;
    m->gid = r->gid;
    m->sparse = (r->flags & MPC_F_SPARSE) != 0;
    m->times[0] = (struct timespec){(time_t)r->atime_sec, (long)r->atime_nsec};
    m->times[1] = (struct timespec){(time_t)r->mtime_sec, (long)r->mtime_nsec};
}

/* The data of a small file, as long as it was when opened (st): one
 * copy_file_range for most files. A file that grew since is copied as it
 * was at open; one that shrank, as it is. Size 0 may be a pseudo file
 * (/proc) whose size reads as 0: copied to its end. With holes: the data
 * extents, then the length. */
static int copy_whole(int in, int out, const struct mpc_meta *m, const struct stat *st)
{
    if (m->sparse) {
        uint64_t end;
        int rc = copy_extents(in, out, 0, (uint64_t)st->st_size, &end);
        if (rc == 0 && ftruncate(out, st->st_size) < 0)
            rc = -errno;
        return rc;
    }
    struct span s = {NULL, (uint64_t)st->st_size, st->st_size == 0, 0};
    return st->st_size == 0 ? copy_rw(in, out, &s) : copy_data(in, out, &s);
}

/* Copy one file of the batch. */
static void copy_one(struct cur *c, const struct mpc_rec *r, const char *name, struct mpc_vout *v)
{
    if (c->err) {
        atomic_fetch_add_explicit(&mpc_count->failed, 1, memory_order_relaxed);
        return;
    }
    struct stat st;
    if (mpc.no_clobber && !c->fresh && fstatat(c->dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        atomic_fetch_add_explicit(&mpc_count->skipped, 1, memory_order_relaxed);
        return;
    }
    struct mpc_meta m;
    meta_from_rec(&m, r);
    const char *why = NULL;
    int in = open_source(c->sfd, name, &m, c->nonblock, &st, &why);
    if (in < 0) {
        if (why)
            mpc_fail_why(mpc.src, c->rel, name, why);
        else
            mpc_fail(mpc.src, c->rel, name, errno);
        return;
    }
    char tmp[64];
    int out = -1;
    mode_t made = (mode_t)m.mode & 0777;
    bool unnamed = mpc.use_tmpfile;
    if (unnamed) {
        out = openat(c->dfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, made);
        /* A directory on another file system (a mount point inside DST)
         * may not have O_TMPFILE: a temporary name does the same. */
        if (out < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL))
            unnamed = false;
    }
    if (!unnamed) {
        mpc_tmp_name(tmp, sizeof tmp);
        mpc_tmp_arm(c->dfd, tmp);
        out = openat(c->dfd, tmp, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, made);
    }
    if (out < 0) {
        mpc_tmp_disarm();
        mpc_fail(mpc.dst, c->rel, name, errno);
        close(in);
        return;
    }
    mpc_hold("copy");
    int rc = copy_whole(in, out, &m, &st);
    bool src_side = rc < 0 && !write_error(-rc);
    if (rc == 0)
        rc = mpc_attrs_fd(in, out, &m, made & ~mpc.umask);
    if (rc == 0)
        rc = unnamed ? mpc_publish_tmpfile(c->dfd, out, name)
                     : mpc_publish_named(c->dfd, tmp, name, c->fresh);
    if (rc < 0 && !unnamed)
        unlinkat(c->dfd, tmp, 0);
    if (!unnamed)
        mpc_tmp_disarm();
    close(out);
    close(in);
    if (rc == STOPPED) {
        return; /* the run stops: not a failure of this file */
    } else if (rc < 0) {
        mpc_fail(src_side ? mpc.src : mpc.dst, c->rel, name, -rc);
    } else if (rc == 1) {
        atomic_fetch_add_explicit(&mpc_count->skipped, 1, memory_order_relaxed);
    } else {
        atomic_fetch_add_explicit(&mpc_count->files, 1, memory_order_relaxed);
        if (mpc.verbose)
            mpc_vline(v, c->rel, name);
    }
}

int mpc_copy_batch(const void *arg, void *result)
{
    (void)result;
    const char *p = arg;
    struct cur c = {.rel = "", .sfd = -1, .dfd = -1, .err = EINVAL};
    static struct mpc_vout v; /* static: 16 KiB is a lot for a worker's stack */
    v.len = 0;
    for (;;) {
        const struct mpc_rec *r = (const void *)p;
        if (r->kind == 0 || mpc_stopping())
            break;
        const char *name = p + sizeof *r;
        if (r->kind == MPC_REC_DIR)
            cur_open(&c, name, (r->flags & MPC_F_FRESH) != 0);
        else
            copy_one(&c, r, name, &v);
        p += sizeof *r + (((size_t)r->name_len + 1 + 7) & ~(size_t)7);
    }
    cur_close(&c);
    if (v.len)
        mpc_vflush(&v);
    return 0;
}

/* ---- large files ----------------------------------------------------- */

/* The temporary name of a large file, or "" when it is an O_TMPFILE. */
static const char *big_tmp(const struct mpc_big *b)
{
    return b->rel + strlen(b->rel) + 1;
}

/* Open the large file being written: reopen the walk's O_TMPFILE through
 * /proc, or open the temporary name. Returns a descriptor or -1. */
static int open_big_out(const struct mpc_big *b)
{
    if (b->holder != 0) {
        char proc[64];
        snprintf(proc, sizeof proc, "/proc/%ld/fd/%d", (long)b->holder, b->holder_fd);
        return open(proc, O_WRONLY | O_CLOEXEC);
    }
    const char *name;
    int dir = mpc_open_parent(mpc.dst_fd, big_tmp(b), &name);
    if (dir < 0)
        return -1;
    int fd = openat(dir, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    int err = errno;
    close(dir);
    errno = err;
    return fd;
}

/* Drop a large file that will not be published. */
static void big_drop(struct mpc_big *b)
{
    if (b->holder == 0) {
        const char *name;
        int dir = mpc_open_parent(mpc.dst_fd, big_tmp(b), &name);
        if (dir >= 0) {
            unlinkat(dir, name, 0);
            close(dir);
        }
    }
    atomic_store(&b->done, 1);
}

/* The last range is done: check that the source is still what the walk
 * saw (a file that shrank or grew meanwhile is not copied: its ranges do
 * not fit together), then attributes and name. in: the source, open. */
static void big_finish(struct mpc_big *b, int in)
{
    const struct mpc_meta *m = &b->meta;
    struct stat st;
    if (fstat(in, &st) < 0) {
        mpc_fail(mpc.src, b->rel, NULL, errno);
        big_drop(b);
        return;
    }
    if ((uint64_t)st.st_size != m->size || st.st_mtim.tv_sec != m->times[1].tv_sec ||
        st.st_mtim.tv_nsec != m->times[1].tv_nsec) {
        char why[160];
        snprintf(why, sizeof why,
                 "changed while being copied (%llu bytes when found, %llu now); not copied",
                 (unsigned long long)m->size, (unsigned long long)st.st_size);
        mpc_fail_why(mpc.src, b->rel, NULL, why);
        big_drop(b);
        return;
    }
    const char *name;
    int dir = mpc_open_parent(mpc.dst_fd, b->rel, &name);
    int out = dir < 0 ? -1 : open_big_out(b);
    int rc = out < 0 ? -errno : mpc_attrs_fd(in, out, m, 0600 & ~mpc.umask);
    if (rc == 0) {
        const char *tmp = big_tmp(b);
        const char *tname = strrchr(tmp, '/') ? strrchr(tmp, '/') + 1 : tmp;
        rc = b->holder != 0 ? mpc_publish_tmpfile(dir, out, name)
                            : mpc_publish_named(dir, tname, name, b->fresh);
    }
    if (out >= 0)
        close(out);
    if (dir >= 0)
        close(dir);
    if (rc < 0) {
        mpc_fail(mpc.dst, b->rel, NULL, -rc);
        big_drop(b);
        return;
    }
    atomic_store(&b->done, 1);
    if (rc == 1) {
        atomic_fetch_add_explicit(&mpc_count->skipped, 1, memory_order_relaxed);
    } else {
        atomic_fetch_add_explicit(&mpc_count->files, 1, memory_order_relaxed);
        if (mpc.verbose) {
            struct mpc_vout *v = malloc(sizeof *v);
            if (v) {
                v->len = 0;
                mpc_vline(v, "", b->rel);
                mpc_vflush(v);
                free(v);
            }
        }
    }
}

/* Copy one range. Returns 0, STOPPED or -errno; *why is set when the
 * source is not what the walk saw. */
static int copy_range(const struct mpc_range *rg, int *in, const char **why, bool *src_side)
{
    struct mpc_big *b = rg->big;
    const char *name;
    int dir = mpc_open_parent(mpc.src_fd, b->rel, &name);
    if (dir < 0)
        return -errno;
    struct stat st;
    *in = open_source(dir, name, &b->meta, true, &st, why);
    int err = errno;
    close(dir);
    if (*in < 0)
        return *why ? -ESTALE : -err;
    int out = open_big_out(b);
    if (out < 0) {
        *src_side = false;
        return -errno;
    }
    uint64_t end = rg->offset + rg->len, reached;
    int rc;
    if (b->meta.sparse) {
        rc = copy_extents(*in, out, rg->offset, end, &reached);
    } else {
        off_t off = (off_t)rg->offset;
        struct span s = {&off, rg->len, false, 0};
        rc = copy_data(*in, out, &s);
        reached = (uint64_t)off;
        /* The pre-sized file would keep zeros where the source ended. */
        if (rc == 0 && reached < end)
            *why = "shrank while being copied; not copied";
    }
    if (rc < 0)
        *src_side = !write_error(-rc);
    close(out);
    return rc;
}

int mpc_copy_range(const void *arg, void *result)
{
    (void)result;
    const struct mpc_range *rg = arg;
    struct mpc_big *b = rg->big;
    int in = -1, rc = 0;
    const char *why = NULL;
    bool src_side = true;
    if (atomic_load(&b->failed) == 0 && !mpc_stopping())
        rc = copy_range(rg, &in, &why, &src_side);
    if ((rc < 0 || why || mpc_stopping()) && atomic_exchange(&b->failed, 1) == 0 && rc != STOPPED &&
        !mpc_stopping()) {
        if (why)
            mpc_fail_why(mpc.src, b->rel, NULL, why);
        else
            mpc_fail(src_side ? mpc.src : mpc.dst, b->rel, NULL, -rc);
    }
    if (atomic_fetch_sub(&b->left, 1) == 1) {
        if (atomic_load(&b->failed) || in < 0)
            big_drop(b);
        else
            big_finish(b, in);
    }
    if (in >= 0)
        close(in);
    return 0;
}
