/* walk.c - the parent side of mpcopy: walk SRC, make DST's directories,
 * symlinks and special files, and feed the files to the pool in batches
 * while walking.
 *
 * The parent creates every directory itself, so workers never race on
 * mkdir, and a directory it created is known to be empty, which spares the
 * workers an existence check per file under -n. Batches start small, so
 * the workers begin copying while the walk goes on, and grow to a few
 * hundred files, so the pool's per-task cost is paid rarely.
 *
 * Directories are made with their owner's rwx bits added, so they can be
 * filled; at the end every directory of DST -- new, or there before (a
 * rerun after an interrupted copy) -- gets its source's permission bits,
 * deepest first (fix_dirs). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mpcopy.h"

/* Large files whose O_TMPFILE the walk holds open at most, so a tree of
 * many large files cannot use up our descriptors: past this the walk waits
 * for the oldest work to finish. */
#define MAX_HELD 256

/* A directory still to walk. */
struct todo {
    char *rel;  /* path relative to SRC and DST; "" is the top */
    bool fresh; /* the walk created it in DST */
};

/* A directory whose attributes are set after its contents. */
struct fixup {
    char *rel;
    struct mpc_meta m; /* its source */
    mode_t now;        /* the permission bits it has now */
};

/* Submitted work not yet collected, and the large files it finishes. */
struct flight {
    mp_async *a;
    size_t big_from, big_to; /* bigs[big_from..big_to) */
};

/* The batch being filled and the work in flight. */
struct walker {
    mp_pool *pool;
    char *buf;          /* records of the batch */
    size_t len, cap;    /* bytes used, bytes allocated */
    unsigned nfiles;    /* files in the batch */
    uint64_t data;      /* file bytes in the batch */
    unsigned limit;     /* files per batch now; grows to MPC_BATCH_FILES */
    const char *dir;    /* the directory the next files are in */
    bool dir_fresh;     /* ... and whether the walk created it */
    bool dir_emitted;   /* its DIR record is in the batch */
    struct flight *fly; /* oldest first */
    size_t nfly, capfly;
    size_t maxfly;         /* more than this in flight: wait for the oldest */
    struct mpc_big **bigs; /* large files (NULL once collected) */
    size_t nbig, capbig;
    size_t big_sent;    /* bigs[big_sent..nbig) wait to be submitted */
    uint64_t big_bytes; /* ... and hold this many bytes */
    size_t held;        /* O_TMPFILEs of large files held open */
    struct fixup *fix;
    size_t nfix, capfix;
    struct mpc_vout out; /* -v lines of what the walk itself made */
    dev_t dst_dev;       /* DST's top directory, never walked into */
    ino_t dst_ino;
};

static bool grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t ncap = *cap ? *cap * 2 : 64;
    while (ncap < need)
        ncap *= 2;
    void *p = realloc(*arr, ncap * elem);
    if (p == NULL)
        return false;
    *arr = p;
    *cap = ncap;
    return true;
}

static char *join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (p == NULL)
        return NULL;
    if (a) {
        memcpy(p, dir, a);
        p[a++] = '/';
    }
    memcpy(p + a, name, b + 1);
    return p;
}

/* A large file's work is over: its temporary goes if no range published
 * it (a worker died in the middle, or the run stops), then it is freed. */
static void big_release(struct walker *w, size_t i)
{
    struct mpc_big *b = w->bigs[i];
    if (b == NULL)
        return;
    if (atomic_load(&b->done) == 0) {
        const char *tmp = b->rel + strlen(b->rel) + 1;
        if (b->holder == 0) {
            const char *name;
            int dir = mpc_open_parent(mpc.dst_fd, tmp, &name);
            if (dir >= 0) {
                unlinkat(dir, name, 0);
                close(dir);
            }
        }
        if (!mpc_stopping() && atomic_load(&b->failed) == 0)
            mpc_fail_why(mpc.src, b->rel, NULL, "not copied: its copy was cut short");
    }
    if (b->holder != 0) {
        close(b->holder_fd);
        w->held--;
    }
    mp_shared_free(b);
    w->bigs[i] = NULL;
}

