/* heap.h - what the areas need from the shared heap beyond mp/shared.h. */
#ifndef MP_INTERNAL_HEAP_H
#define MP_INTERNAL_HEAP_H

#include <stdbool.h>
#include <stddef.h>

/* mp__heap_init maps the family's heap if this process has none yet. It
 * runs when the library is loaded; calling it again is cheap. Returns 0 or
 * -errno. */
int mp__heap_init(void);

/* mp__heap_contains tells whether p points into the shared heap. */
bool mp__heap_contains(const void *p);

/* mp__heap_stats reports the bytes handed out and the heap's size. */
void mp__heap_stats(size_t *in_use, size_t *heap_size);

#endif
