/* copy.c - the worker side of mpcopy: copy the files of a batch, or one
 * range of a large file, never leaving a partly written file under its
 * final name. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mpcopy.h"

/* How data is moved. A worker falls back for good once a way is missing
 * or cannot join these file systems (ENOSYS, EXDEV, EOPNOTSUPP); other
 * refusals (EINVAL, EPERM, ...) may belong to one file and make only that
 * file fall back. */
enum { WAY_CFR, WAY_SENDFILE, WAY_RW };
static int way = WAY_CFR;

void mpc_msg(const char *fmt, ...)
{
    char buf[4096 + 64];
    size_t n = 0;
    if (mpc.bar)
        n = (size_t)snprintf(buf, sizeof buf, "\r\033[K");
    n += (size_t)snprintf(buf + n, sizeof buf - n, "mpcopy: ");
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + n, sizeof buf - n - 1, fmt, ap);
    va_end(ap);
    n += k < 0 ? 0 : (size_t)k;
    if (n > sizeof buf - 2)
        n = sizeof buf - 2;
    buf[n++] = '\n';
    /* One write, so lines of different workers never mix. */
    ssize_t w = write(STDERR_FILENO, buf, n);
    (void)w;
}

void mpc_fail(const char *root, const char *rel, const char *name, int err)
{
    bool r = rel != NULL && *rel != '\0';
    bool nm = name != NULL && *name != '\0';
    mpc_msg("%s%s%s%s%s: %s", root, r ? "/" : "", r ? rel : "", nm ? "/" : "", nm ? name : "",
            strerror(err));
    atomic_fetch_add_explicit(&mpc_count->failed, 1, memory_order_relaxed);
}

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

/* Copy with read/write (the last resort). */
static int copy_rw(int in, int out, off_t *off, uint64_t len, bool to_eof)
{
    static char *buf;
    enum { BUF = 256 * 1024 };
    if (buf == NULL && (buf = malloc(BUF)) == NULL)
        return -ENOMEM;
    while (to_eof || len > 0) {
        size_t want = (!to_eof && len < BUF) ? (size_t)len : BUF;
        ssize_t r = off ? pread(in, buf, want, *off) : read(in, buf, want);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            break;
        for (ssize_t done = 0; done < r;) {
            ssize_t w = off ? pwrite(out, buf + done, (size_t)(r - done), *off + done)
                            : write(out, buf + done, (size_t)(r - done));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                return -errno;
            done += w;
        }
        if (off)
            *off += r;
        len -= (uint64_t)r < len ? (uint64_t)r : len;
        add_bytes((uint64_t)r);
    }
    return 0;
}

/* Copy len bytes (or up to end of file when to_eof) from in to out, at
 * *off in both files when off is given, else at their file positions.
 * copy_file_range first (the kernel copies, or shares the blocks), then
 * sendfile, then read/write. Returns 0 or -errno. */
static int copy_data(int in, int out, off_t *off, uint64_t len, bool to_eof)
{
    const uint64_t step = (uint64_t)8 << 20; /* progress every 8 MiB */
    bool moved = false;
    int w = way;
    while (w == WAY_CFR && (to_eof || len > 0)) {
        size_t want = (!to_eof && len < step) ? (size_t)len : (size_t)step;
        loff_t oi = off ? *off : 0, oo = oi;
        ssize_t r = copy_file_range(in, off ? &oi : NULL, out, off ? &oo : NULL, want, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            if (!moved && unsupported(errno)) {
                w = WAY_SENDFILE;
                if (unsupported_for_good(errno))
                    way = w;
                break;
            }
            return -errno;
        }
        if (r == 0) {
            if (!moved && to_eof && off == NULL) {
                /* Zero at the start may be a pseudo file (/proc) whose
                 * size reads as 0: let read/write have a look. */
                return copy_rw(in, out, off, len, to_eof);
            }
            return 0;
        }
        moved = true;
        if (off)
            *off += r;
        len -= (uint64_t)r < len ? (uint64_t)r : len;
        add_bytes((uint64_t)r);
    }
    if (w == WAY_CFR)
        return 0;
    while (w == WAY_SENDFILE && (to_eof || len > 0)) {
        size_t want = (!to_eof && len < step) ? (size_t)len : (size_t)step;
        if (off && lseek(out, *off, SEEK_SET) < 0)
            return -errno;
        ssize_t r = sendfile(out, in, off, want);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            if (!moved && unsupported(errno)) {
                w = WAY_RW;
                if (unsupported_for_good(errno))
                    way = w;
                break;
            }
            return -errno;
        }
        if (r == 0)
            return 0;
        moved = true;
        len -= (uint64_t)r < len ? (uint64_t)r : len;
        add_bytes((uint64_t)r);
    }
    if (w == WAY_SENDFILE)
        return 0;
    return copy_rw(in, out, off, len, to_eof);
}

