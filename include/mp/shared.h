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

/* mp_shared_malloc returns size bytes of shared memory, or NULL with
 * errno = ENOMEM when the heap cannot hold them. Alignment: a block of 64
 * bytes or more starts on a 64-byte boundary (a cache line: no need to
 * align by hand), a smaller one on a 16-byte boundary; a block above 32
 * KiB starts on a page. Size 0 gives a valid minimal block. Safe from any
 * thread of any process of the family. The memory is not zeroed (reused
 * blocks hold old bytes).
 *
 * Blocking: it may wait for another process inside the allocator, for as
 * long as that process takes there (a stopped one: until it resumes); a
 * process that died there is noticed within about 0.2 s and what it was
 * doing is repaired. Memory freed in any size serves any size. */
MP_EXTERN void *mp_shared_malloc(size_t size);

/* mp_shared_calloc is mp_shared_malloc of n * size zeroed bytes; NULL with
 * errno = ENOMEM on overflow. RawValue and RawArray are this call. Large
 * blocks are zeroed without touching their pages where possible. */
MP_EXTERN void *mp_shared_calloc(size_t n, size_t size);

/* mp_shared_free returns a block to the heap; any process may free a block
 * any other process allocated. mp_shared_free(NULL) does nothing. It never
 * waits for another process. Freed pages go back to the system lazily:
 * recently freed pages are kept for reuse, 8 MiB of them plus twice what
 * blocks over 32 KiB use at the time (at most a sixteenth of the heap);
 * the rest is released. A pointer that is not a live block (freed twice, or never
 * allocated) aborts the program with a message, as glibc does. */
MP_EXTERN void mp_shared_free(void *ptr);

/* mp_shared_usable_size returns the bytes usable in a block (>= the size
 * asked for), or 0 for NULL. */
MP_EXTERN size_t mp_shared_usable_size(const void *ptr);

/* What the shared heap holds, for monitoring. */
typedef struct {
    size_t reserved;     /* bytes of address space the heap may use */
    size_t in_use;       /* bytes in live blocks (as the allocator counts them) */
    size_t free;         /* bytes the allocator can hand out without growing */
    size_t largest_free; /* the largest single block it could hand out now */
    size_t peak;         /* the most in_use ever seen */
} mp_heap_stats;

/* mp_shared_stats fills *out with the shared heap's figures, for the whole
 * process family. in_use counts blocks by their usable size
 * (mp_shared_usable_size); blocks a thread freed and keeps cached for its
 * next malloc count as free. Never blocks on another process: the figures
 * are counters read one by one, so while other processes allocate they
 * are approximate (each stays within [0, reserved], and in_use + free <=
 * reserved). peak is sampled whenever the heap takes new pages, and at
 * each call. Returns 0, MP_EINVAL for NULL, MP_ENOMEM if libmp could not
 * map its heap at load. */
MP_EXTERN int mp_shared_stats(mp_heap_stats *out);

/* Value and Array: Python's multiprocessing.Value and Array. Bytes in the
 * shared heap (zeroed or copied from init), 16-byte aligned, with their own
 * mp_lock; the pointer returned is the bytes themselves (Python's
 * get_obj()), valid in every process of the family. The lock guards
 * nothing by itself: take it around read-modify-write sequences
 * (Python's "with v.get_lock(): v.value += 1"). Python's RawValue and
 * RawArray, without a lock, are mp_shared_calloc. */

/* mp_value_new returns size bytes copied from init (zeroed when init is
 * NULL), with their own lock. Returns NULL with errno: EINVAL (size 0),
 * ENOMEM (the heap is full), or mp_lock_new's error. Free with
 * mp_value_free. Python: Value(typecode, x). */
MP_EXTERN void *mp_value_new(size_t size, const void *init);

/* mp_array_new returns n elements of size bytes, copied from init (n * size
 * bytes) or zeroed when init is NULL, with their own lock. n may be 0 (a
 * valid empty array with a lock). Returns NULL with errno: EINVAL (size 0),
 * ENOMEM (n * size overflows, or the heap is full), or mp_lock_new's
 * error. Free with mp_value_free. Python: Array(typecode, n or sequence). */
MP_EXTERN void *mp_array_new(size_t n, size_t size, const void *init);

