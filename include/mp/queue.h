/* mp/queue.h - Python's Queue, SimpleQueue and JoinableQueue in one type:
 * a ring of byte messages in the shared heap.
 *
 * A queue is usable from every process of the family, whenever it was
 * created (a pointer to it may be sent to a process that already runs, for
 * example through another queue). Messages are byte strings of any length,
 * zero included; each is delivered exactly once, in FIFO order across all
 * producers (so in order per producer). A message is copied in on put and
 * out on get.
 *
 * Storage. Messages live in a ring of mp_queue_opts.capacity bytes. A
 * message larger than a quarter of the ring is stored out of line, in
 * its own shared-heap block; messages that find the ring full go into
 * overflow chunks (shared-heap blocks of a quarter of the ring, 4 KiB to
 * 64 KiB, each holding many small messages) until the ring is drained. So the ring size never makes a put fail or wait: only maxsize
 * (a count of items) makes a queue full. The ring size is a speed setting.
 *
 * Crash safety. A process killed at any point inside a queue call never
 * corrupts the queue nor blocks the others: at most the message it was
 * putting or getting is lost (never delivered twice, never seen half
 * written), and an out-of-line block or overflow chunk it held may leak. Queue calls never
 * return MP_EOWNERDEAD. */
#ifndef MP_QUEUE_H
#define MP_QUEUE_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mp_queue mp_queue;

typedef struct {
    size_t maxsize;  /* items; 0 = no limit (Python's Queue()) */
    size_t capacity; /* bytes of ring storage; 0 = library default (1 MiB) */
} mp_queue_opts;

/* mp_queue_new creates a queue holding at most maxsize messages (0: no
 * limit) with the default ring. Returns NULL with errno = ENOMEM when the
 * shared heap is exhausted. Python's Queue(maxsize), SimpleQueue() and
 * JoinableQueue(maxsize) are all this call. */
MP_EXTERN mp_queue *mp_queue_new(size_t maxsize);

/* mp_queue_new_opts creates a queue with the given options; NULL opts
 * takes the defaults. The capacity is rounded up to a power of two (at
 * least 256 bytes). Returns NULL with errno = ENOMEM when the shared heap
 * cannot hold the ring (or capacity exceeds 1 TiB). */
MP_EXTERN mp_queue *mp_queue_new_opts(const mp_queue_opts *opts);

/* mp_queue_put appends a copy of the len bytes at msg (msg may be NULL when
 * len is 0). While the queue holds maxsize messages it waits up to timeout
 * seconds for room (MP_FOREVER: no limit; 0: never waits). Returns 0,
 * MP_EFULL when still full at the timeout, MP_ECLOSED once the queue is
 * closed (also when closed while waiting), MP_EMSGSIZE when the shared heap
 * cannot hold the message out of line, MP_ENOMEM when it cannot hold the
 * overflow chunk or block for a message that found the ring full, MP_EINVAL for a NULL queue, NULL
 * msg with len > 0, or a NaN timeout. On failure nothing is queued.
 * Uncontended, it makes no system call. */
MP_EXTERN int mp_queue_put(mp_queue *q, const void *msg, size_t len, double timeout);

/* mp_queue_get removes the oldest message and copies it into buf (cap
 * bytes), setting *len to its length. While the queue is empty it waits up
 * to timeout seconds. Returns 0; MP_EEMPTY when still empty at the timeout;
 * MP_ECLOSED when the queue is closed and empty (at once, without waiting);
 * MP_EMSGSIZE when the message is longer than cap: *len is then set to its
 * length and the message stays at the head of the queue; MP_EINVAL for a
 * NULL queue, NULL buf with cap > 0, NULL len or a NaN timeout. */
MP_EXTERN int mp_queue_get(mp_queue *q, void *buf, size_t cap, size_t *len, double timeout);

/* mp_queue_get_alloc is mp_queue_get into a malloc'd copy: *msg gets the
 * message (the caller free()s it; a zero-length message still gets a
 * non-NULL pointer) and *len its length. Returns as mp_queue_get, with
 * MP_ENOMEM (message kept) when malloc fails, and never MP_EMSGSIZE. */
MP_EXTERN int mp_queue_get_alloc(mp_queue *q, void **msg, size_t *len, double timeout);

/* mp_queue_put_nowait is mp_queue_put with timeout 0 (MP_EFULL at once). */
MP_EXTERN int mp_queue_put_nowait(mp_queue *q, const void *msg, size_t len);

/* mp_queue_get_nowait is mp_queue_get with timeout 0 (MP_EEMPTY at once). */
MP_EXTERN int mp_queue_get_nowait(mp_queue *q, void *buf, size_t cap, size_t *len);

