/* mp/sync.h - locks, semaphores, events, conditions and barriers shared by
 * every process of the family.
 *
 * Every object lives in the shared heap: a pointer to it is valid in every
 * process of the family, whether the object was made before or after the
 * process started (send the pointer through a pipe or a queue). Objects
 * work between the threads of one process too.
 *
 * Timeouts, in every call that may block: seconds as a double. MP_FOREVER
 * blocks until done; 0 (or a negative value) tries once and never sleeps;
 * NaN is MP_EINVAL. Waits are measured on CLOCK_MONOTONIC and go on after
 * a signal handler runs (EINTR is never returned), keeping their deadline.
 *
 * Death. A process killed while it holds an mp_lock, an mp_rlock or a
 * condition's lock never leaves the others blocked forever: the next
 * acquirer gets MP_EOWNERDEAD, within about 0.2 s of the death, and holds
 * the lock; whatever the lock guarded may be half-updated. Semaphores and
 * events have no owner, so they rely on timeouts.
 *
 * A holder is taken for dead only on proof, never on a guess, since a
 * wrong "dead" would let two processes in: kill(tid, 0) says no such
 * task, its pidfd says the process ended, or /proc - once checked to be
 * this system's procfs - shows it a zombie. Where none can tell (no
 * pidfd, /proc missing or covered), the holder counts as alive, and a
 * dead one is found only once its process is reaped; until then waiters
 * time out as they would behind a live holder. A holder's thread id that
 * the kernel hands to a new thread (pid_max wrap-around) looks alive.
 *
 * The *_free calls release an object; call one once, in one process, when
 * no one uses the object any more. Each accepts NULL and does nothing. */
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

/* mp_lock_new returns a new unlocked lock (Python's Lock), or NULL with
 * errno = ENOMEM. */
MP_EXTERN mp_lock *mp_lock_new(void);

/* mp_lock_acquire takes the lock, waiting up to timeout seconds. Returns
 * 0; MP_ETIMEDOUT if it stayed held; MP_EOWNERDEAD when the lock is now
 * held by the caller but its previous holder died holding it; MP_EINVAL
 * for NULL or a NaN timeout. The lock is not recursive: a second acquire
 * by the holder waits (and times out). Uncontended, it costs one atomic
 * instruction and no system call; contended, it sleeps in the kernel. */
MP_EXTERN int mp_lock_acquire(mp_lock *l, double timeout);

/* mp_lock_release unlocks the lock. As in Python any thread of any
 * process may release it, not only the one that took it (a child
 * acquires, the parent releases); a lock whose holder died is simply
 * unlocked. Returns 0, MP_EVALUE if the lock was not held, MP_EINVAL for
 * NULL. Never blocks. */
MP_EXTERN int mp_lock_release(mp_lock *l);

/* mp_lock_free frees the lock; NULL does nothing. */
MP_EXTERN void mp_lock_free(mp_lock *l);

/* mp_rlock_new returns a new recursive lock (Python's RLock), or NULL with
 * errno = ENOMEM. Its owner is one thread of one process. */
MP_EXTERN mp_rlock *mp_rlock_new(void);

/* mp_rlock_acquire takes the lock, or takes it once more when the caller
 * already owns it (that never blocks). Returns 0, MP_ETIMEDOUT,
 * MP_EOWNERDEAD (owned now, at depth 1; the previous owner died holding
 * it), MP_EINVAL (NULL, NaN timeout), or -EOVERFLOW past 2^32-1 levels.
 * A forked child does not own its parent's rlocks. */
MP_EXTERN int mp_rlock_acquire(mp_rlock *l, double timeout);

/* mp_rlock_release drops one level; the lock is free once every acquire
 * has been released. Returns 0, MP_ENOTOWNER when the caller (this thread
 * of this process) does not own it, free or not, MP_EINVAL for NULL. */
MP_EXTERN int mp_rlock_release(mp_rlock *l);

/* mp_rlock_free frees the lock; NULL does nothing. */
MP_EXTERN void mp_rlock_free(mp_rlock *l);

