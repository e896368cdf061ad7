/* memfile.c - a sparse memfd mapped shared, and hole punching. */
#include "os/memfile.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

int mp__memfile_map(const char *name, size_t *size, size_t min_size, void **base)
{
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    int err = ENOMEM;
    for (size_t want = *size; want >= min_size; want /= 2) {
        if (ftruncate(fd, (off_t)want) < 0) {
            err = errno;
            continue;
        }
        void *p = mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
        if (p == MAP_FAILED) {
            err = errno;
            continue;
        }
        close(fd);
        *base = p;
        *size = want;
        return 0;
    }
    close(fd);
    return -err;
}

int mp__memfile_release(void *addr, size_t len)
{
    /* The mapping, not the descriptor, is what we keep, so punch through
     * it: MADV_REMOVE frees the backing pages of a shared file mapping. */
    return madvise(addr, len, MADV_REMOVE) < 0 ? -errno : 0;
}
