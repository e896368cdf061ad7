/* mp/sync.h - locks, semaphores, events, conditions and barriers shared by
 * every process of the family. */
#ifndef MP_SYNC_H
#define MP_SYNC_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mp_lock mp_lock;
typedef struct mp_rlock mp_rlock;
typedef struct mp_semaphore mp_semaphore;
typedef struct mp_event mp_event;
typedef struct mp_condition mp_condition;
typedef struct mp_barrier mp_barrier;

MP_EXTERN mp_lock *mp_lock_new(void);
MP_EXTERN int mp_lock_acquire(mp_lock *l, double timeout);
MP_EXTERN int mp_lock_release(mp_lock *l);
MP_EXTERN void mp_lock_free(mp_lock *l);

MP_EXTERN mp_rlock *mp_rlock_new(void);
MP_EXTERN int mp_rlock_acquire(mp_rlock *l, double timeout);
MP_EXTERN int mp_rlock_release(mp_rlock *l);
MP_EXTERN void mp_rlock_free(mp_rlock *l);

MP_EXTERN mp_semaphore *mp_semaphore_new(unsigned value);
MP_EXTERN mp_semaphore *mp_bounded_semaphore_new(unsigned value);
MP_EXTERN int mp_semaphore_acquire(mp_semaphore *s, double timeout);
MP_EXTERN int mp_semaphore_release(mp_semaphore *s);
MP_EXTERN int mp_semaphore_get_value(const mp_semaphore *s);
MP_EXTERN void mp_semaphore_free(mp_semaphore *s);

MP_EXTERN mp_event *mp_event_new(void);
MP_EXTERN int mp_event_set(mp_event *e);
MP_EXTERN int mp_event_clear(mp_event *e);
MP_EXTERN bool mp_event_is_set(const mp_event *e);
MP_EXTERN int mp_event_wait(mp_event *e, double timeout);
MP_EXTERN void mp_event_free(mp_event *e);

MP_EXTERN mp_condition *mp_condition_new(mp_lock *lock);
MP_EXTERN int mp_condition_acquire(mp_condition *c, double timeout);
MP_EXTERN int mp_condition_release(mp_condition *c);
MP_EXTERN int mp_condition_wait(mp_condition *c, double timeout);
MP_EXTERN int mp_condition_wait_for(mp_condition *c, bool (*pred)(void *arg), void *arg,
                                    double timeout);
MP_EXTERN int mp_condition_notify(mp_condition *c, int n);
MP_EXTERN int mp_condition_notify_all(mp_condition *c);
MP_EXTERN void mp_condition_free(mp_condition *c);

MP_EXTERN mp_barrier *mp_barrier_new(unsigned parties);
MP_EXTERN int mp_barrier_wait(mp_barrier *b, double timeout);
MP_EXTERN int mp_barrier_abort(mp_barrier *b);
MP_EXTERN int mp_barrier_reset(mp_barrier *b);
MP_EXTERN bool mp_barrier_broken(const mp_barrier *b);
MP_EXTERN int mp_barrier_parties(const mp_barrier *b);
MP_EXTERN int mp_barrier_n_waiting(const mp_barrier *b);
MP_EXTERN void mp_barrier_free(mp_barrier *b);

#ifdef __cplusplus
}
#endif
#endif /* MP_SYNC_H */
