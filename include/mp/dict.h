/* mp/dict.h - a dict shared by a process family: Python's
 * Manager().dict() without a manager process.
 *
 * Keys and values are byte strings of any length (an empty one too),
 * copied in and copied out: the dict keeps its own copies in the shared
 * heap, so a pointer to an mp_dict is valid in every process of the family,
 * whichever made it and whenever (before or after a fork), and no process
 * keeps any state of its own about it.
 *
 * Readers never wait for writers. A get, get_alloc, contains or len reads
 * without taking a lock and retries when a writer freed memory under it;
 * a writer that is stopped (SIGSTOP, a debugger) or killed does not hold
 * them up, nor does it hold up mp_dict_items.
 *
 * Writers of one part of the dict exclude each other. A key whose value
 * is 8 bytes (a counter, an id) keeps it in a cell of its own: setting it
 * again to 8 bytes or adding to it holds only that key. Any other change
 * holds the key's stripe, one of 64 the keys are spread over by their
 * hash, for the few instructions of the change (the copy of the bytes is
 * made before). When another process holds that key or stripe and does
 * not let it go (it is stopped), a write waits at most MP_DICT_TIMEOUT
 * seconds (the _timed forms take their own bound), then returns
 * MP_ETIMEDOUT and changes nothing. When the holder died, the key or
 * stripe is taken over (after about a tenth of a second of silence) and
 * the write goes on.
 *
 * Crash safety. Every change becomes visible through a single store of a
 * word, after its bytes are written in place where nobody looks yet. A
 * process killed at any instruction inside any call leaves the dict whole:
 * the change it was making is either done or not done, no key appears
 * twice and no value is half-written. The memory of that one change (a
 * new or an old copy) may leak.
 *
 * A new key or a value changing size needs the shared heap
 * (mp_shared_malloc) before any lock is taken; the heap's own lock is not
 * yet bounded by a deadline (see the heap's notes), so a process stopped
 * inside the allocator can still delay such writes. */
#ifndef MP_DICT_H
#define MP_DICT_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mp_dict mp_dict;

/* The longest a write without an explicit timeout (mp_dict_set,
 * mp_dict_del, mp_dict_add_i64, mp_dict_clear, mp_dict_items) waits for a
 * key or stripe that another live process holds, in seconds. A running
 * process holds one for well under a microsecond, so only a stopped
 * holder makes a writer wait this long; then the write fails with
 * MP_ETIMEDOUT instead of hanging. */
#define MP_DICT_TIMEOUT 5.0

/* mp_dict_new makes an empty dict in the shared heap. Returns it, or NULL
 * with errno = ENOMEM. Free it with mp_dict_free. */
MP_EXTERN mp_dict *mp_dict_new(void);

/* mp_dict_set stores a copy of the value (vlen bytes at val) under a copy
 * of the key (klen bytes at key), replacing the key's value if it has one
 * (Python's d[key] = val). key may be NULL when klen is 0, val when vlen
 * is 0. Waits up to MP_DICT_TIMEOUT for the key's stripe. Returns:
 *   0             stored;
 *   MP_ETIMEDOUT  another process held the stripe for the whole bound
 *                 (nothing changed);
 *   MP_ENOMEM     the shared heap cannot hold the copy (nothing changed);
 *   MP_EINVAL     d NULL, key NULL with klen > 0, val NULL with vlen > 0. */
MP_EXTERN int mp_dict_set(mp_dict *d, const void *key, size_t klen, const void *val, size_t vlen);

/* mp_dict_set_timed is mp_dict_set waiting up to timeout seconds for the
 * stripe (MP_FOREVER: no bound; 0: only if it is free now). A NaN timeout
 * is MP_EINVAL. */
MP_EXTERN int mp_dict_set_timed(mp_dict *d, const void *key, size_t klen, const void *val,
                                size_t vlen, double timeout);

/* mp_dict_get copies the key's value into buf (cap bytes) and stores its
 * length in *vlen (Python's d[key]). Never waits for a writer. Returns:
 *   0            copied;
 *   MP_ENOENT    no such key (Python's KeyError);
 *   MP_EMSGSIZE  the value is longer than cap: *vlen is set to its length,
 *                buf is untouched;
 *   MP_EINVAL    d or vlen NULL, key NULL with klen > 0, buf NULL with
 *                cap > 0. */
MP_EXTERN int mp_dict_get(mp_dict *d, const void *key, size_t klen, void *buf, size_t cap,
                          size_t *vlen);

/* mp_dict_get_alloc is mp_dict_get into a malloc'd copy: *val gets it
 * (free() it; an empty value still gets a non-NULL pointer) and *vlen its
 * length. Returns 0, MP_ENOENT, MP_ENOMEM (malloc failed), or MP_EINVAL
 * (d, val or vlen NULL, key NULL with klen > 0); on failure *val is left
 * untouched. */
MP_EXTERN int mp_dict_get_alloc(mp_dict *d, const void *key, size_t klen, void **val, size_t *vlen);

/* mp_dict_del removes the key and its value (Python's del d[key]). Waits
 * up to MP_DICT_TIMEOUT for the key's stripe. Returns 0, MP_ENOENT (no
 * such key), MP_ETIMEDOUT (nothing changed), or MP_EINVAL (d NULL, key
 * NULL with klen > 0). */