/* mp_queue_put_many puts n messages (msgs[i], lens[i] bytes) in order, as n
 * calls of mp_queue_put would, but taking the lock once for a run of
 * small messages, which multiplies throughput. Another producer's messages
 * may land between them. It waits up to timeout seconds in all for room.
 * *done (may be NULL) gets the number put, which are queued even when the
 * call fails. Returns 0 when all n are queued, else the error of the first
 * that was not (MP_EFULL, MP_ECLOSED, MP_EMSGSIZE, MP_ENOMEM); MP_EINVAL
 * (nothing put) for a NULL queue, NULL arrays with n > 0, a NULL message
 * with length > 0, or a NaN timeout. */
MP_EXTERN int mp_queue_put_many(mp_queue *q, const void *const *msgs, const size_t *lens,
                                size_t n, size_t *done, double timeout);

/* mp_queue_get_many removes up to max messages at once, waiting up to
 * timeout seconds for the first, then taking those already queued that
 * fit. They are packed one after another into buf (cap bytes): message i
 * starts at the sum of lens[0..i-1]. *n gets the count. An out-of-line
 * message ends the batch. Returns 0 (*n >= 1), or as mp_queue_get:
 * MP_EEMPTY, MP_ECLOSED, or MP_EMSGSIZE when the first message does not
 * fit (lens[0] = its length; it stays queued); MP_EINVAL for NULL lens or
 * n, NULL buf with cap > 0, max 0 or a NaN timeout. */
MP_EXTERN int mp_queue_get_many(mp_queue *q, void *buf, size_t cap, size_t *lens, size_t max,
                                size_t *n, double timeout);

/* mp_queue_qsize returns the exact number of messages queued at the moment
 * of the call (0 for NULL). Unlike Python's, it works everywhere. */
MP_EXTERN size_t mp_queue_qsize(const mp_queue *q);

/* mp_queue_empty tells whether qsize is 0 (true for NULL). */
MP_EXTERN bool mp_queue_empty(const mp_queue *q);

/* mp_queue_full tells whether the queue holds maxsize messages; always
 * false without a maxsize (and for NULL). */
MP_EXTERN bool mp_queue_full(const mp_queue *q);

/* mp_queue_close closes the queue for every process: later puts return
 * MP_ECLOSED; gets return what is still queued, then MP_ECLOSED at once.
 * Every blocked put and get wakes up. Closing twice is fine. This replaces
 * the sentinel ("None") messages of Python programs. Returns 0, or
 * MP_EINVAL for NULL. It frees nothing: see mp_queue_free. */
MP_EXTERN int mp_queue_close(mp_queue *q);

/* mp_queue_closed tells whether mp_queue_close was called (false for NULL). */
MP_EXTERN bool mp_queue_closed(const mp_queue *q);

/* mp_queue_task_done tells a JoinableQueue that one message taken earlier
 * has been processed. Returns 0, MP_EVALUE when called more times than
 * messages were put, MP_EINVAL for NULL. */
MP_EXTERN int mp_queue_task_done(mp_queue *q);

/* mp_queue_join waits up to timeout seconds until every message ever put
 * has been matched by a mp_queue_task_done. Returns 0, MP_ETIMEDOUT, or
 * MP_EINVAL for NULL or a NaN timeout. */
MP_EXTERN int mp_queue_join(mp_queue *q, double timeout);

/* mp_queue_free frees the queue and every message still in it. Call it
 * once, in one process, when no other process uses the queue any more.
 * mp_queue_free(NULL) does nothing. */
MP_EXTERN void mp_queue_free(mp_queue *q);

/* Typed helpers. The message is the value's 8 bytes (native byte order),
 * or the string without its NUL. A typed get meeting a message of another
 * size returns MP_EMSGSIZE and leaves it queued. Otherwise they return as
 * mp_queue_put and mp_queue_get; NULL v, s or *s pointer is MP_EINVAL.
 * mp_queue_get_str sets *s to a malloc'd NUL-terminated copy (free() it). */
MP_EXTERN int mp_queue_put_i64(mp_queue *q, int64_t v, double timeout);
MP_EXTERN int mp_queue_get_i64(mp_queue *q, int64_t *v, double timeout);
MP_EXTERN int mp_queue_put_f64(mp_queue *q, double v, double timeout);
MP_EXTERN int mp_queue_get_f64(mp_queue *q, double *v, double timeout);
MP_EXTERN int mp_queue_put_str(mp_queue *q, const char *s, double timeout);
MP_EXTERN int mp_queue_get_str(mp_queue *q, char **s, double timeout);

#ifdef __cplusplus
}
#endif
#endif /* MP_QUEUE_H */
