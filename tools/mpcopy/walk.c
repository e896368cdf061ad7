/* walk.c - the parent side of mpcopy: walk SRC, make DST's directories and
 * symlinks, and feed the files to the pool in batches while walking.
 *
 * The parent creates every directory itself, so workers never race on
 * mkdir, and a directory it created is known to be empty, which spares the
 * workers an existence check per file under -n. Batches start small, so
 * the workers begin copying while the walk goes on, and grow to a few
 * hundred files, so the pool's per-task cost is paid rarely. */
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

/* A directory still to walk. */
struct todo {
    char *rel;  /* path relative to SRC and DST; "" is the top */
    bool fresh; /* the walk created it in DST */
};

/* A directory whose mode (and times, with -p) is set after its contents. */
struct fixup {
    char *rel;
    mode_t mode;
    struct timespec times[2];
};

/* The batch being filled and the work in flight. */
struct walker {
    mp_pool *pool;
    char *buf;        /* records of the batch */
    size_t len, cap;  /* bytes used, bytes allocated */
    unsigned nfiles;  /* files in the batch */
    uint64_t data;    /* file bytes in the batch */
    unsigned limit;   /* files per batch now; grows to MPC_BATCH_FILES */
    const char *dir;  /* the directory the next files are in */
    bool dir_fresh;   /* ... and whether the walk created it */
    bool dir_emitted; /* its DIR record is in the batch */
    mp_async **fly;   /* submitted work not yet collected, oldest first */
    size_t nfly, capfly;
    size_t maxfly;         /* more than this in flight: wait for the oldest */
    struct mpc_big **bigs; /* large-file records to free at the end */
    size_t nbig, capbig;
    size_t big_sent;    /* bigs[big_sent..nbig) wait to be submitted */
    uint64_t big_bytes; /* ... and hold this many bytes */
    struct fixup *fix;
    size_t nfix, capfix;
    dev_t dst_dev; /* DST's top directory, never walked into */
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

/* Wait for the oldest work in flight and release it. */
static void collect_oldest(struct walker *w)
{
    mp_async *a = w->fly[0];
    int rc = mp_async_get(a, NULL, MP_FOREVER);
    if (rc != 0) {
        /* Tasks report their own failures; this is the pool failing them
         * (a worker that crashed). Its files are not all copied. */
        mpc_msg("copy task failed: %s", mp_strerror(rc));
        atomic_fetch_add(&mpc_count->failed, 1);
    }
    mp_async_free(a);
    memmove(w->fly, w->fly + 1, (w->nfly - 1) * sizeof *w->fly);
    w->nfly--;
}

/* Track new work; release finished work from the front and keep the
 * amount in flight bounded (each holds its arguments in shared memory). */
static void track(struct walker *w, mp_async *a)
{
    if (a == NULL) {
        mpc_msg("cannot submit work to the pool: %s", strerror(errno));
        atomic_fetch_add(&mpc_count->failed, 1);
        return;
    }
    if (!grow((void **)&w->fly, &w->capfly, w->nfly + 1, sizeof *w->fly)) {
        mp_async_wait(a, MP_FOREVER);
        mp_async_free(a);
        return;
    }
    w->fly[w->nfly++] = a;
    while (w->nfly > 0 && (w->nfly > w->maxfly || mp_async_ready(w->fly[0])))
        collect_oldest(w);
}

static void flush(struct walker *w)
{
    if (w->nfiles == 0)
        return;
    memset(w->buf + w->len, 0, sizeof(struct mpc_rec)); /* the end mark */
    size_t size = w->len + sizeof(struct mpc_rec);
    track(w, mp_pool_apply_async(w->pool, mpc_copy_batch, w->buf, size, 0, NULL));
    w->len = 0;
    w->nfiles = 0;
    w->data = 0;
    w->dir_emitted = false;
    if (w->limit < MPC_BATCH_FILES)
        w->limit *= 2;
}

/* Append one record; false when out of memory. */
static bool put(struct walker *w, int kind, bool fresh, const struct stat *st, const char *name)
{
    size_t nlen = strlen(name);
    size_t need = sizeof(struct mpc_rec) + ((nlen + 1 + 7) & ~(size_t)7);
    /* Room for this record and the end mark. */
    if (!grow((void **)&w->buf, &w->cap, w->len + need + sizeof(struct mpc_rec), 1))
        return false;
    struct mpc_rec *r = (void *)(w->buf + w->len);
    memset(r, 0, need);
    r->kind = (uint8_t)kind;
    r->fresh = fresh;
    r->name_len = (uint16_t)nlen;
    if (st) {
        r->mode = st->st_mode;
        r->size = (uint64_t)st->st_size;
        r->atime_sec = st->st_atim.tv_sec;
        r->atime_nsec = st->st_atim.tv_nsec;
        r->mtime_sec = st->st_mtim.tv_sec;
        r->mtime_nsec = st->st_mtim.tv_nsec;
    }
    memcpy(r + 1, name, nlen);
    w->len += need;
    return true;
}

static void add_file(struct walker *w, const char *name, const struct stat *st)
{
    if (!w->dir_emitted) {
        if (!put(w, MPC_REC_DIR, w->dir_fresh, NULL, w->dir)) {
            mpc_fail(mpc.src, w->dir, name, ENOMEM);
            return;
        }
        w->dir_emitted = true;
    }
    if (!put(w, MPC_REC_FILE, false, st, name)) {
        mpc_fail(mpc.src, w->dir, name, ENOMEM);
        return;
    }
    w->nfiles++;
    w->data += (uint64_t)st->st_size;
    if (w->nfiles >= w->limit || w->data >= MPC_BATCH_DATA || w->len >= MPC_BATCH_BYTES)
        flush(w);
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

/* Submit the ranges of the large files waiting, interleaved (first range
 * of each file, then the second of each, ...) so that workers running at
 * the same time mostly write different files: writes into one file take
 * its inode lock one at a time on most file systems. A lone large file is
 * still spread over every worker. */
static void submit_bigs(struct walker *w)
{
    size_t nfiles = w->nbig - w->big_sent, n = 0;
    if (nfiles == 0)
        return;
    for (size_t f = w->big_sent; f < w->nbig; f++)
        n += (size_t)((w->bigs[f]->size + MPC_RANGE - 1) / MPC_RANGE);
    struct mpc_range *rg = malloc(n * sizeof *rg);
    if (rg == NULL) {
        /* Fail them whole: no range will ever finish them. */
        for (size_t f = w->big_sent; f < w->nbig; f++) {
            const char *rel = w->bigs[f]->rel;
            unlinkat(mpc.dst_fd, rel + strlen(rel) + 1, 0);
            mpc_fail(mpc.src, rel, NULL, ENOMEM);
        }
        w->big_sent = w->nbig;
        w->big_bytes = 0;
        return;
    }
    size_t k = 0;
    for (uint64_t off = 0; k < n; off += MPC_RANGE) {
        for (size_t f = w->big_sent; f < w->nbig; f++) {
            struct mpc_big *b = w->bigs[f];
            if (off >= b->size)
                continue;
            rg[k].big = b;
            rg[k].offset = off;
            rg[k].len = b->size - off < MPC_RANGE ? b->size - off : MPC_RANGE;
            k++;
        }
    }
    w->big_sent = w->nbig;
    w->big_bytes = 0;
    track(w, mp_pool_map_async(w->pool, mpc_copy_range, rg, n, sizeof *rg, 0, 1, NULL));
    free(rg);
}

/* A large file: the walk makes its temporary file at full size; its
 * ranges go to the pool with those of other large files (submit_bigs). */
static void add_big(struct walker *w, int dfd, const char *name, const struct stat *st)
{
    struct stat dst;
    bool fresh = w->dir_fresh;
    if (mpc.no_clobber && !fresh && fstatat(dfd, name, &dst, AT_SYMLINK_NOFOLLOW) == 0) {
        atomic_fetch_add(&mpc_count->skipped, 1);
        return;
    }
    char tmp[64];
    mpc_tmp_name(tmp, sizeof tmp);
    char *rel = join(w->dir, name);
    char *trel = join(w->dir, tmp);
    struct mpc_big *b = NULL;
    if (rel == NULL || trel == NULL)
        goto out_nomem;
    size_t rl = strlen(rel) + 1, tl = strlen(trel) + 1;
    b = mp_shared_malloc(sizeof *b + rl + tl);
    if (b == NULL || !grow((void **)&w->bigs, &w->capbig, w->nbig + 1, sizeof *w->bigs))
        goto out_nomem;
    int fd = openat(dfd, tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0) {
        mpc_fail(mpc.dst, w->dir, name, errno);
        goto out_free;
    }
    /* Full size now: the ranges then only write into the file. */
    if (ftruncate(fd, st->st_size) < 0) {
        mpc_fail(mpc.dst, w->dir, name, errno);
        close(fd);
        unlinkat(dfd, tmp, 0);
        goto out_free;
    }
    close(fd);
    uint64_t n = ((uint64_t)st->st_size + MPC_RANGE - 1) / MPC_RANGE;
    atomic_init(&b->left, (uint32_t)n);
    atomic_init(&b->failed, 0);
    b->mode = st->st_mode;
    b->fresh = fresh;
    b->size = (uint64_t)st->st_size;
    b->times[0] = st->st_atim;
    b->times[1] = st->st_mtim;
    memcpy(b->rel, rel, rl);
    memcpy(b->rel + rl, trel, tl);
    w->bigs[w->nbig++] = b;
    w->big_bytes += b->size;
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

/* Copy a symlink as a symlink (the walk does it: it is two system calls). */
static void add_link(struct walker *w, int sfd, int dfd, const char *name, const struct stat *st)
{
    char target[PATH_MAX + 1];
    ssize_t n = readlinkat(sfd, name, target, PATH_MAX);
    if (n < 0) {
        mpc_fail(mpc.src, w->dir, name, errno);
        return;
    }
    target[n] = '\0';
    if (symlinkat(target, dfd, name) < 0) {
        int err = errno;
        if (err == EEXIST && mpc.no_clobber) {
            atomic_fetch_add(&mpc_count->skipped, 1);
            return;
        }
        char tmp[64];
        mpc_tmp_name(tmp, sizeof tmp);
        if (err != EEXIST || symlinkat(target, dfd, tmp) < 0) {
            mpc_fail(mpc.dst, w->dir, name, err == EEXIST ? errno : err);
            return;
        }
        if (renameat(dfd, tmp, dfd, name) < 0) {
            mpc_fail(mpc.dst, w->dir, name, errno);
            unlinkat(dfd, tmp, 0);
            return;
        }
    }
    if (mpc.preserve) {
        struct timespec t[2] = {st->st_atim, st->st_mtim};
        utimensat(dfd, name, t, AT_SYMLINK_NOFOLLOW); /* best effort, as cp -p */
    }
    atomic_fetch_add(&mpc_count->files, 1);
    if (mpc.verbose)
        printf("%s%s%s\n", w->dir, *w->dir ? "/" : "", name);
}

/* Make DST's copy of a source directory. Returns 1 if the walk created
 * it, 0 if it was there, -1 on failure (reported). */
static int add_dir(struct walker *w, int dfd, const char *name, const struct stat *st)
{
    mode_t mode = (st->st_mode & 0777) | 0700; /* we must be able to fill it */
    if (mkdirat(dfd, name, mode) == 0) {
        mode_t made = mode & ~mpc.umask;
        if (mpc.preserve || made != (st->st_mode & 07777)) {
            char *rel = join(w->dir, name);
            if (rel && grow((void **)&w->fix, &w->capfix, w->nfix + 1, sizeof *w->fix)) {
                w->fix[w->nfix++] =
                    (struct fixup){rel, st->st_mode & 07777, {st->st_atim, st->st_mtim}};
            } else {
                free(rel);
            }
        }
        return 1;
    }
    int err = errno;
    struct stat d;
    if (err == EEXIST && fstatat(dfd, name, &d, 0) == 0 && S_ISDIR(d.st_mode)) {
        if (mpc.preserve) {
            char *rel = join(w->dir, name);
            if (rel && grow((void **)&w->fix, &w->capfix, w->nfix + 1, sizeof *w->fix))
                w->fix[w->nfix++] =
                    (struct fixup){rel, st->st_mode & 07777, {st->st_atim, st->st_mtim}};
            else
                free(rel);
        }
        return 0;
    }
    mpc_fail(mpc.dst, w->dir, name, err == EEXIST ? ENOTDIR : err);
    return -1;
}

/* Walk one directory: its files go into batches, its subdirectories are
 * created in DST and pushed on the stack. */
static void walk_dir(struct walker *w, struct todo *t, struct todo **stack, size_t *nstack,
                     size_t *capstack)
{
    const char *p = *t->rel ? t->rel : ".";
    int sfd = openat(mpc.src_fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sfd < 0) {
        mpc_fail(mpc.src, t->rel, NULL, errno);
        return;
    }
    int dfd = openat(mpc.dst_fd, p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        mpc_fail(mpc.dst, t->rel, NULL, errno);
        close(sfd);
        return;
    }
    DIR *d = fdopendir(sfd);
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
    for (errno = 0; (e = readdir(d)) != NULL; errno = 0) {
        const char *name = e->d_name;
        if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')))
            continue;
        struct stat st;
        if (fstatat(sfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            mpc_fail(mpc.src, t->rel, name, errno);
            continue;
        }
        if (S_ISREG(st.st_mode)) {
            atomic_fetch_add_explicit(&mpc_total.files, 1, memory_order_relaxed);
            atomic_fetch_add_explicit(&mpc_total.bytes, (uint64_t)st.st_size, memory_order_relaxed);
            if ((uint64_t)st.st_size > MPC_RANGE)
                add_big(w, dfd, name, &st);
            else
                add_file(w, name, &st);
        } else if (S_ISDIR(st.st_mode)) {
            if (st.st_dev == w->dst_dev && st.st_ino == w->dst_ino)
                continue; /* DST itself (checked up front; this guards races) */
            int made = add_dir(w, dfd, name, &st);
            char *rel = made < 0 ? NULL : join(t->rel, name);
            if (made < 0)
                continue;
            if (rel == NULL || !grow((void **)stack, capstack, *nstack + 1, sizeof **stack)) {
                mpc_fail(mpc.src, t->rel, name, ENOMEM);
                free(rel);
                continue;
            }
            (*stack)[(*nstack)++] = (struct todo){rel, made == 1};
        } else if (S_ISLNK(st.st_mode)) {
            atomic_fetch_add_explicit(&mpc_total.files, 1, memory_order_relaxed);
            add_link(w, sfd, dfd, name, &st);
        } else {
            mpc_msg("%s/%s%s%s: not a regular file, directory or symlink; skipped", mpc.src, t->rel,
                    *t->rel ? "/" : "", name);
            atomic_fetch_add(&mpc_count->failed, 1);
        }
    }
    if (errno != 0)
        mpc_fail(mpc.src, t->rel, NULL, errno);
    /* Records copy the name; nothing keeps t->rel past this call. */
    w->dir = "";
    closedir(d);
    close(dfd);
}

/* Set the directories' modes and times, deepest first, once nothing will
 * be written into them any more. */
static void fix_dirs(struct walker *w)
{
    for (size_t i = w->nfix; i-- > 0;) {
        struct fixup *f = &w->fix[i];
        const char *p = *f->rel ? f->rel : ".";
        if (fchmodat(mpc.dst_fd, p, f->mode, 0) < 0)
            mpc_fail(mpc.dst, f->rel, NULL, errno);
        if (mpc.preserve && utimensat(mpc.dst_fd, p, f->times, 0) < 0)
            mpc_fail(mpc.dst, f->rel, NULL, errno);
        free(f->rel);
    }
    free(w->fix);
}

int mpc_walk(mp_pool *pool, bool dst_created, const struct stat *src_st)
{
    struct walker w = {.pool = pool, .limit = 4, .dir = ""};
    w.maxfly = (size_t)mpc.jobs * 8 + 8;
    struct stat dst;
    if (fstat(mpc.dst_fd, &dst) == 0) {
        w.dst_dev = dst.st_dev;
        w.dst_ino = dst.st_ino;
    }
    /* The top: DST takes SRC's mode (and times) when the walk made it. */
    if (dst_created || mpc.preserve) {
        char *rel = strdup("");
        if (rel && grow((void **)&w.fix, &w.capfix, 1, sizeof *w.fix))
            w.fix[w.nfix++] =
                (struct fixup){rel, src_st->st_mode & 07777, {src_st->st_atim, src_st->st_mtim}};
        else
            free(rel);
    }

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
        walk_dir(&w, &t, &stack, &nstack, &capstack);
        free(t.rel);
    }
    submit_bigs(&w);
    flush(&w);
    free(stack);
    atomic_store(&mpc_total.walk_done, true);

    while (w.nfly > 0)
        collect_oldest(&w);
    free(w.fly);
    for (size_t i = 0; i < w.nbig; i++)
        mp_shared_free(w.bigs[i]);
    free(w.bigs);
    free(w.buf);
    fix_dirs(&w);
    return 0;
}