/* Wait for the oldest work in flight and release it. */
static void collect_oldest(struct walker *w)
{
    struct flight f = w->fly[0];
    int rc = mp_async_get(f.a, NULL, MP_FOREVER);
    if (rc != 0 && !mpc_stopping() && f.big_from == f.big_to) {
        /* Tasks report their own failures; this is the pool failing them
         * (a worker that crashed). Its files are not all copied. */
        mpc_msg("copy task failed: %s", mp_strerror(rc));
        atomic_fetch_add(&mpc_count->failed, 1);
    }
    mp_async_free(f.a);
    for (size_t i = f.big_from; i < f.big_to; i++)
        big_release(w, i);
    memmove(w->fly, w->fly + 1, (w->nfly - 1) * sizeof *w->fly);
    w->nfly--;
}

/* Track new work; release finished work from the front and keep the
 * amount in flight bounded (each holds its arguments in shared memory). */
static void track(struct walker *w, mp_async *a, size_t big_from, size_t big_to)
{
    if (a == NULL) {
        mpc_msg("cannot submit work to the pool: %s", strerror(errno));
        atomic_fetch_add(&mpc_count->failed, 1);
        for (size_t i = big_from; i < big_to; i++)
            big_release(w, i);
        return;
    }
    if (!grow((void **)&w->fly, &w->capfly, w->nfly + 1, sizeof *w->fly)) {
        mp_async_wait(a, MP_FOREVER);
        mp_async_free(a);
        for (size_t i = big_from; i < big_to; i++)
            big_release(w, i);
        return;
    }
    w->fly[w->nfly++] = (struct flight){a, big_from, big_to};
    while (w->nfly > 0 && (w->nfly > w->maxfly || mp_async_ready(w->fly[0].a)))
        collect_oldest(w);
}

static void flush(struct walker *w)
{
    if (w->nfiles == 0)
        return;
    mpc_hold("walked");
    if (!mpc_stopping()) {
        memset(w->buf + w->len, 0, sizeof(struct mpc_rec)); /* the end mark */
        size_t size = w->len + sizeof(struct mpc_rec);
        track(w, mp_pool_apply_async(w->pool, mpc_copy_batch, w->buf, size, 0, NULL), 0, 0);
    }
    w->len = 0;
    w->nfiles = 0;
    w->data = 0;
    w->dir_emitted = false;
    if (w->limit < MPC_BATCH_FILES)
        w->limit *= 2;
}

/* Append one record; false with errno when out of memory, or when the
 * name (a directory's path) is too long for a record's 16-bit length. */
static bool put(struct walker *w, int kind, int flags, const struct stat *st, const char *name)
{
    size_t nlen = strlen(name);
    if (nlen > UINT16_MAX) {
        errno = ENAMETOOLONG;
        return false;
    }
    size_t need = sizeof(struct mpc_rec) + ((nlen + 1 + 7) & ~(size_t)7);
    /* Room for this record and the end mark. */
    if (!grow((void **)&w->buf, &w->cap, w->len + need + sizeof(struct mpc_rec), 1)) {
        errno = ENOMEM;
        return false;
    }
    struct mpc_rec *r = (void *)(w->buf + w->len);
    memset(r, 0, need);
    r->kind = (uint8_t)kind;
    r->flags = (uint8_t)flags;
    r->name_len = (uint16_t)nlen;
    if (st) {
        r->mode = st->st_mode;
        r->size = (uint64_t)st->st_size;
        r->dev = (uint64_t)st->st_dev;
        r->ino = (uint64_t)st->st_ino;
        r->uid = st->st_uid;
        r->gid = st->st_gid;
        r->atime_sec = st->st_atim.tv_sec;
        r->atime_nsec = (uint32_t)st->st_atim.tv_nsec;
        r->mtime_sec = st->st_mtim.tv_sec;
        r->mtime_nsec = (uint32_t)st->st_mtim.tv_nsec;
    }
    memcpy(r + 1, name, nlen);
    w->len += need;
    return true;
}

static void add_file(struct walker *w, const char *name, const struct stat *st, bool sparse)
{
    if (!w->dir_emitted) {
        if (!put(w, MPC_REC_DIR, w->dir_fresh ? MPC_F_FRESH : 0, NULL, w->dir)) {
            mpc_fail(mpc.src, w->dir, name, errno);
            return;
        }
        w->dir_emitted = true;
    }
    if (!put(w, MPC_REC_FILE, sparse ? MPC_F_SPARSE : 0, st, name)) {
        mpc_fail(mpc.src, w->dir, name, errno);
        return;
    }
    w->nfiles++;
    w->data += (uint64_t)st->st_size;
    if (w->nfiles >= w->limit || w->data >= MPC_BATCH_DATA || w->len >= MPC_BATCH_BYTES)
        flush(w);
}