/* Errors that belong to the destination rather than the source. */
static bool write_error(int err)
{
    return err == ENOSPC || err == EDQUOT || err == EFBIG || err == EROFS;
}

/* Set the permission bits the kernel's umask took away (and the special
 * bits, which creation never sets) and, with -p, the times. */
static int finish_attrs(int fd, mode_t mode, const struct timespec times[2])
{
    mode &= 07777;
    if (((mode & 0777) & ~mpc.umask) != mode && fchmod(fd, mode) < 0)
        return -errno;
    if (mpc.preserve && futimens(fd, times) < 0)
        return -errno;
    return 0;
}

/* Give the finished temporary file `tmp` (in dir) its final name. With
 * -n an existing name is kept: returns 1 (skipped). Returns 0 or -errno. */
static int publish_named(int dir, const char *tmp, const char *name, bool fresh)
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

/* Give an O_TMPFILE file its name. Returns 0, 1 (kept by -n) or -errno. */
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

static int publish_tmpfile(int dir, int fd, const char *name)
{
    int rc = link_fd(fd, dir, name);
    if (rc != -EEXIST)
        return rc;
    if (mpc.no_clobber)
        return 1;
    /* Replace the existing file in one step: link under a temporary
     * name, then rename over. */
    char tmp[64];
    mpc_tmp_name(tmp, sizeof tmp);
    if ((rc = link_fd(fd, dir, tmp)) < 0)
        return rc;
    if (renameat(dir, tmp, dir, name) < 0) {
        int err = errno;
        unlinkat(dir, tmp, 0);
        return -err;
    }
    return 0;
}

/* The worker's view of the batch's current directory. */
struct cur {
    const char *rel; /* relative path in SRC and DST */
    bool fresh;      /* created by the walk: its names are all free */
    int sfd, dfd;    /* open directories, or -1 */
    int err;         /* could not open them: every file in it fails */
};

/* -v output of a batch, written in one go. */
struct vout {
    char buf[16384];
    size_t len;
};

static void vflush(struct vout *v)
{
    for (size_t done = 0; done < v->len;) {
        ssize_t w = write(STDOUT_FILENO, v->buf + done, v->len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    v->len = 0;
}

static void vline(struct vout *v, const char *rel, const char *name)
{
    size_t need = strlen(rel) + strlen(name) + 3;
    if (v->len + need > sizeof v->buf)
        vflush(v);
    if (need > sizeof v->buf)
        return;
    v->len += (size_t)snprintf(v->buf + v->len, sizeof v->buf - v->len, "%s%s%s\n", rel,
                               *rel ? "/" : "", name);
}

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
    const char *p = *rel ? rel : ".";
    int fl = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
    if ((c->sfd = openat(mpc.src_fd, p, fl)) < 0) {
        c->err = errno;
        mpc_fail(mpc.src, rel, NULL, c->err);
    } else if ((c->dfd = openat(mpc.dst_fd, p, fl)) < 0) {
        c->err = errno;
        mpc_fail(mpc.dst, rel, NULL, c->err);
    }
}

/* Copy one file of the batch. */
static void copy_one(struct cur *c, const struct mpc_rec *r, const char *name, struct vout *v)
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
    int in = openat(c->sfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0) {
        mpc_fail(mpc.src, c->rel, name, errno);
        return;
    }
    char tmp[64];
    int out = -1;
    mode_t mode = (mode_t)r->mode;
    bool unnamed = mpc.use_tmpfile;
    if (unnamed) {
        out = openat(c->dfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, mode & 0777);
        /* A directory on another file system (a mount point inside DST)
         * may not have O_TMPFILE: a temporary name does the same. */
        if (out < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL))
            unnamed = false;
    }
    if (!unnamed) {
        mpc_tmp_name(tmp, sizeof tmp);
        out = openat(c->dfd, tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, mode & 0777);
    }
    if (out < 0) {
        mpc_fail(mpc.dst, c->rel, name, errno);
        close(in);
        return;
    }
    struct timespec times[2] = {{(time_t)r->atime_sec, (long)r->atime_nsec},
                                {(time_t)r->mtime_sec, (long)r->mtime_nsec}};
    /* To the end of the file, not the size the walk saw: a file that grew
     * since is copied whole, as cp does. */
    int rc = copy_data(in, out, NULL, 0, true);
    bool src_side = rc < 0 && !write_error(-rc);
    if (rc == 0)
        rc = finish_attrs(out, mode, times);
    if (rc == 0)
        rc = unnamed ? publish_tmpfile(c->dfd, out, name)
                     : publish_named(c->dfd, tmp, name, c->fresh);
    if (rc < 0 && !unnamed)
        unlinkat(c->dfd, tmp, 0);
    close(out);
    close(in);
    if (rc < 0) {
        mpc_fail(src_side ? mpc.src : mpc.dst, c->rel, name, -rc);
    } else if (rc == 1) {
        atomic_fetch_add_explicit(&mpc_count->skipped, 1, memory_order_relaxed);
    } else {
        atomic_fetch_add_explicit(&mpc_count->files, 1, memory_order_relaxed);
        if (mpc.verbose)
            vline(v, c->rel, name);
    }
}

