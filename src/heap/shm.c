/* shm.c - named POSIX shared memory (Python's shared_memory.SharedMemory)
 * for processes that are not of one family. */
#include "mp/shared.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mp/error.h"

/* ---- named shared memory ------------------------------------------------ */

#define SHM_PREFIX "psm_" /* generated names, as Python's SharedMemory */
#define SHM_TRIES  64     /* fresh names to try before giving up with EEXIST */
#define SHM_MODE   0600   /* owner only, as Python */

/* A handle is process-local (plain malloc): the mapping it describes exists
 * only in this process and in children forked after it was made. */
struct mp_shm {
    void *buf;               /* the mapping */
    size_t size;             /* bytes mapped: the object's size */
    char name[NAME_MAX + 1]; /* the name without its leading '/' */
};

/* shm_path checks a user's name and writes "/name" into path. A leading '/'
 * is optional; the rest must be 1..NAME_MAX bytes without '/', and not "."
 * or "..", which would name /dev/shm itself or its parent. Returns 0,
 * MP_EINVAL or -ENAMETOOLONG. */
static int shm_path(const char *name, char path[NAME_MAX + 2])
{
    if (name == NULL)
        return MP_EINVAL;
    if (name[0] == '/')
        name++;
    size_t len = strlen(name);
    if (len == 0 || strchr(name, '/') != NULL || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return MP_EINVAL;
    if (len > NAME_MAX)
        return -ENAMETOOLONG;
    path[0] = '/';
    memcpy(path + 1, name, len + 1);
    return 0;
}

/* shm_fresh_path writes a new random name "/psm_<16 hex digits>". The
 * caller retries on EEXIST, so the randomness only has to make collisions
 * rare, not impossible. */
static int shm_fresh_path(char path[NAME_MAX + 2])
{
    unsigned char r[8];
    if (getentropy(r, sizeof r) != 0)
        return -errno;
    int n = snprintf(path, NAME_MAX + 2, "/" SHM_PREFIX);
    for (size_t i = 0; i < sizeof r; i++)
        n += snprintf(path + n, (size_t)(NAME_MAX + 2 - n), "%02x", r[i]);
    return 0;
}

/* shm_open_path is libmp's only call of shm_open (POSIX; a port without it
 * would open a file under a tmpfs directory instead). Returns an fd or
 * -errno. */
static int shm_open_path(const char *path, int flags)
{
    int fd = shm_open(path, flags | O_RDWR, SHM_MODE);
    return fd < 0 ? -errno : fd;
}

/* shm_map maps fd's size bytes and fills a new handle named path + 1.
 * Returns the handle, or NULL with errno set; the fd stays open. */
static mp_shm *shm_map(int fd, const char *path, size_t size)
{
    mp_shm *s = malloc(sizeof *s);
    if (s == NULL)
        return NULL;
    void *buf = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (buf == MAP_FAILED) {
        int err = errno;
        free(s);
        errno = err;
        return NULL;
    }
    s->buf = buf;
    s->size = size;
    strcpy(s->name, path + 1);
    return s;
}

/* shm_create_path makes the object at path, sizes it and maps it. Returns
 * the handle, or NULL with errno set and nothing left behind. */
static mp_shm *shm_create_path(const char *path, size_t size)
{
    int fd = shm_open_path(path, O_CREAT | O_EXCL);
    if (fd < 0) {
        errno = -fd;
        return NULL;
    }
    mp_shm *s = NULL;
    if (ftruncate(fd, (off_t)size) == 0)
        s = shm_map(fd, path, size);
    int err = errno;
    close(fd);
    if (s == NULL) {
        shm_unlink(path);
        errno = err;
    }
    return s;
}

MP_EXTERN mp_shm *mp_shm_create(const char *name, size_t size)
{
    char path[NAME_MAX + 2];
    int rc;

    /* ftruncate takes an off_t; anything past it could never be mapped. */
    if (size == 0 || size > (size_t)PTRDIFF_MAX) {
        errno = size == 0 ? EINVAL : ENOMEM;
        return NULL;
    }
    if (name != NULL) {
        if ((rc = shm_path(name, path)) != 0) {
            errno = -rc;
            return NULL;
        }
        return shm_create_path(path, size);
    }
    for (int i = 0; i < SHM_TRIES; i++) {
        if ((rc = shm_fresh_path(path)) != 0) {
            errno = -rc;
            return NULL;
        }
        mp_shm *s = shm_create_path(path, size);
        if (s != NULL || errno != EEXIST)
            return s;
    }
    return NULL; /* errno is EEXIST */
}

MP_EXTERN mp_shm *mp_shm_attach(const char *name)
{
    char path[NAME_MAX + 2];
    struct stat st;
    int rc;

    if ((rc = shm_path(name, path)) != 0) {
        errno = -rc;
        return NULL;
    }
    int fd = shm_open_path(path, 0);
    if (fd < 0) {
        errno = -fd;
        return NULL;
    }
    mp_shm *s = NULL;
    if (fstat(fd, &st) == 0) {
        /* A size of 0 is an object its creator has not sized yet (or one
         * made by another program): there is nothing to map. */
        if (st.st_size <= 0)
            errno = EINVAL;
        else if ((uintmax_t)st.st_size > SIZE_MAX)
            errno = ENOMEM;
        else
            s = shm_map(fd, path, (size_t)st.st_size);
    }
    int err = errno;
    close(fd);
    errno = err;
    return s;
}

MP_EXTERN const char *mp_shm_name(const mp_shm *s)
{
    return s == NULL ? NULL : s->name;
}

MP_EXTERN void *mp_shm_buf(const mp_shm *s)
{
    return s == NULL ? NULL : s->buf;
}

MP_EXTERN size_t mp_shm_size(const mp_shm *s)
{
    return s == NULL ? 0 : s->size;
}

MP_EXTERN int mp_shm_close(mp_shm *s)
{
    if (s == NULL)
        return MP_EINVAL;
    /* munmap fails only for a bad range, which a handle never holds. */
    int rc = munmap(s->buf, s->size) == 0 ? 0 : -errno;
    free(s);
    return rc;
}

MP_EXTERN int mp_shm_unlink(const char *name)
{
    char path[NAME_MAX + 2];
    int rc = shm_path(name, path);
    if (rc != 0)
        return rc;
    return shm_unlink(path) == 0 ? 0 : -errno;
}
