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
 * thread sleeps in one place at a time). When the thread exits its node
 * goes to its process's spare list, for the next thread's first wait, and
 * never back to the heap: a waker that died in the middle of a notify
 * leaves a pointer to it behind (mp__waitlist.taking), which the list's
 * next holder follows, so the node must stay a node, its generation
 * saying whether it still waits for that notify. A node left in a list by
 * a killed process is unlinked by whoever finds it dead, and leaked: 32
 * bytes per process killed inside a wait. */
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
    _Atomic uint32_t gen;  /* bumped at each wait (mp__waiter_self) */
};
_Static_assert(sizeof(mp__waiter) == 32, "waiter node layout");

/* A list of sleeping threads, FIFO. Guarded by its owner's lock.
 *
 * A holder of that lock can be killed in the middle of an update. Each
 * update changes the forward chain (head and next) with one store, so
 * the chain is always whole; prev and tail are derived, and busy, set
 * for the length of an update, tells the next holder that a dead one left
 * them half done: it rebuilds them from the chain before anything else
 * (a stale prev would otherwise unlink the wrong node later, and cut off
 * every waiter behind it from its notify). A waker names the node it is
 * taking out (taking, at generation taking_gen, to get outcome) before it
 * unlinks it; the next holder finishes that notify if its waker died
 * between the unlink and the outcome, so that no notify is lost with the
 * process that sent it (its waiter, out of the list, would otherwise wait
 * for its whole timeout, or for ever). */
typedef struct {
    mp__waiter *head;    /* oldest waiter, NULL when empty */
    mp__waiter *tail;    /* newest waiter */
    mp__waiter *taking;  /* the node a notify is taking out, or NULL */
    uint32_t taking_gen; /* its generation then */
    uint32_t outcome;    /* what it is to get */
    uint32_t busy;       /* an update is under way */
} mp__waitlist;

/* mp__waitlist_init makes an empty list. */
static inline void mp__waitlist_init(mp__waitlist *list)
{
    list->head = list->tail = list->taking = NULL;
    list->taking_gen = list->outcome = list->busy = 0;
}

/* mp__waiter_self returns the calling thread's node with its word reset to
 * 0, ready to be queued; NULL with errno = ENOMEM if it cannot be made. */
mp__waiter *mp__waiter_self(void);

/* mp__waiter_abandon gives up the calling thread's node w while it is
 * still in a list that cannot be unlocked in time (its lock's holder is
 * stopped): the node is marked as having no thread, so a waker passes it
 * over as dead, and the thread makes a new node for its next wait. The
 * old one stays in the list until some waker unlinks it, and is leaked
 * (32 bytes). */
void mp__waiter_abandon(mp__waiter *w);

/* mp__waitlist_push queues w at the tail. */
void mp__waitlist_push(mp__waitlist *list, mp__waiter *w);

/* mp__waitlist_contains tells whether w is queued in list. */
bool mp__waitlist_contains(const mp__waitlist *list, const mp__waiter *w);

/* mp__waitlist_remove unlinks w if it is in list (a walk of the list: for
 * the slow paths, a waiter that timed out). */
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
