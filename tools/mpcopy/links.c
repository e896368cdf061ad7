/* links.c - with -a, hard links stay hard links, as cp -a keeps them.
 *
 * The walk remembers each source inode with more than one link under the
 * first name it met it by (that name is copied as usual). Every later name
 * is linked to the first copy at the end, once every copy is finished: a
 * worker may still be writing the first one while the walk goes on. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpcopy.h"

/* Open addressing on (dev, ino); rel NULL marks a free slot. */
struct seen {
    uint64_t dev, ino;
    char *rel; /* the first name, relative to SRC and DST */
};

struct later {
    const char *first; /* points into the table */
    char *rel;         /* the name to link */
};

static struct seen *tab;
static size_t cap, used;
static struct later *later;
static size_t nlater, caplater;

static size_t slot(uint64_t dev, uint64_t ino, size_t mask)
{
    uint64_t h = (ino * 0x9e3779b97f4a7c15ull) ^ (dev * 0xc2b2ae3d27d4eb4full);
    return (size_t)(h >> 17) & mask;
}

static bool grow_table(void)
{
    size_t ncap = cap ? cap * 2 : 1024;
    struct seen *n = calloc(ncap, sizeof *n);
    if (n == NULL)
        return false;
    for (size_t i = 0; i < cap; i++) {
        if (tab[i].rel == NULL)
            continue;
        size_t k = slot(tab[i].dev, tab[i].ino, ncap - 1);
        while (n[k].rel != NULL)
            k = (k + 1) & (ncap - 1);
        n[k] = tab[i];
    }
    free(tab);
    tab = n;
    cap = ncap;
    return true;
}

const char *mpc_links_first(const struct stat *st, const char *rel)
{
    if (used * 2 >= cap && !grow_table())
        return NULL; /* out of memory: copy it as a file of its own */
    size_t k = slot(st->st_dev, st->st_ino, cap - 1);
    for (; tab[k].rel != NULL; k = (k + 1) & (cap - 1)) {
        if (tab[k].dev != (uint64_t)st->st_dev || tab[k].ino != (uint64_t)st->st_ino)
            continue;
        if (nlater == caplater) {
            size_t nc = caplater ? caplater * 2 : 64;
            struct later *n = realloc(later, nc * sizeof *n);
            if (n == NULL)
                return NULL;
            later = n;
            caplater = nc;
        }
        char *r = strdup(rel);
        if (r == NULL)
            return NULL;
        later[nlater++] = (struct later){tab[k].rel, r};
        return tab[k].rel;
    }
    char *r = strdup(rel);
    if (r == NULL)
        return NULL;
    tab[k] = (struct seen){st->st_dev, st->st_ino, r};
    used++;
    return NULL;
}

/* Link first to rel (both relative to DST, no symlink followed on the
 * way). Returns 0, 1 (kept by -n) or -errno. */
static int link_one(const char *first, const char *rel)
{
    const char *fname, *name;
    int fdir = mpc_open_parent(mpc.dst_fd, first, &fname);
    if (fdir < 0)
        return -errno;
    int dir = mpc_open_parent(mpc.dst_fd, rel, &name);
    int rc = 0;
    if (dir < 0) {
        rc = -errno;
    } else if (linkat(fdir, fname, dir, name, 0) < 0) {
        rc = -errno;
        if (rc == -EEXIST && mpc.no_clobber) {
            rc = 1;
        } else if (rc == -EEXIST) {
            /* Replace in one step: link under a temporary name, rename. */
            char tmp[64];
            mpc_tmp_name(tmp, sizeof tmp);
            mpc_tmp_arm(dir, tmp);
            rc = linkat(fdir, fname, dir, tmp, 0) < 0 ? -errno : 0;
            if (rc == 0 && renameat(dir, tmp, dir, name) < 0) {
                rc = -errno;
                unlinkat(dir, tmp, 0);
            }
            mpc_tmp_disarm();
        }
    }
    if (dir >= 0)
        close(dir);
    close(fdir);
    return rc;
}

void mpc_links_make(struct mpc_vout *v)
{
    for (size_t i = 0; i < nlater; i++) {
        if (!mpc_stopping()) {
            int rc = link_one(later[i].first, later[i].rel);
            if (rc < 0) {
                mpc_fail(mpc.dst, later[i].rel, NULL, -rc);
            } else if (rc == 1) {
                atomic_fetch_add(&mpc_count->skipped, 1);
            } else {
                atomic_fetch_add(&mpc_count->files, 1);
                if (mpc.verbose)
                    mpc_vline(v, "", later[i].rel);
            }
        }
        free(later[i].rel);
    }
    free(later);
    for (size_t i = 0; i < cap; i++)
        free(tab[i].rel);
    free(tab);
    later = NULL;
    tab = NULL;
    nlater = caplater = cap = used = 0;
}