/* mp_value_lock returns the lock of a Value or an Array (Python's
 * get_lock()), owned by it: never mp_lock_free it. Returns NULL with
 * errno = EINVAL for NULL or a pointer that is not a live Value/Array. */
MP_EXTERN mp_lock *mp_value_lock(void *value);

/* mp_array_len returns the number of elements of an Array (Python's
 * len()), 1 for a Value, 0 for NULL or a pointer that is not a live
 * Value/Array. */
MP_EXTERN size_t mp_array_len(const void *array);

/* mp_value_free frees a Value or an Array and its lock, from any process of
 * the family, once every user is done (no process may hold the lock).
 * mp_value_free(NULL) does nothing, and so does a pointer that is not a
 * live Value/Array (checked by a tag in front of the bytes; a pointer
 * freed twice is caught until its memory is reused). */
MP_EXTERN void mp_value_free(void *value);

/* Named shared memory: Python's multiprocessing.shared_memory.SharedMemory,
 * for processes that are not of one family (an unrelated program finds the
 * block by its name). POSIX shm_open + mmap: the block is a file in
 * /dev/shm that lives until mp_shm_unlink, whoever created it and whatever
 * happens to the processes that use it.
 *
 * Names follow Python's: "name" and "/name" are the same block. After the
 * optional leading '/', a name is 1 to NAME_MAX (255) bytes, contains no
 * '/' and is not "." or ".."; otherwise EINVAL (ENAMETOOLONG when only the
 * length is wrong).
 *
 * A handle (mp_shm) belongs to the process that made it: the mapping exists
 * there and in children forked after it was made, each of which may use its
 * copy and should mp_shm_close it. Unlike Python, nothing is automatic:
 * there is no resource tracker, and no process ever unlinks a block by
 * closing a handle or exiting (python/cpython issue 82300). The block's
 * owner calls mp_shm_unlink once, when every user is done. A handle keeps
 * no file descriptor open. */

/* mp_shm_create makes a new block of size bytes (zeroed, mode 0600) and
 * maps it. name NULL picks a fresh unique name "psm_" + 16 hex digits
 * (retrying while the name is taken). Returns the handle, or NULL with
 * errno: EEXIST (the name exists), EINVAL (size 0, bad name),
 * ENAMETOOLONG, ENOMEM (size past PTRDIFF_MAX or no memory), or the
 * system's error (EACCES, EMFILE, ...). A failed create leaves no block.
 * As in Python, the pages are allocated when first touched: touching them
 * when /dev/shm is full raises SIGBUS. */
MP_EXTERN mp_shm *mp_shm_create(const char *name, size_t size);

/* mp_shm_attach maps an existing block. Its size is the block's real size
 * (fstat), whatever the creator asked for. Returns the handle, or NULL with
 * errno: ENOENT (no such block), EINVAL (bad name, or a block of size 0:
 * one whose creator has not sized it yet), ENAMETOOLONG, EACCES, or the
 * system's error. Attaching never creates, and the attacher never unlinks. */
MP_EXTERN mp_shm *mp_shm_attach(const char *name);

/* mp_shm_name returns the block's name without its leading '/' (as
 * Python's SharedMemory.name), owned by the handle; NULL for NULL. */
MP_EXTERN const char *mp_shm_name(const mp_shm *s);

/* mp_shm_buf returns the first byte of the mapping (page-aligned); NULL for
 * NULL. Valid until mp_shm_close. */
MP_EXTERN void *mp_shm_buf(const mp_shm *s);

/* mp_shm_size returns the mapped bytes; 0 for NULL. */
MP_EXTERN size_t mp_shm_size(const mp_shm *s);

/* mp_shm_close unmaps the block from this process and frees the handle.
 * The block and its bytes stay for every other user and for later
 * attaches. Returns 0, or MP_EINVAL for NULL. */
MP_EXTERN int mp_shm_close(mp_shm *s);

/* mp_shm_unlink removes the name: later attaches fail with ENOENT, while
 * processes that have the block mapped keep using it; its memory is freed
 * when the last mapping goes. Returns 0, MP_EINVAL (NULL or bad name),
 * -ENAMETOOLONG, -ENOENT (no such block), or -errno (-EACCES). */
MP_EXTERN int mp_shm_unlink(const char *name);

#ifdef __cplusplus
}
#endif
#endif /* MP_SHARED_H */