/* mp_semaphore_new returns a semaphore holding value (Python's
 * Semaphore), or NULL with errno = EINVAL when value exceeds SEM_VALUE_MAX,
 * ENOMEM when memory ran out. */
MP_EXTERN mp_semaphore *mp_semaphore_new(unsigned value);

/* mp_bounded_semaphore_new is mp_semaphore_new for a semaphore that may
 * never be released above its initial value (BoundedSemaphore). */
MP_EXTERN mp_semaphore *mp_bounded_semaphore_new(unsigned value);

/* mp_semaphore_acquire takes one unit, waiting up to timeout seconds for
 * the value to be positive. Returns 0, MP_ETIMEDOUT, or MP_EINVAL (NULL,
 * NaN timeout). Uncontended it makes no system call. */
MP_EXTERN int mp_semaphore_acquire(mp_semaphore *s, double timeout);

/* mp_semaphore_release adds one unit and wakes one waiter. Any thread of
 * any process may release. Returns 0; MP_EVALUE when a bounded semaphore
 * is already at its initial value; -EOVERFLOW at SEM_VALUE_MAX; MP_EINVAL
 * for NULL. Nothing changes on failure. Never blocks. */
MP_EXTERN int mp_semaphore_release(mp_semaphore *s);

/* mp_semaphore_get_value returns the current value (>= 0), or MP_EINVAL
 * for NULL. */
MP_EXTERN int mp_semaphore_get_value(const mp_semaphore *s);

/* mp_semaphore_free frees the semaphore; NULL does nothing. */
MP_EXTERN void mp_semaphore_free(mp_semaphore *s);

/* mp_event_new returns a new event, not set (Python's Event), or NULL with
 * errno = ENOMEM. */
MP_EXTERN mp_event *mp_event_new(void);

/* mp_event_set sets the flag and wakes every waiter. Returns 0, MP_EINVAL
 * for NULL. */
MP_EXTERN int mp_event_set(mp_event *e);

/* mp_event_clear lowers the flag. Returns 0, MP_EINVAL for NULL. */
MP_EXTERN int mp_event_clear(mp_event *e);

/* mp_event_is_set tells whether the flag is set (false for NULL). */
MP_EXTERN bool mp_event_is_set(const mp_event *e);

/* mp_event_wait returns 0 at once if the flag is set, else waits up to
 * timeout seconds for mp_event_set. Returns 0 when the flag was set during
 * the wait (even if cleared again since, as threading.Event), MP_ETIMEDOUT,
 * MP_EINVAL (NULL, NaN timeout). */
MP_EXTERN int mp_event_wait(mp_event *e, double timeout);

/* mp_event_free frees the event; NULL does nothing. */
MP_EXTERN void mp_event_free(mp_event *e);

/* mp_condition_new returns a condition variable over lock (Python's
 * Condition), or NULL with errno = ENOMEM. With lock NULL the condition
 * makes its own recursive lock, as Python does (an RLock). The caller
 * keeps ownership of a lock it passes, which must outlive the condition. */
MP_EXTERN mp_condition *mp_condition_new(mp_lock *lock);

/* mp_condition_acquire takes the condition's lock: mp_lock_acquire or
 * mp_rlock_acquire, with their return codes (MP_EOWNERDEAD included). */
MP_EXTERN int mp_condition_acquire(mp_condition *c, double timeout);

/* mp_condition_release releases the condition's lock, with the codes of
 * mp_lock_release or mp_rlock_release. */
MP_EXTERN int mp_condition_release(mp_condition *c);

/* mp_condition_wait releases the lock (every level of a recursive one),
 * sleeps until a notify picks this waiter or timeout seconds pass, then
 * takes the lock back (waiting as long as that takes) and returns. The
 * caller must hold the lock: else MP_ESTATE and nothing happens. Returns
 * 0 when notified, MP_ETIMEDOUT when the time ran out first (a notify that
 * picked the waiter before it got the lock back counts as notified),
 * MP_EOWNERDEAD when the lock was taken back from a holder that died (held
 * now; notified or not, unknown: re-check the state), MP_EINVAL (NULL,
 * NaN timeout), MP_ENOMEM. No waiter returns without a notify or its
 * timeout (no spurious wake-ups); still, test the state in a loop, or use
 * mp_condition_wait_for. */
