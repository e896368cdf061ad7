/* shared.c - Value and Array (shared bytes with their own lock) and named
 * POSIX shared memory for processes that are not of one family. */
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
#include "mp/sync.h"

#include "internal/heap.h"

/* ---- Value and Array ---------------------------------------------------- */

#define VALUE_MAGIC 0x65756c61765f706dULL /* "mp_value" */

/* The header in front of a Value's or an Array's bytes, in the same shared
 * heap block. Users hold a pointer to the bytes; the header is found just
 * before them. Written once at creation, read-only afterwards. */
struct value_hdr {
    mp_lock *lock;  /* the value's own lock (mp_lock_new), in the shared heap */
    uint64_t n;     /* elements: 1 for a Value */
    uint64_t size;  /* bytes per element */
    uint64_t magic; /* VALUE_MAGIC while the value lives, 0 once freed */
};
/* The heap's blocks are 16-byte aligned; so is the data after the header. */
_Static_assert(sizeof(struct value_hdr) % 16 == 0, "value data stays 16-byte aligned");

/* value_hdr_of returns the header of a live Value/Array, or NULL when p
 * cannot be one (NULL, outside the heap, misaligned, no magic). Reading
 * the header of a pointer inside the heap is always safe: the heap is one
 * mapping. */
static struct value_hdr *value_hdr_of(const void *p)
{
    if (p == NULL || ((uintptr_t)p & 15) != 0 || !mp__heap_contains(p))
        return NULL;
    struct value_hdr *h = (struct value_hdr *)p - 1;
    if (!mp__heap_contains(h) || h->magic != VALUE_MAGIC)
        return NULL;
    return h;
}

MP_EXTERN void *mp_array_new(size_t n, size_t size, const void *init)
{
    if (size == 0) {
        errno = EINVAL;
        return NULL;
    }
    if (n > (SIZE_MAX - sizeof(struct value_hdr)) / size) {
        errno = ENOMEM;
        return NULL;
    }
    size_t bytes = n * size;
    mp_lock *lock = mp_lock_new();
    if (lock == NULL)
        return NULL;
    struct value_hdr *h = mp_shared_malloc(sizeof *h + bytes);
    if (h == NULL) {
        mp_lock_free(lock);
        errno = ENOMEM;
        return NULL;
    }
    h->lock = lock;
    h->n = n;
    h->size = size;
    h->magic = VALUE_MAGIC;
    void *data = h + 1;
    if (init != NULL)
        memcpy(data, init, bytes);
    else
        memset(data, 0, bytes); /* reused heap blocks hold old bytes */
    return data;
}

MP_EXTERN void *mp_value_new(size_t size, const void *init)
{
    return mp_array_new(1, size, init);
}

MP_EXTERN mp_lock *mp_value_lock(void *value)
{
    struct value_hdr *h = value_hdr_of(value);
    if (h == NULL) {
        errno = EINVAL;
        return NULL;
    }
    return h->lock;
}

MP_EXTERN size_t mp_array_len(const void *array)
{
    struct value_hdr *h = value_hdr_of(array);
    return h == NULL ? 0 : (size_t)h->n;
}

MP_EXTERN void mp_value_free(void *value)
{
    struct value_hdr *h = value_hdr_of(value);
    if (h == NULL)
        return;
    h->magic = 0; /* a second free, or a late mp_value_lock, finds nothing */
    mp_lock_free(h->lock);
    mp_shared_free(h);
}

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
