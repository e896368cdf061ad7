/* heap.h - what the areas need from the shared heap beyond mp/shared.h. */
#ifndef MP_INTERNAL_HEAP_H
#define MP_INTERNAL_HEAP_H

#include <stdbool.h>
#include <stddef.h>

#include "os/clock.h"

/* mp__heap_init maps the family's heap if this process has none yet. It
 * runs when the library is loaded; calling it again is cheap. Returns 0 or
 * -errno. */
int mp__heap_init(void);

/* mp__heap_contains tells whether p points into the shared heap. */
bool mp__heap_contains(const void *p);

/* mp__heap_alloc is mp_shared_malloc for a caller with a deadline (a
 * queue put with its timeout): the allocator's locks are waited for until
 * d, never longer, whatever another process does (runs, is stopped, died:
 * a dead holder is taken over and what it was doing repaired). Blocks of
 * 64 bytes or more are 64-byte aligned, smaller ones 16-byte aligned.
 * Returns the block, or NULL with errno:
 *   ENOMEM     the heap cannot hold size bytes (after giving back what
 *              caches and dead processes held);
 *   ETIMEDOUT  d passed while another process held a lock it needed. */
void *mp__heap_alloc(size_t size, const mp__deadline *d);

/* mp__heap_stats reports the bytes in use (mp_shared_stats's in_use) and
 * the size of the heap's mapping. Never blocks. */
void mp__heap_stats(size_t *in_use, size_t *heap_size);

/* mp__heap_reclaim gives back, waiting for locks until d: the calling
 * thread's cache, the caches of dead threads, every empty slab; locks
 * held by dead processes are taken over and repaired on the way. After it
 * (with no other process using the heap) in_use counts only live blocks
 * and what killed callers held (see README, "Guarantees and limits"). */
void mp__heap_reclaim(const mp__deadline *d);

/* mp__heap_allocated tells whether p is a block handed out and not freed
 * (a block freed into a thread cache still counts as handed out until the
 * cache gives it back: call mp__heap_reclaim first). For tests. */
bool mp__heap_allocated(const void *p);

/* mp__heap_block_size returns the usable size malloc(size) would give. */
size_t mp__heap_block_size(size_t size);

/* mp__heap_check verifies every invariant of the allocator (tiling of the
 * page map, bins, slab bitmaps against lists and counters, thread caches);
 * for tests, while no other thread of the family uses the heap. Returns 0,
 * or -1 with the first broken invariant in why. */
int mp__heap_check(char *why, size_t cap);

#endif
