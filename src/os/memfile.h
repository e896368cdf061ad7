/* memfile.h - the anonymous shared file behind the shared heap.
 *
 * Linux only (memfd_create, fallocate PUNCH_HOLE). A POSIX port would use
 * shm_open with a random name, unlinked at once, and madvise(MADV_DONTNEED)
 * in place of punching holes. */
#ifndef MP_INTERNAL_MEMFILE_H
#define MP_INTERNAL_MEMFILE_H

#include <stddef.h>

/* mp__memfile_map creates a sparse shared memory file of *size bytes (or
 * less, halving down to min_size when the system refuses) and maps it
 * MAP_SHARED | MAP_NORESERVE. Memory is used only when touched; the file
 * goes away with the last process that maps it. On success stores the
 * mapping in *base, the size obtained in *size and returns 0; otherwise
 * returns -errno. The descriptor is closed: the mapping keeps the file. */
int mp__memfile_map(const char *name, size_t *size, size_t min_size, void **base);

/* mp__memfile_release gives the pages of [addr, addr + len) back to the
 * system; they read as zeros afterwards. addr and len are page-aligned.
 * Returns 0, or -errno when the system kept the pages (contents unchanged). */
int mp__memfile_release(void *addr, size_t len);

#endif
