/* mp/shared.h - memory shared by a whole process family, Value and Array,
 * and named shared memory for unrelated processes.
 *
 * The shared heap is mapped once, when libmp is loaded, before anything is
 * forked. Every process of the family (the first process and everything
 * forked from it, at any depth) sees it at the same address, so a pointer
 * returned by mp_shared_malloc in any of them, before or after a fork, is
 * valid in all of them. */
#ifndef MP_SHARED_H
#define MP_SHARED_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mp_lock mp_lock;
typedef struct mp_shm mp_shm;

/* mp_shared_malloc returns size bytes of shared memory aligned to 16 bytes,
 * or NULL with errno = ENOMEM when the heap cannot hold them. Size 0 gives a
 * valid minimal block. Safe from any thread of any process of the family.
 * The memory is not zeroed (reused blocks hold old bytes). */
MP_EXTERN void *mp_shared_malloc(size_t size);

/* mp_shared_calloc is mp_shared_malloc of n * size zeroed bytes; NULL with
 * errno = ENOMEM on overflow. RawValue and RawArray are this call. */
MP_EXTERN void *mp_shared_calloc(size_t n, size_t size);

/* mp_shared_free returns a block to the heap; any process may free a block
 * any other process allocated. mp_shared_free(NULL) does nothing. Large
 * blocks give their pages back to the system. */
MP_EXTERN void mp_shared_free(void *ptr);

/* mp_shared_usable_size returns the bytes usable in a block (>= the size
 * asked for), or 0 for NULL. */
MP_EXTERN size_t mp_shared_usable_size(const void *ptr);

/* Value and Array: shared bytes with their own lock. */
MP_EXTERN void *mp_value_new(size_t size, const void *init);
MP_EXTERN void *mp_array_new(size_t n, size_t size, const void *init);
MP_EXTERN mp_lock *mp_value_lock(void *value);
MP_EXTERN void mp_value_free(void *value);

/* Named shared memory (Python's shared_memory.SharedMemory). */
MP_EXTERN mp_shm *mp_shm_create(const char *name, size_t size);
MP_EXTERN mp_shm *mp_shm_attach(const char *name);
MP_EXTERN const char *mp_shm_name(const mp_shm *s);
MP_EXTERN void *mp_shm_buf(const mp_shm *s);
MP_EXTERN size_t mp_shm_size(const mp_shm *s);
MP_EXTERN int mp_shm_close(mp_shm *s);
MP_EXTERN int mp_shm_unlink(const char *name);

#ifdef __cplusplus
}
#endif
#endif /* MP_SHARED_H */
