/* beneath.c - open directories below SRC and DST without following a
 * symlink anywhere on the way.
 *
 * Why: workers open "a/b/c" relative to DST long after the walk made it.
 * If anyone (another user who can write into DST, a concurrent program)
 * replaced "a/b" by a symlink meanwhile, a plain openat would follow it and
 * mpcopy would write outside DST -- with root's rights when root copies.
 * openat2(RESOLVE_NO_SYMLINKS) refuses every symlink in one call (Linux
 * 5.6); elsewhere each component is opened with O_NOFOLLOW in turn. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mpcopy.h"

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_CLOEXEC)

/* One component at a time, each with O_NOFOLLOW. */
static int open_by_parts(int root, const char *rel)
{
    int fd = openat(root, ".", DIR_FLAGS);
    const char *p = rel;
    while (fd >= 0 && *p != '\0') {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        char part[256];
        if (n == 0 || n >= sizeof part) {
            close(fd);
            errno = n ? ENAMETOOLONG : EINVAL;
            return -1;
        }
        memcpy(part, p, n);
        part[n] = '\0';
        int next = openat(fd, part, DIR_FLAGS | O_NOFOLLOW);
        int err = errno;
        close(fd);
        errno = err;
        fd = next;
        p += n + (slash != NULL);
    }
    return fd;
}

int mpc_open_dir(int root, const char *rel)
{
    static bool no_openat2;
    if (*rel == '\0')
        rel = ".";
    if (!no_openat2) {
        struct open_how how = {.flags = DIR_FLAGS,
                               .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
        long fd = syscall(SYS_openat2, root, rel, &how, sizeof how);
        if (fd >= 0 || (errno != ENOSYS && errno != EPERM && errno != ENAMETOOLONG))
            return (int)fd;
        /* EPERM: a seccomp filter that refuses openat2. ENAMETOOLONG: a
         * path over PATH_MAX (a deep tree), which part by part can open. */
        if (errno != ENAMETOOLONG)
            no_openat2 = true;
    }
    return strcmp(rel, ".") == 0 ? openat(root, ".", DIR_FLAGS) : open_by_parts(root, rel);
}

int mpc_open_parent(int root, const char *rel, const char **name)
{
    const char *slash = strrchr(rel, '/');
    *name = slash ? slash + 1 : rel;
    if (slash == NULL)
        return mpc_open_dir(root, "");
    size_t n = (size_t)(slash - rel);
    char *dir = malloc(n + 1);
    if (dir == NULL)
        return -1;
    memcpy(dir, rel, n);
    dir[n] = '\0';
    int fd = mpc_open_dir(root, dir);
    int err = errno;
    free(dir);
    errno = err;
    return fd;
}