MP_EXTERN int mp_condition_wait(mp_condition *c, double timeout);

/* mp_condition_wait_for waits until pred(arg) is true (Python's wait_for):
 * pred is called with the lock held, first before any wait and then after
 * every wake-up. Returns 0 once pred returned true, MP_ETIMEDOUT when
 * timeout seconds passed with pred false, or what mp_condition_wait
 * returned otherwise (MP_ESTATE, MP_EOWNERDEAD, ...); MP_EINVAL for NULL c
 * or pred. */
MP_EXTERN int mp_condition_wait_for(mp_condition *c, bool (*pred)(void *arg), void *arg,
                                    double timeout);

/* mp_condition_notify wakes the n longest-waiting threads (fewer if fewer
 * wait). Waiters whose process died are skipped, so they never swallow a
 * notify meant for a live one. The caller must hold the lock: else
 * MP_ESTATE. Returns 0, MP_EINVAL (NULL, n < 0). Never blocks. */
MP_EXTERN int mp_condition_notify(mp_condition *c, int n);

/* mp_condition_notify_all wakes every waiter; as mp_condition_notify. */
MP_EXTERN int mp_condition_notify_all(mp_condition *c);

/* mp_condition_free frees the condition (and its own lock, not a lock
 * passed to mp_condition_new); NULL does nothing. */
MP_EXTERN void mp_condition_free(mp_condition *c);

/* mp_barrier_new returns a barrier for parties parties (threading.Barrier
 * across processes), or NULL with errno = EINVAL when parties is 0 or above
 * INT32_MAX, ENOMEM when memory ran out. */
MP_EXTERN mp_barrier *mp_barrier_new(unsigned parties);

/* mp_barrier_wait waits until parties callers have called it, then returns
 * at once in each of them, with its arrival index 0..parties-1 (the last to
 * arrive gets parties-1); the barrier is ready for the next round. Returns
 * MP_EBROKEN if the barrier is broken, or gets broken while waiting: when
 * this wait times out (which breaks it for every party), another's timed
 * out, mp_barrier_abort or mp_barrier_reset was called. MP_EINVAL for NULL
 * or a NaN timeout, MP_ENOMEM. A party killed while waiting still counts as
 * arrived. (One killed inside the few instructions during which a call
 * holds the barrier's internal lock breaks the barrier instead.) */
MP_EXTERN int mp_barrier_wait(mp_barrier *b, double timeout);

/* mp_barrier_abort breaks the barrier: current and future waits return
 * MP_EBROKEN until mp_barrier_reset. Returns 0, MP_EINVAL for NULL. */
MP_EXTERN int mp_barrier_abort(mp_barrier *b);

/* mp_barrier_reset makes the barrier whole and empty again; parties
 * waiting at that moment return MP_EBROKEN. Returns 0, MP_EINVAL for
 * NULL. */
MP_EXTERN int mp_barrier_reset(mp_barrier *b);

/* mp_barrier_broken tells whether the barrier is broken (false for NULL). */
MP_EXTERN bool mp_barrier_broken(const mp_barrier *b);

/* mp_barrier_parties returns the parties per round, MP_EINVAL for NULL. */
MP_EXTERN int mp_barrier_parties(const mp_barrier *b);

/* mp_barrier_n_waiting returns how many parties of the current round have
 * arrived (0 when broken), MP_EINVAL for NULL. */
MP_EXTERN int mp_barrier_n_waiting(const mp_barrier *b);

/* mp_barrier_free frees the barrier; NULL does nothing. */
MP_EXTERN void mp_barrier_free(mp_barrier *b);

#ifdef __cplusplus
}
#endif
#endif /* MP_SYNC_H */
