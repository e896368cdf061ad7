/* mp/list.h - a list shared by a process family: Python's
 * Manager().list() without a manager process.
 *
 * Items are byte strings of any length (an empty one too), copied in and
 * copied out; the list keeps its copies in the shared heap, so a pointer
 * to an mp_list is valid in every process of the family, whichever made it
 * and whenever, and no process keeps any state of its own about it.
 *
 * Indexes are Python's: 0 is the first item, -1 the last, -len(l) the
 * first again; any other index is out of range (MP_ERANGE, Python's
 * IndexError) and changes nothing.
 *
 * Readers (get, get_alloc, len) never wait for writers: they read without
 * a lock and retry when a writer freed memory under them, so a stopped or
 * killed writer does not hold them up. Writers (append, set, pop) exclude
 * each other for the few instructions of a change (the copy of the bytes
 * is made before). When another process holds the list and does not let
 * it go (it is stopped), a write waits at most MP_LIST_TIMEOUT seconds
 * (the _timed forms take their own bound), then returns MP_ETIMEDOUT and
 * changes nothing; a dead holder is taken over and the write goes on.
 *
 * Crash safety. Every change becomes visible through a single store, after
 * its bytes are written where nobody looks yet: a process killed at any
 * instruction leaves the list whole, its one change either done or not,
 * never an item half-written. The memory of that one change may leak.
 *
 * Costs: append, set, get, len and pop of the last item are O(1); pop of
 * any other item copies the list of item references (O(len), as Python's
 * list moves them). */
#ifndef MP_LIST_H
#define MP_LIST_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mp_list mp_list;

/* The longest a write without an explicit timeout (mp_list_append,
 * mp_list_set, mp_list_pop) waits for a list that another live process
 * holds, in seconds; only a stopped holder makes it wait this long. */
#define MP_LIST_TIMEOUT 5.0

/* mp_list_new makes an empty list in the shared heap. Returns it, or NULL
 * with errno = ENOMEM. Free it with mp_list_free. */
MP_EXTERN mp_list *mp_list_new(void);

/* mp_list_append adds a copy of len bytes at val at the end (Python's
 * l.append(val)); val may be NULL when len is 0. Waits up to
 * MP_LIST_TIMEOUT for the list. Returns 0, MP_ETIMEDOUT (nothing
 * changed), MP_ENOMEM (the shared heap cannot hold it; nothing changed),
 * or MP_EINVAL (l NULL, val NULL with len > 0). */
MP_EXTERN int mp_list_append(mp_list *l, const void *val, size_t len);

/* mp_list_append_timed is mp_list_append waiting up to timeout seconds
 * (MP_FOREVER: no bound; 0: only if the list is free now). A NaN timeout
 * is MP_EINVAL. */
MP_EXTERN int mp_list_append_timed(mp_list *l, const void *val, size_t len, double timeout);

/* mp_list_get copies item i into buf (cap bytes) and stores its length in
 * *len (Python's l[i]). Never waits for a writer. Returns:
 *   0            copied;
 *   MP_ERANGE    i is out of range (Python's IndexError);
 *   MP_EMSGSIZE  the item is longer than cap: *len is set to its length,
 *                buf is untouched;
 *   MP_EINVAL    l or len NULL, buf NULL with cap > 0. */
MP_EXTERN int mp_list_get(mp_list *l, ptrdiff_t i, void *buf, size_t cap, size_t *len);

/* mp_list_get_alloc is mp_list_get into a malloc'd copy: *val gets it
 * (free() it; an empty item still gets a non-NULL pointer) and *len its
 * length. Returns 0, MP_ERANGE, MP_ENOMEM (malloc failed), or MP_EINVAL
 * (l, val or len NULL); on failure *val is left untouched. */
MP_EXTERN int mp_list_get_alloc(mp_list *l, ptrdiff_t i, void **val, size_t *len);

/* mp_list_set replaces item i with a copy of len bytes at val (Python's
 * l[i] = val). Waits up to MP_LIST_TIMEOUT. Returns 0, MP_ERANGE,
 * MP_ETIMEDOUT, MP_ENOMEM (nothing changed in each case), or MP_EINVAL
 * (l NULL, val NULL with len > 0). */
MP_EXTERN int mp_list_set(mp_list *l, ptrdiff_t i, const void *val, size_t len);

/* mp_list_set_timed is mp_list_set with its own timeout. */
MP_EXTERN int mp_list_set_timed(mp_list *l, ptrdiff_t i, const void *val, size_t len,
                                double timeout);

/* mp_list_pop removes item i and copies it into buf (cap bytes), its
 * length into *len (Python's l.pop(i); l.pop() is i = -1). Waits up to
 * MP_LIST_TIMEOUT. Returns:
 *   0             removed and copied;
 *   MP_ERANGE     i is out of range, or the list is empty;
 *   MP_EMSGSIZE   the item is longer than cap: *len is set to its length
 *                 and the item stays in the list;
 *   MP_ETIMEDOUT  another process held the list for the whole bound;
 *   MP_ENOMEM     removing from the middle needs a new reference array
 *                 the heap cannot hold;
 *   MP_EINVAL     l or len NULL, buf NULL with cap > 0.
 * Nothing changes unless it returns 0. */
MP_EXTERN int mp_list_pop(mp_list *l, ptrdiff_t i, void *buf, size_t cap, size_t *len);

/* mp_list_pop_timed is mp_list_pop with its own timeout. */
MP_EXTERN int mp_list_pop_timed(mp_list *l, ptrdiff_t i, void *buf, size_t cap, size_t *len,
                                double timeout);

/* mp_list_len returns the number of items (Python's len(l)); 0 for NULL.
 * Never waits. */
MP_EXTERN size_t mp_list_len(mp_list *l);

/* mp_list_free frees the list and every item in it. Call it once, in one
 * process, when no other process uses the list any more.
 * mp_list_free(NULL) does nothing. */
MP_EXTERN void mp_list_free(mp_list *l);

#ifdef __cplusplus
}
#endif
#endif /* MP_LIST_H */
