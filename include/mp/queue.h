/* mp/queue.h - Python's Queue, SimpleQueue and JoinableQueue in one type:
 * a ring of byte messages in the shared heap. */
#ifndef MP_QUEUE_H
#define MP_QUEUE_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mp_queue mp_queue;

typedef struct {
    size_t maxsize;  /* items; 0 = no limit (Python's Queue()) */
    size_t capacity; /* bytes of ring storage; 0 = library default */
} mp_queue_opts;

MP_EXTERN mp_queue *mp_queue_new(size_t maxsize);
MP_EXTERN mp_queue *mp_queue_new_opts(const mp_queue_opts *opts);
MP_EXTERN int mp_queue_put(mp_queue *q, const void *msg, size_t len, double timeout);
MP_EXTERN int mp_queue_get(mp_queue *q, void *buf, size_t cap, size_t *len, double timeout);
MP_EXTERN int mp_queue_get_alloc(mp_queue *q, void **msg, size_t *len, double timeout);
MP_EXTERN int mp_queue_put_nowait(mp_queue *q, const void *msg, size_t len);
MP_EXTERN int mp_queue_get_nowait(mp_queue *q, void *buf, size_t cap, size_t *len);
MP_EXTERN size_t mp_queue_qsize(const mp_queue *q);
MP_EXTERN bool mp_queue_empty(const mp_queue *q);
MP_EXTERN bool mp_queue_full(const mp_queue *q);
MP_EXTERN int mp_queue_close(mp_queue *q);
MP_EXTERN int mp_queue_task_done(mp_queue *q);
MP_EXTERN int mp_queue_join(mp_queue *q, double timeout);
MP_EXTERN void mp_queue_free(mp_queue *q);

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
