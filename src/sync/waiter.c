/* waiter.c - per-thread wait nodes in the shared heap, and the lists that
 * conditions and barriers keep of them. */
#include "sync/waiter.h"

#include <errno.h>
#include <pthread.h>

#include "mp/error.h"
#include "mp/shared.h"
#include "os/alive.h"
#include "os/futex.h"
#include "os/thread.h"
#include "sync/wait.h"

static __thread mp__waiter *tls_node;
static pthread_key_t node_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

/* Runs at thread exit: the node is no longer in any list (its thread is
 * not waiting), so it can go back to the heap. A forked child's thread
 * still carries its parent's node until its own first wait: that one is
 * not the child's to free. */
static void free_node(void *node)
{
    mp__waiter *w = node;
    if (w->tid == mp__tid())
        mp_shared_free(w);
}

static void make_key(void)
{
    if (pthread_key_create(&node_key, free_node) != 0)
        node_key = (pthread_key_t)-1;
}

mp__waiter *mp__waiter_self(void)
{
    pid_t me = mp__tid();
    mp__waiter *w = tls_node;
    /* After fork the child inherits the parent thread's pointer; that node
     * is the parent's, so the child makes its own (the tid tells). */
    if (w == NULL || w->tid != me) {
        w = mp_shared_calloc(1, sizeof *w);
        if (w == NULL)
            return NULL;
        w->tid = me;
        tls_node = w;
        pthread_once(&key_once, make_key);
        if (node_key != (pthread_key_t)-1)
            pthread_setspecific(node_key, w);
    }
    atomic_store_explicit(&w->word, 0, memory_order_relaxed);
    w->prev = w->next = NULL;
    return w;
}

void mp__waiter_abandon(mp__waiter *w)
{
    w->tid = 0; /* no thread: mp__tid_alive(0) is false */
    if (tls_node == w)
        tls_node = NULL;
    if (node_key != (pthread_key_t)-1)
        pthread_setspecific(node_key, NULL);
}

void mp__waitlist_push(mp__waitlist *list, mp__waiter *w)
{
    w->next = NULL;
    w->prev = list->tail;
    if (list->tail != NULL)
        list->tail->next = w;
    else
        list->head = w;
    list->tail = w;
}

void mp__waitlist_remove(mp__waitlist *list, mp__waiter *w)
{
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        list->head = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    else
        list->tail = w->prev;
    w->prev = w->next = NULL;
}

/* longer_than tells whether list holds more than n nodes, walking at
 * most n + 1 of them. */
static bool longer_than(const mp__waitlist *list, int n)
{
    const mp__waiter *w = list->head;
    for (int i = 0; i < n && w != NULL; i++)
        w = w->next;
    return w != NULL;
}

int mp__waitlist_notify(mp__waitlist *list, int n, uint32_t outcome, mp__lock *held)
{
    /* The liveness of a waiter matters only when, were it dead, someone
     * else would be woken in its place: not when every waiter left is
     * taken anyway. Those are woken blind, and only those may have their
     * wake deferred, since a deferred wake cannot tell the dead apart.
     * all says which case we are in; it stays true while each taken node
     * counts as woken (both sides shrink by one). */
    bool all = !longer_than(list, n);
    int woken = 0;
    while (woken < n && list->head != NULL) {
        mp__waiter *w = list->head;
        pid_t tid = w->tid;
        /* Unlink before publishing the outcome: once the word is set the
         * owner may return and queue the same node elsewhere. */
        mp__waitlist_remove(list, w);
        atomic_store_explicit(&w->word, outcome, memory_order_release);
        if (all) {
            if (held != NULL)
                mp__lock_defer_wake(held, &w->word);
            else
                mp__futex_wake(&w->word, 1);
            woken++;
            continue;
        }
        /* A sleeping waiter makes the wake return 1: the common case costs
         * one system call and no liveness check. A return of 0 means the
         * waiter is not in the kernel: about to sleep (it will see the
         * word), running a signal handler, or dead. Only then is the
         * (slower, /proc) liveness check paid, so a killed waiter never
         * swallows a wake-up meant for a live one. (The dead node is
         * leaked, see waiter.h.) */
        if (mp__futex_wake(&w->word, 1) == 0 && !mp__tid_alive(tid)) {
            all = !longer_than(list, n - woken);
            continue;
        }
        woken++;
    }
    return woken;
}

int mp__waitlist_wake(mp__waitlist *list, int n, uint32_t outcome)
{
    return mp__waitlist_notify(list, n, outcome, NULL);
}

uint32_t mp__waiter_sleep(mp__waiter *w, const mp__deadline *d)
{
    for (;;) {
        uint32_t v = atomic_load_explicit(&w->word, memory_order_acquire);
        if (v != 0)
            return v;
        if (mp__wait(&w->word, 0, d, NULL, NULL) == MP_ETIMEDOUT)
            return atomic_load_explicit(&w->word, memory_order_acquire);
    }
}
