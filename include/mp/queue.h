/* mp/queue.h - Python's Queue, SimpleQueue and JoinableQueue in one type:
 * chunks of byte messages in the shared heap.
 *
 * A queue is usable from every process of the family, whenever it was
 * created (a pointer to it may be sent to a process that already runs, for
 * example through another queue). Messages are byte strings of any length,
 * zero included; each is delivered exactly once, in FIFO order across all
 * producers (so in order per producer). A message is copied in on put and
 * out on get.
 *
 * Storage. Messages live in chunks of mp_queue_opts.capacity bytes in the
 * shared heap, each holding many messages; the queue takes a new chunk
 * when the last one is full and frees each chunk once it is drained. A
 * message larger than a quarter of a chunk is stored out of line, in its
 * own block. So the chunk size never makes a put fail or wait: only
 * maxsize (a count of items) makes a queue full. The chunk size is a
 * speed setting.
 *
 * Concurrency. Producers and consumers each have a lock and a cursor of
 * their own, on separate cache lines, and neither lock is held while
 * message bytes are copied: a put reserves its place under the producers'
 * lock, copies outside it and publishes with one store; a get claims the
 * oldest published message under the consumers' lock and copies it out
 * after. So a producer and a consumer on different cores share only the
 * cache lines of the messages themselves.
 *
 * Stopped or slow processes. Every call keeps its timeout whatever other
 * processes do: a process stopped (SIGSTOP, a debugger) while it holds one
 * of the two locks, which it does for a few stores, makes the calls of its
 * own side that need that lock time out (MP_EFULL, MP_EEMPTY), never the
 * other side's. A producer stopped between reserving and publishing holds
 * back the messages queued behind its own (FIFO) until it resumes: gets
 * time out with MP_EEMPTY meanwhile. *_nowait calls never sleep; they may
 * spin a few microseconds for a lock whose holder is running. qsize,
 * empty, full and closed read published counters and never wait.
 *
 * Crash safety. A process killed at any point inside a queue call never
 * corrupts the queue nor blocks the others: at most the message it was
 * putting or getting is lost (never delivered twice, never seen half
 * written). A message a dead producer had reserved is skipped, and one a
 * dead consumer had claimed is dropped, once they have been held for a
 * tenth of a second and the holder is found dead; the out-of-line blocks
 * they held are freed then. A block or chunk can leak only if the process
 * dies within a few instructions of allocating it or of releasing it.
 * Queue calls never return MP_EOWNERDEAD. */
#ifndef MP_QUEUE_H
#define MP_QUEUE_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mp_queue mp_queue;

typedef struct {
    size_t maxsize;  /* items; 0 = no limit (Python's Queue()) */
    size_t capacity; /* bytes per storage chunk; 0 = library default (1 MiB) */
} mp_queue_opts;

/* mp_queue_new creates a queue holding at most maxsize messages (0: no
 * limit) with the default chunk size. Returns NULL with errno = ENOMEM when the
 * shared heap is exhausted. Python's Queue(maxsize), SimpleQueue() and
 * JoinableQueue(maxsize) are all this call. */
MP_EXTERN mp_queue *mp_queue_new(size_t maxsize);

/* mp_queue_new_opts creates a queue with the given options; NULL opts
 * takes the defaults. The capacity is the size of a storage chunk (at
 * least 512 bytes; a power of two wastes nothing in the heap). Returns NULL
 * with errno = ENOMEM when the shared heap cannot hold the first chunk (or
 * capacity exceeds 1 TiB). */
MP_EXTERN mp_queue *mp_queue_new_opts(const mp_queue_opts *opts);

/* mp_queue_put appends a copy of the len bytes at msg (msg may be NULL when
 * len is 0). While the queue holds maxsize messages it waits up to timeout
 * seconds for room (MP_FOREVER: no limit; 0: never waits). Returns 0,
 * MP_EFULL when still full at the timeout (or when the timeout ran out
 * behind a producer stopped while holding the producers' lock),
 * MP_ECLOSED once the queue is closed (also when closed while waiting),
 * MP_EMSGSIZE when the shared heap cannot hold the message out of line,
 * MP_ENOMEM when it cannot hold a new chunk, MP_EINVAL for a NULL queue,
 * NULL msg with len > 0, or a NaN timeout. On failure nothing is queued.
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
MP_EXTERN int mp_queue_put_many(mp_queue *q, const void *const *msgs, const size_t *lens, size_t n,
                                size_t *done, double timeout);

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

/* mp_queue_qsize returns the number of messages queued at the moment of
 * the call (0 for NULL): put (including puts still copying) and not yet
 * taken. Unlike Python's, it works everywhere. Never waits. */
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
