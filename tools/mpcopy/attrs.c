/* attrs.c - what a copy keeps besides the data: permission bits always;
 * times with -p; with -a also the owner (when run as root) and the
 * extended attributes, POSIX ACLs among them (system.posix_acl_access and
 * _default are extended attributes to the kernel, so no libacl is needed).
 *
 * The order matters: the owner first (chown clears the set-user-ID and
 * set-group-ID bits), then the extended attributes (an access ACL rewrites
 * the group bits), then the mode, then the times (every change before
 * touches the change time, not the modification time, but setting times
 * last is what every copier does). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "mpcopy.h"

void mpc_meta_from(struct mpc_meta *m, const struct stat *st)
{
    m->size = (uint64_t)st->st_size;
    m->dev = (uint64_t)st->st_dev;
    m->ino = (uint64_t)st->st_ino;
    m->mode = st->st_mode;
    m->uid = st->st_uid;
    m->gid = st->st_gid;
    /* Fewer 512-byte blocks than the size needs: there are holes (or the
     * file system compresses), so copy only the data extents. */
    m->sparse = (uint64_t)st->st_blocks * 512 < m->size;
    m->times[0] = st->st_atim;
    m->times[1] = st->st_mtim;
}

/* One side of an extended-attribute copy: a descriptor, or a path that is
 * never followed at its end (a symlink's own attributes). */
struct xend {
    int fd;
    const char *path;
};

static ssize_t x_list(const struct xend *e, char *buf, size_t n)
{
    return e->fd >= 0 ? flistxattr(e->fd, buf, n) : llistxattr(e->path, buf, n);
}

static ssize_t x_get(const struct xend *e, const char *name, void *buf, size_t n)
{
    return e->fd >= 0 ? fgetxattr(e->fd, name, buf, n) : lgetxattr(e->path, name, buf, n);
}

static int x_set(const struct xend *e, const char *name, const void *v, size_t n)
{
    return e->fd >= 0 ? fsetxattr(e->fd, name, v, n, 0) : lsetxattr(e->path, name, v, n, 0);
}

/* Read a list or a value into buf (cap bytes), or into a malloc'd *big
 * when it does not fit. Returns the length or -1 with errno. */
static ssize_t x_read(const struct xend *e, const char *name, char *buf, size_t cap, char **big)
{
    ssize_t n = name ? x_get(e, name, buf, cap) : x_list(e, buf, cap);
    for (int tries = 0; n < 0 && errno == ERANGE && tries < 4; tries++) {
        ssize_t want = name ? x_get(e, name, NULL, 0) : x_list(e, NULL, 0);
        if (want < 0)
            return -1;
        free(*big);
        if ((*big = malloc((size_t)want + 1)) == NULL)
            return -1;
        n = name ? x_get(e, name, *big, (size_t)want) : x_list(e, *big, (size_t)want);
    }
    return n;
}

/* Copy every extended attribute from in to out. Attributes the
 * destination cannot hold (a file system without them, a namespace only
 * root may write) are left out quietly, as cp -a does. Returns how many
 * were set, or -errno. */
static int copy_xattrs(const struct xend *in, const struct xend *out)
{
    char lbuf[1024], vbuf[4096];
    char *lbig = NULL, *vbig = NULL;
    ssize_t n = x_read(in, NULL, lbuf, sizeof lbuf, &lbig);
    if (n <= 0) {
        int err = n < 0 ? errno : 0;
        free(lbig);
        return err == 0 || err == ENOTSUP ? 0 : -err;
    }
    const char *list = lbig ? lbig : lbuf;
    int set = 0, rc = 0;
    for (const char *name = list; name < list + n; name += strlen(name) + 1) {
        ssize_t vl = x_read(in, name, vbuf, sizeof vbuf, &vbig);
        if (vl < 0) {
            if (errno == ENODATA)
                continue; /* removed since it was listed */
            rc = -errno;
            break;
        }
        if (x_set(out, name, vbig ? vbig : vbuf, (size_t)vl) == 0) {
            set++;
        } else if (errno == ENOTSUP) {
            break; /* the destination holds none */
        } else if (errno != EPERM && errno != EACCES) {
            rc = -errno;
            break;
        }
        free(vbig);
        vbig = NULL;
    }
    free(vbig);
    free(lbig);
    return rc < 0 ? rc : set;
}

/* With -a: the owner (root), or at least the group when we may. Returns
 * false when there is nothing to change. */
static bool owner_wanted(const struct mpc_meta *m, uid_t *uid, gid_t *gid)
{
    *uid = mpc.root ? m->uid : (uid_t)-1;
    *gid = m->gid;
    return mpc.root || m->gid != mpc.egid;
}

/* The result of fchown: without root a group we are not in cannot be
 * given, and cp -a keeps quiet about that too. */
static int owner_result(int rc)
{
    return rc < 0 && mpc.root ? -errno : 0;
}

int mpc_attrs_fd(int in, int out, const struct mpc_meta *m, mode_t now)
{
    bool acl = false;
    if (mpc.archive) {
        uid_t uid;
        gid_t gid;
        int rc = owner_wanted(m, &uid, &gid) ? owner_result(fchown(out, uid, gid)) : 0;
        if (rc < 0)
            return rc;
        rc = copy_xattrs(&(struct xend){in, NULL}, &(struct xend){out, NULL});
        if (rc < 0)
            return rc;
        acl = rc > 0;
    }
    mode_t mode = m->mode & 07777;
    if ((acl || (now & 07777) != mode) && fchmod(out, mode) < 0)
        return -errno;
    if ((mpc.preserve || mpc.archive) && futimens(out, m->times) < 0)
        return -errno;
    return 0;
}

int mpc_attrs_at(int dir, const char *name, const char *src, const struct stat *st)
{
    struct mpc_meta m;
    mpc_meta_from(&m, st);
    bool link = S_ISLNK(st->st_mode);
    if (mpc.archive) {
        uid_t uid;
        gid_t gid;
        int rc = owner_wanted(&m, &uid, &gid)
                     ? owner_result(fchownat(dir, name, uid, gid, AT_SYMLINK_NOFOLLOW))
                     : 0;
        if (rc < 0)
            return rc;
        char dpath[64 + 256];
        snprintf(dpath, sizeof dpath, "/proc/self/fd/%d/%s", dir, name);
        rc = copy_xattrs(&(struct xend){-1, src}, &(struct xend){-1, dpath});
        if (rc < 0)
            return rc;
    }
    /* mknod applied the umask, and chown may have cleared bits. */
    if (!link && fchmodat(dir, name, st->st_mode & 07777, AT_SYMLINK_NOFOLLOW) < 0)
        return -errno;
    if ((mpc.preserve || mpc.archive) && utimensat(dir, name, m.times, AT_SYMLINK_NOFOLLOW) < 0)
        return -errno;
    return 0;
}