int mpc_copy_batch(const void *arg, void *result)
{
    (void)result;
    const char *p = arg;
    struct cur c = {.rel = "", .sfd = -1, .dfd = -1, .err = EINVAL};
    static struct vout v; /* static: 16 KiB is a lot for a worker's stack */
    v.len = 0;
    for (;;) {
        const struct mpc_rec *r = (const void *)p;
        if (r->kind == 0)
            break;
        const char *name = p + sizeof *r;
        if (r->kind == MPC_REC_DIR)
            cur_open(&c, name, r->fresh);
        else
            copy_one(&c, r, name, &v);
        p += sizeof *r + (((size_t)r->name_len + 1 + 7) & ~(size_t)7);
    }
    cur_close(&c);
    if (v.len)
        vflush(&v);
    return 0;
}

int mpc_copy_range(const void *arg, void *result)
{
    (void)result;
    const struct mpc_range *rg = arg;
    struct mpc_big *b = rg->big;
    const char *rel = b->rel;
    const char *tmp = rel + strlen(rel) + 1;
    int err = 0;
    bool src_side = true;
    if (atomic_load(&b->failed) == 0) {
        int in = openat(mpc.src_fd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (in < 0) {
            err = errno;
        } else {
            int out = openat(mpc.dst_fd, tmp, O_WRONLY | O_CLOEXEC);
            if (out < 0) {
                err = errno;
                src_side = false;
            } else {
                off_t off = (off_t)rg->offset;
                int rc = copy_data(in, out, &off, rg->len, false);
                if (rc < 0) {
                    err = -rc;
                    src_side = !write_error(err);
                }
                close(out);
            }
            close(in);
        }
    }
    if (err && atomic_exchange(&b->failed, 1) == 0)
        mpc_fail(src_side ? mpc.src : mpc.dst, rel, NULL, err);
    if (atomic_fetch_sub(&b->left, 1) != 1)
        return 0;

    /* The last range: give the file its attributes and its name. */
    if (atomic_load(&b->failed)) {
        unlinkat(mpc.dst_fd, tmp, 0);
        return 0;
    }
    int rc = 0;
    int fd = openat(mpc.dst_fd, tmp, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
    } else {
        /* Created 0600 by the walk: always set the real bits. */
        if (fchmod(fd, (mode_t)b->mode & 07777) < 0)
            rc = -errno;
        else if (mpc.preserve && futimens(fd, b->times) < 0)
            rc = -errno;
        close(fd);
    }
    if (rc == 0) {
        /* rel and tmp share their directory: rename inside it. */
        const char *slash = strrchr(rel, '/');
        int dir = mpc.dst_fd;
        const char *name = rel;
        char dpath[4096];
        if (slash) {
            size_t n = (size_t)(slash - rel);
            if (n >= sizeof dpath)
                n = sizeof dpath - 1;
            memcpy(dpath, rel, n);
            dpath[n] = '\0';
            dir = openat(mpc.dst_fd, dpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            name = slash + 1;
        }
        const char *tname = strrchr(tmp, '/') ? strrchr(tmp, '/') + 1 : tmp;
        if (dir < 0)
            rc = -errno;
        else
            rc = publish_named(dir, tname, name, b->fresh);
        if (dir >= 0 && dir != mpc.dst_fd)
            close(dir);
    }
    if (rc < 0) {
        unlinkat(mpc.dst_fd, tmp, 0);
        mpc_fail(mpc.dst, rel, NULL, -rc);
    } else if (rc == 1) {
        atomic_fetch_add_explicit(&mpc_count->skipped, 1, memory_order_relaxed);
    } else {
        atomic_fetch_add_explicit(&mpc_count->files, 1, memory_order_relaxed);
        if (mpc.verbose) {
            struct vout *v = malloc(sizeof *v);
            if (v) {
                v->len = 0;
                vline(v, "", rel);
                vflush(v);
                free(v);
            }
        }
    }
    return 0;
}