/* Submit the ranges of the large files waiting, interleaved (first range
 * of each file, then the second of each, ...) so that workers running at
 * the same time mostly write different files: writes into one file take
 * its inode lock one at a time on most file systems. A lone large file is
 * still spread over every worker. */
static void submit_bigs(struct walker *w)
{
    size_t from = w->big_sent, to = w->nbig, n = 0;
    if (from == to)
        return;
    w->big_sent = to;
    w->big_bytes = 0;
    mpc_hold("walked");
    if (mpc_stopping()) {
        for (size_t f = from; f < to; f++)
            big_release(w, f);
        return;
    }
    for (size_t f = from; f < to; f++)
        n += (size_t)((w->bigs[f]->meta.size + mpc.range - 1) / mpc.range);
    struct mpc_range *rg = malloc(n * sizeof *rg);
    if (rg == NULL) {
        /* Fail them whole: no range will ever finish them. */
        for (size_t f = from; f < to; f++) {
            mpc_fail(mpc.src, w->bigs[f]->rel, NULL, ENOMEM);
            atomic_store(&w->bigs[f]->failed, 1);
            big_release(w, f);
        }
        return;
    }
    size_t k = 0;
    for (uint64_t off = 0; k < n; off += mpc.range) {
        for (size_t f = from; f < to; f++) {
            struct mpc_big *b = w->bigs[f];
            if (off >= b->meta.size)
                continue;
            rg[k].big = b;
            rg[k].offset = off;
            rg[k].len = b->meta.size - off < mpc.range ? b->meta.size - off : mpc.range;
            k++;
        }
    }
    track(w, mp_pool_map_async(w->pool, mpc_copy_range, rg, n, sizeof *rg, 0, 1, NULL), from, to);
    free(rg);
}

/* Make the file a large file's ranges are written into, at full size so
 * the ranges only write into it: an O_TMPFILE that the walk holds open
 * (workers reopen it through /proc; it vanishes if the run dies), or a
 * temporary name. Returns 0 or -errno. */
