/* value.c - Value and Array: shared bytes with their own lock. */
#include "mp/shared.h"

#include <errno.h>
#include <string.h>

#include "mp/error.h"
#include "mp/sync.h"

#include "heap/heap.h"

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
