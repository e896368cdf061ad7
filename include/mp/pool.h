/* mp/pool.h - a pool of worker processes (Python's multiprocessing.Pool). */
#ifndef MP_POOL_H
#define MP_POOL_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mp_pool mp_pool;
typedef struct mp_async mp_async;
typedef struct mp_imap mp_imap;

typedef int (*mp_task_fn)(const void *arg, void *result); /* 0 = success, else the task's code */

typedef struct {
    int processes; /* 0 -> mp_cpu_count() */
    void (*initializer)(void *initarg);
    void *initarg;
    size_t maxtasksperchild; /* 0 -> workers live as long as the pool */
} mp_pool_opts;

typedef struct {
    void (*callback)(void *result, void *userdata); /* run in the parent */
    void (*error_callback)(int code, int task_error, void *userdata);
    void *userdata;
} mp_callbacks;

MP_EXTERN mp_pool *mp_pool_new(int processes);
MP_EXTERN mp_pool *mp_pool_new_opts(const mp_pool_opts *opts);
MP_EXTERN int mp_pool_apply(mp_pool *p, mp_task_fn fn, const void *arg, size_t arg_size,
                            void *result, size_t result_size);
MP_EXTERN mp_async *mp_pool_apply_async(mp_pool *p, mp_task_fn fn, const void *arg,
                                        size_t arg_size, size_t result_size,
                                        const mp_callbacks *cb);
MP_EXTERN int mp_pool_map(mp_pool *p, mp_task_fn fn, const void *args, size_t n, size_t arg_size,
                          void *results, size_t result_size, size_t chunksize);
MP_EXTERN mp_async *mp_pool_map_async(mp_pool *p, mp_task_fn fn, const void *args, size_t n,
                                      size_t arg_size, size_t result_size, size_t chunksize,
                                      const mp_callbacks *cb);
MP_EXTERN mp_imap *mp_pool_imap(mp_pool *p, mp_task_fn fn, const void *args, size_t n,
                                size_t arg_size, size_t result_size, size_t chunksize);
MP_EXTERN mp_imap *mp_pool_imap_unordered(mp_pool *p, mp_task_fn fn, const void *args, size_t n,
                                          size_t arg_size, size_t result_size, size_t chunksize);
MP_EXTERN int mp_imap_next(mp_imap *it, void *result, size_t *index, double timeout);
MP_EXTERN int mp_imap_task_error(const mp_imap *it);
MP_EXTERN void mp_imap_free(mp_imap *it);
MP_EXTERN int mp_pool_close(mp_pool *p);
MP_EXTERN int mp_pool_terminate(mp_pool *p);
MP_EXTERN int mp_pool_join(mp_pool *p);
MP_EXTERN void mp_pool_free(mp_pool *p);

MP_EXTERN int mp_async_get(mp_async *a, void *result, double timeout);
MP_EXTERN int mp_async_wait(mp_async *a, double timeout);
MP_EXTERN bool mp_async_ready(const mp_async *a);
MP_EXTERN bool mp_async_successful(const mp_async *a);
MP_EXTERN int mp_async_task_error(const mp_async *a);
MP_EXTERN void mp_async_free(mp_async *a);

#ifdef __cplusplus
}
#endif
#endif /* MP_POOL_H */