static int big_create(struct mpc_big *b, int dfd, const char *tmp)
{
    int fd = -1;
    if (mpc.use_tmpfile) {
        fd = openat(dfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
        if (fd < 0 && errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
            return -errno;
    }
    char *t = b->rel + strlen(b->rel) + 1;
    if (fd >= 0) {
        *t = '\0';
        b->holder = mpc.parent;
        b->holder_fd = fd;
    } else {
        mpc_tmp_arm(dfd, tmp); /* until the file is sized and known to big_release */
        fd = openat(dfd, tmp, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) {
            mpc_tmp_disarm();
            return -errno;
        }
        b->holder = 0;
    }
    if (ftruncate(fd, (off_t)b->meta.size) < 0) {
        int err = errno;
        close(fd);
        if (b->holder == 0) {
            unlinkat(dfd, tmp, 0);
            mpc_tmp_disarm();
        }
        return -err;
    }
    if (b->holder == 0) {
        close(fd);
        mpc_tmp_disarm();
    }
    return 0;
}

/* A large file: the walk makes the file it is written into; its ranges go
 * to the pool with those of other large files (submit_bigs). */
static void add_big(struct walker *w, int dfd, const char *name, const struct stat *st, bool sparse)
{
    struct stat dst;
    bool fresh = w->dir_fresh;
    if (mpc.no_clobber && !fresh && fstatat(dfd, name, &dst, AT_SYMLINK_NOFOLLOW) == 0) {
        atomic_fetch_add(&mpc_count->skipped, 1);
        return;
    }
    while (w->held >= MAX_HELD && (w->big_sent < w->nbig || w->nfly > 0)) {
        if (w->big_sent < w->nbig)
            submit_bigs(w);
        else
            collect_oldest(w);
    }
    char tmp[64];
    mpc_tmp_name(tmp, sizeof tmp);
    char *rel = join(w->dir, name);
    char *trel = join(w->dir, tmp);
    struct mpc_big *b = NULL;
    if (rel == NULL || trel == NULL)
        goto out_nomem;
    size_t rl = strlen(rel) + 1, tl = strlen(trel) + 1;
    b = mp_shared_calloc(1, sizeof *b + rl + tl);
    if (b == NULL || !grow((void **)&w->bigs, &w->capbig, w->nbig + 1, sizeof *w->bigs))
        goto out_nomem;
    memcpy(b->rel, rel, rl);
    memcpy(b->rel + rl, trel, tl);
    mpc_meta_from(&b->meta, st);
    b->meta.sparse = sparse;
    b->fresh = fresh;
    int rc = big_create(b, dfd, tmp);
    if (rc < 0) {
        mpc_fail(mpc.dst, w->dir, name, -rc);
        goto out_free;
    }
    uint64_t n = (b->meta.size + mpc.range - 1) / mpc.range;
    atomic_init(&b->left, (uint32_t)n);
    w->bigs[w->nbig++] = b;
    w->held += b->holder != 0;
    w->big_bytes += b->meta.size;
    /* Enough files for every worker to have its own, or enough bytes to
     * keep them busy: send them; else wait for more (or the walk's end). */
    if (w->nbig - w->big_sent >= (size_t)mpc.jobs || w->big_bytes >= ((uint64_t)1 << 30))
        submit_bigs(w);
    free(rel);
    free(trel);
    return;
out_nomem:
    mpc_fail(mpc.src, w->dir, name, ENOMEM);
out_free:
    mp_shared_free(b);
    free(rel);
    free(trel);
}

/* "/proc/self/fd/N/name": the source entry name in the directory sfd, for
 * the calls that take a path only (extended attributes of a symlink). */
static void proc_path(char *buf, size_t cap, int sfd, const char *name)
{
    snprintf(buf, cap, "/proc/self/fd/%d/%s", sfd, name);
}

/* The attributes of an entry the walk made (symlink, special file), and
 * the count and -v line. */
static void made_entry(struct walker *w, int sfd, int dfd, const char *name, const struct stat *st)
{
    if (mpc.preserve || mpc.archive || !S_ISLNK(st->st_mode)) {
        char src[64 + NAME_MAX];
        proc_path(src, sizeof src, sfd, name);
        int rc = mpc_attrs_at(dfd, name, src, st);
        if (rc < 0 && !(S_ISLNK(st->st_mode) && !mpc.archive)) {
            mpc_fail(mpc.dst, w->dir, name, -rc);
            return;
        }
    }
    atomic_fetch_add(&mpc_count->files, 1);
    if (mpc.verbose)
        mpc_vline(&w->out, w->dir, name);
}

/* Make a symlink or a special file with make(dfd, name); when the name is
 * taken, replace it in one step (make under a temporary name, rename) or,
 * with -n, keep it. Returns 0, 1 (kept) or -errno. */
static int make_or_replace(int dfd, const char *name, int (*make)(int, const char *, void *),
                           void *arg)
{
    if (make(dfd, name, arg) == 0)
        return 0;
    int err = errno;
    if (err != EEXIST)
        return -err;
    if (mpc.no_clobber)
        return 1;
    char tmp[64];
    mpc_tmp_name(tmp, sizeof tmp);
    mpc_tmp_arm(dfd, tmp);
    int rc = make(dfd, tmp, arg) < 0 ? -errno : 0;
    if (rc == 0 && renameat(dfd, tmp, dfd, name) < 0) {
        rc = -errno;
        unlinkat(dfd, tmp, 0);
    }
    mpc_tmp_disarm();
    return rc;
}

static int make_link(int dfd, const char *name, void *target)
{
    return symlinkat(target, dfd, name);
}

static int make_node(int dfd, const char *name, void *st)
{
    const struct stat *s = st;
    return mknodat(dfd, name, s->st_mode & (S_IFMT | 0777), s->st_rdev);
}

/* Copy a symlink as a symlink, or a FIFO, socket or device as a new one
 * (as cp -r does): the walk does it, it is a few system calls. */
static void add_other(struct walker *w, int sfd, int dfd, const char *name, const struct stat *st)
{
    char target[PATH_MAX + 1];
    int rc;
    if (S_ISLNK(st->st_mode)) {
        ssize_t n = readlinkat(sfd, name, target, PATH_MAX);
        if (n < 0) {
            mpc_fail(mpc.src, w->dir, name, errno);
            return;
        }
        target[n] = '\0';
        rc = make_or_replace(dfd, name, make_link, target);
    } else {
        rc = make_or_replace(dfd, name, make_node, (void *)st);
    }
    if (rc < 0)
        mpc_fail(mpc.dst, w->dir, name, -rc);
    else if (rc == 1)
        atomic_fetch_add(&mpc_count->skipped, 1);
    else
        made_entry(w, sfd, dfd, name, st);
}

static void add_fixup(struct walker *w, char *rel, const struct stat *st, mode_t now)
{
    if (rel == NULL || !grow((void **)&w->fix, &w->capfix, w->nfix + 1, sizeof *w->fix)) {
        mpc_fail(mpc.dst, rel ? rel : w->dir, NULL, ENOMEM);
        free(rel);
        return;
    }
    struct fixup *f = &w->fix[w->nfix++];
    f->rel = rel;
    mpc_meta_from(&f->m, st);
    f->now = now;
}

/* Make DST's copy of a source directory, or take the one that is there
 * (never a symlink to one: cp -r refuses too). Returns 1 if the walk
 * created it, 0 if it was there, -1 on failure (reported). */
static int add_dir(struct walker *w, int dfd, const char *name, const struct stat *st)
{
    mode_t want = st->st_mode & 07777;
    mode_t mode = (st->st_mode & 0777) | 0700; /* we must be able to fill it */
    mode_t now;
    int made;
    if (mkdirat(dfd, name, mode) == 0) {
        now = mode & ~mpc.umask;
        made = 1;
    } else {
        int err = errno;
        struct stat d;
        if (err != EEXIST || fstatat(dfd, name, &d, AT_SYMLINK_NOFOLLOW) < 0) {
            mpc_fail(mpc.dst, w->dir, name, err);
            return -1;
        }
        if (!S_ISDIR(d.st_mode)) {
            mpc_fail_why(mpc.dst, w->dir, name,
                         S_ISLNK(d.st_mode)
                             ? "cannot overwrite non-directory (a symlink, not followed) with "
                               "directory"
                             : "cannot overwrite non-directory with directory");
            return -1;
        }
        /* There already (a rerun): it may be read-only from the last run
         * (the fix below restores that), or from a run cut short. */
        now = d.st_mode & 07777;
        if ((now & 0700) != 0700) {
            if (fchmodat(dfd, name, now | 0700, AT_SYMLINK_NOFOLLOW) < 0) {
                mpc_fail(mpc.dst, w->dir, name, errno);
                return -1;
            }
            now |= 0700;
        }
        made = 0;
    }
    if (now != want || mpc.preserve || mpc.archive)
        add_fixup(w, join(w->dir, name), st, now);
    return made;
}

/* One entry of a directory being walked. */
static void walk_entry(struct walker *w, struct todo *t, int sfd, int dfd, const char *name,
                       struct todo **stack, size_t *nstack, size_t *capstack)
{
    struct stat st;
    if (fstatat(sfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        mpc_fail(mpc.src, t->rel, name, errno);
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        if (st.st_dev == w->dst_dev && st.st_ino == w->dst_ino)
            return; /* DST itself (checked up front; this guards races) */
        int made = add_dir(w, dfd, name, &st);
        if (made < 0)
            return;
        char *rel = join(t->rel, name);
        if (rel == NULL || !grow((void **)stack, capstack, *nstack + 1, sizeof **stack)) {
            mpc_fail(mpc.src, t->rel, name, ENOMEM);
            free(rel);
            return;
        }
        (*stack)[(*nstack)++] = (struct todo){rel, made == 1};
        return;
    }
    bool reg = S_ISREG(st.st_mode);
    bool sparse = reg && (uint64_t)st.st_blocks * 512 < (uint64_t)st.st_size;
    uint64_t data = !reg ? 0 : sparse ? (uint64_t)st.st_blocks * 512 : (uint64_t)st.st_size;
    atomic_fetch_add_explicit(&mpc_total.files, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&mpc_total.bytes, data, memory_order_relaxed);
    if (mpc.archive && st.st_nlink > 1) {
        char *rel = join(t->rel, name);
        const char *first = rel ? mpc_links_first(&st, rel) : NULL;
        free(rel);
        if (first != NULL)
            return; /* linked to the first copy at the end */
    }
    if (!reg)
        add_other(w, sfd, dfd, name, &st);
    else if ((uint64_t)st.st_size > mpc.range)
        add_big(w, dfd, name, &st, sparse);
    else
        add_file(w, name, &st, sparse);
}

/* Walk one directory: its files go into batches, its subdirectories are
 * created in DST and pushed on the stack. */
static void walk_dir(struct walker *w, struct todo *t, struct todo **stack, size_t *nstack,
                     size_t *capstack)
{
    int sfd = mpc_open_dir(mpc.src_fd, t->rel);
    if (sfd < 0) {
        mpc_fail(mpc.src, t->rel, NULL, errno);
        return;
    }
    int dfd = mpc_open_dir(mpc.dst_fd, t->rel);
    if (dfd < 0) {
        mpc_fail(mpc.dst, t->rel, NULL, errno);
        close(sfd);
        return;
    }
    DIR *d = fdopendir(sfd); /* owns sfd from here; fstatat uses it too */
    if (d == NULL) {
        mpc_fail(mpc.src, t->rel, NULL, errno);
        close(sfd);
        close(dfd);
        return;
    }
    w->dir = t->rel;
    w->dir_fresh = t->fresh;
    w->dir_emitted = false;
    struct dirent *e;
    for (errno = 0; !mpc_stopping() && (e = readdir(d)) != NULL; errno = 0) {
        const char *name = e->d_name;
        if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')))
            continue;
        walk_entry(w, t, sfd, dfd, name, stack, nstack, capstack);
    }
    if (errno != 0)
        mpc_fail(mpc.src, t->rel, NULL, errno);
    /* Records copy the name; nothing keeps t->rel past this call. */
    w->dir = "";
    closedir(d);
    close(dfd);
    if (w->out.len && !mpc_stopping())
        mpc_vflush(&w->out);
}

/* Set the directories' attributes, deepest first, once nothing will be
 * written into them any more. Each is opened without following symlinks:
 * one put in a directory's place since the walk is refused, not followed. */
static void fix_dirs(struct walker *w)
{
    for (size_t i = w->nfix; i-- > 0;) {
        struct fixup *f = &w->fix[i];
        int fd = mpc_open_dir(mpc.dst_fd, f->rel);
        int sfd = -1, rc = 0;
        if (fd < 0)
            rc = -errno;
        else if (mpc.archive && (sfd = mpc_open_dir(mpc.src_fd, f->rel)) < 0)
            rc = -errno;
        else
            rc = mpc_attrs_fd(sfd, fd, &f->m, f->now);
        if (rc < 0)
            mpc_fail(mpc.dst, f->rel, NULL, -rc);
        if (sfd >= 0)
            close(sfd);
        if (fd >= 0)
            close(fd);
        free(f->rel);
    }
    free(w->fix);
}

int mpc_walk(mp_pool *pool, bool dst_created, const struct stat *src_st)
{
    struct walker w = {.pool = pool, .limit = 4, .dir = ""};
    w.maxfly = (size_t)mpc.jobs * 8 + 8;
    struct stat dst;
    if (fstat(mpc.dst_fd, &dst) < 0) {
        mpc_fail(mpc.dst, NULL, NULL, errno);
        return -1;
    }
    w.dst_dev = dst.st_dev;
    w.dst_ino = dst.st_ino;
    /* The top is a copy of SRC like every directory below it. */
    if ((dst.st_mode & 07777) != (src_st->st_mode & 07777) || mpc.preserve || mpc.archive)
        add_fixup(&w, strdup(""), src_st, dst.st_mode & 07777);

    struct todo *stack = NULL;
    size_t nstack = 0, capstack = 0;
    char *top = strdup("");
    if (top == NULL || !grow((void **)&stack, &capstack, 1, sizeof *stack)) {
        mpc_fail(mpc.src, NULL, NULL, ENOMEM);
        free(top);
        return -1;
    }
    stack[nstack++] = (struct todo){top, dst_created};
    while (nstack > 0) {
        struct todo t = stack[--nstack];
        if (!mpc_stopping())
            walk_dir(&w, &t, &stack, &nstack, &capstack);
        free(t.rel);
    }
    submit_bigs(&w);
    flush(&w);
    free(stack);
    atomic_store(&mpc_total.walk_done, true);

    while (w.nfly > 0)
        collect_oldest(&w);
    for (size_t i = 0; i < w.nbig; i++)
        big_release(&w, i);
    free(w.fly);
    free(w.bigs);
    free(w.buf);
    /* Links before the directories' modes and times: linking writes into
     * the directories. */
    mpc_links_make(&w.out);
    fix_dirs(&w);
    if (w.out.len && !mpc_stopping())
        mpc_vflush(&w.out);
    return 0;
}
