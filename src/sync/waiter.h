/* waiter.h - one sleeping thread, as a node in the shared heap.
 *
 * A condition variable or a barrier keeps the threads that sleep on it in
 * a list of these nodes, guarded by the object's lock. Each node has its
 * own futex word, so a waker picks exactly whom it wakes (notify(n) wakes
 * at most n) and can write each sleeper its outcome. The node records its
 * thread's tid, so a waker can tell a node whose process died from a live
 * one and not spend a wake-up on it.
 *
 * Each thread owns one node, allocated at its first wait and reused (a
 * thread sleeps in one place at a time); it is freed when the thread
 * exits. A node left in a list by a killed process is unlinked by whoever
 * finds it dead, and leaked: its thread may, in a rare race, have seen its
 * outcome and exited normally (freeing the node) just before the check, so
 * freeing it here could free it twice. 24 bytes per process killed inside
 * a wait is the price. */
#ifndef MP_INTERNAL_WAITER_H
#define MP_INTERNAL_WAITER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "os/clock.h"
#include "sync/lock.h"

typedef struct mp__waiter mp__waiter;
struct mp__waiter {
    _Atomic uint32_t word; /* 0 while waiting; the waker stores the outcome (> 0) */
    pid_t tid;             /* owning thread's kernel tid */
    mp__waiter *prev;      /* neighbours in the list it waits in; guarded by that list's lock */
    mp__waiter *next;
};
_Static_assert(sizeof(mp__waiter) == 24, "waiter node layout");

/* A list of sleeping threads, FIFO. Guarded by its owner's lock. */
typedef struct {
    mp__waiter *head; /* oldest waiter, NULL when empty */
    mp__waiter *tail; /* newest waiter */
} mp__waitlist;

/* mp__waiter_self returns the calling thread's node with its word reset to
 * 0, ready to be queued; NULL with errno = ENOMEM if it cannot be made. */
mp__waiter *mp__waiter_self(void);

/* mp__waiter_abandon gives up the calling thread's node w while it is
 * still in a list that cannot be unlocked in time (its lock's holder is
 * stopped): the node is marked as having no thread, so a waker passes it
 * over as dead, and the thread makes a new node for its next wait. The
 * old one stays in the list until some waker unlinks it, and is leaked
 * (24 bytes). */
void mp__waiter_abandon(mp__waiter *w);

/* mp__waitlist_push queues w at the tail. */
void mp__waitlist_push(mp__waitlist *list, mp__waiter *w);

/* mp__waitlist_contains tells whether w is queued in list. */
static inline bool mp__waitlist_contains(const mp__waitlist *list, const mp__waiter *w)
{
    return w->prev != NULL || list->head == w;
}

/* mp__waitlist_remove unlinks w, which must be in list. */
void mp__waitlist_remove(mp__waitlist *list, mp__waiter *w);

/* mp__waitlist_wake takes up to n waiters from the head, stores outcome
 * in each and wakes it. A node whose thread is dead is unlinked and not
 * counted, and the next one is taken in its place; when every waiter left
 * is taken anyway, who is alive changes nothing and is not checked (such
 * nodes count as woken). Returns the number of waiters woken. */
int mp__waitlist_wake(mp__waitlist *list, int n, uint32_t outcome);

/* mp__waitlist_notify is mp__waitlist_wake for waiters that will take
 * held, the lock the caller holds, when they wake: where it can, it
 * defers their futex wakes to the release of held (mp__lock_defer_wake),
 * so they wake to a free lock. */
int mp__waitlist_notify(mp__waitlist *list, int n, uint32_t outcome, mp__lock *held);

/* mp__waiter_sleep sleeps until w's word is non-zero or the deadline
 * passes, surviving signals. It looks at the word every MP__WAIT_SLICE
 * even without a wake-up, so a wake that is never sent (the notifier
 * died, or deferred it to a release another thread made) delays it by one
 * slice at most. Returns the word (0 on timeout). */
uint32_t mp__waiter_sleep(mp__waiter *w, const mp__deadline *d);

#endif