MP_EXTERN int mp_dict_del(mp_dict *d, const void *key, size_t klen);

/* mp_dict_del_timed is mp_dict_del with its own timeout (as
 * mp_dict_set_timed). */
MP_EXTERN int mp_dict_del_timed(mp_dict *d, const void *key, size_t klen, double timeout);

/* mp_dict_contains tells whether the key is in the dict (Python's key in
 * d). Never waits. False for a NULL d, or a NULL key with klen > 0. */
MP_EXTERN bool mp_dict_contains(mp_dict *d, const void *key, size_t klen);

/* mp_dict_len returns the number of keys (Python's len(d)); 0 for NULL.
 * Never waits. While other processes write, it is the count at some
 * moment of the call for each stripe, not for the whole dict at once
 * (mp_dict_items gives a whole snapshot). */
MP_EXTERN size_t mp_dict_len(mp_dict *d);

/* mp_dict_clear removes every key at once (Python's d.clear()): every
 * other process sees the whole dict cleared or not yet, never half. It
 * holds every stripe for a moment, waiting up to MP_DICT_TIMEOUT in all
 * for them (not for keys held by in-place writers: their writes count as
 * made before the clear). Returns 0, MP_ETIMEDOUT (a stripe stayed held;
 * nothing changed), or MP_EINVAL (NULL d). */
MP_EXTERN int mp_dict_clear(mp_dict *d);

/* mp_dict_clear_timed is mp_dict_clear with its own timeout. */
MP_EXTERN int mp_dict_clear_timed(mp_dict *d, double timeout);

/* mp_dict_add_i64 adds delta to the key's counter in one atomic step
 * (Python's d[key] = d.get(key, 0) + delta, without its race): the value
 * is an int64_t's 8 bytes in native byte order (as mp_queue_put_i64 sends
 * them, so mp_dict_get into an int64_t reads it); a missing key counts as
 * 0 and is created. The sum wraps around on overflow (two's complement).
 * *result (may be NULL) gets the new value. Waits up to MP_DICT_TIMEOUT
 * for the key's stripe. Returns:
 *   0             added;
 *   MP_EVALUE     the key holds a value that is not 8 bytes (unchanged);
 *   MP_ETIMEDOUT  the stripe stayed held (nothing changed);
 *   MP_ENOMEM     the key is new and the heap cannot hold it;
 *   MP_EINVAL     d NULL, key NULL with klen > 0. */
MP_EXTERN int mp_dict_add_i64(mp_dict *d, const void *key, size_t klen, int64_t delta,
                              int64_t *result);

/* mp_dict_add_i64_timed is mp_dict_add_i64 with its own timeout. */
MP_EXTERN int mp_dict_add_i64_timed(mp_dict *d, const void *key, size_t klen, int64_t delta,
                                    int64_t *result, double timeout);

/* mp_dict_items calls fn(key, klen, val, vlen, ud) for every key of one
 * consistent snapshot of the dict (Python's for k, v in d.items(), which
 * a manager copies at once): a state the dict really had, with no write
 * half seen. Keys come in insertion order, as in Python (a key keeps its
 * place when its value changes; a deleted key inserted again goes last).
 * The pointers are valid only during the call; fn may use the dict, and
 * returns 0 to go on or non-zero to stop, which mp_dict_items returns.
 * The snapshot is copied into private memory first: while other processes
 * write, it is read without locks and read again until no write got in
 * between (a write stopped half-way does not count: it has landed or not);
 * after a few tries it holds the keys and stripes that busy writers kept
 * changing, waiting for them up to MP_DICT_TIMEOUT. Returns 0 (every key
 * visited), fn's non-zero value, MP_ETIMEDOUT (a part that kept changing
 * stayed held; fn was not called), MP_ENOMEM (no memory for the copy), or
 * MP_EINVAL (d or fn NULL). */
MP_EXTERN int mp_dict_items(mp_dict *d,
                            int (*fn)(const void *key, size_t klen, const void *val, size_t vlen,
                                      void *ud),
                            void *ud);

/* mp_dict_items_timed is mp_dict_items with its own bound on the wait
 * for stripes. */
MP_EXTERN int mp_dict_items_timed(mp_dict *d,
                                  int (*fn)(const void *key, size_t klen, const void *val,
                                            size_t vlen, void *ud),
                                  void *ud, double timeout);

/* mp_dict_set_str stores the string val under the string key (both
 * without their NUL): mp_dict_set(d, key, strlen(key), val, strlen(val)).
 * Returns as mp_dict_set; MP_EINVAL for a NULL key or val. */
MP_EXTERN int mp_dict_set_str(mp_dict *d, const char *key, const char *val);

/* mp_dict_get_str sets *val to a malloc'd NUL-terminated copy of the
 * string key's value (free() it; bytes after an embedded NUL are kept but
 * hidden from string functions). Returns as mp_dict_get_alloc; MP_EINVAL
 * for a NULL key or val. */
MP_EXTERN int mp_dict_get_str(mp_dict *d, const char *key, char **val);

/* mp_dict_free frees the dict and every key and value in it. Call it once,
 * in one process, when no other process uses the dict any more.
 * mp_dict_free(NULL) does nothing. */
MP_EXTERN void mp_dict_free(mp_dict *d);

#ifdef __cplusplus
}
#endif
#endif /* MP_DICT_H */
