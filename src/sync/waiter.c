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

/* Nodes of this process's exited threads, for the next first waits
 * (waiter.h: a node never goes back to the heap). Linked through next;
 * spare_gen is the fork generation they belong to: a child starts with
 * none, its parent's spares being its parent's. */
static mp__lock spare_lock;
static mp__waiter *spare;
static unsigned spare_gen;

/* Runs at thread exit: the node is no longer in any list (its thread is
 * not waiting). A forked child's thread still carries its parent's node
 * until its own first wait: that one is not the child's to keep. */
static void retire_node(void *node)
{
    mp__waiter *w = node;
    if (w->tid != mp__tid())
        return;
    w->tid = 0;
    mp__lock_hold(&spare_lock);
    if (spare_gen != mp__fork.gen) {
        spare = NULL;
        spare_gen = mp__fork.gen;
    }
    w->prev = NULL;
    w->next = spare;
    spare = w;
    mp__lock_release(&spare_lock);
}

static void make_key(void)
{
    if (pthread_key_create(&node_key, retire_node) != 0)
        node_key = (pthread_key_t)-1;
}

static mp__waiter *new_node(void)
{
    mp__waiter *w = NULL;
    mp__lock_hold(&spare_lock);
    if (spare_gen == mp__fork.gen && spare != NULL) {
        w = spare;
        spare = w->next;
    }
    mp__lock_release(&spare_lock);
    return w != NULL ? w : mp_shared_calloc(1, sizeof *w);
}

mp__waiter *mp__waiter_self(void)
{
    pid_t me = mp__tid();
    mp__waiter *w = tls_node;
    /* After fork the child inherits the parent thread's pointer; that node
     * is the parent's, so the child makes its own (the tid tells). */
    if (w == NULL || w->tid != me) {
        w = new_node();
        if (w == NULL)
            return NULL;
        w->tid = me;
        tls_node = w;
        pthread_once(&key_once, make_key);
        if (node_key != (pthread_key_t)-1)
            pthread_setspecific(node_key, w);
    }
    /* A new generation first: a notify left half done by a dead waker for
     * this node's previous wait must not finish into this one. */
    atomic_fetch_add_explicit(&w->gen, 1, memory_order_relaxed);
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

/* Nodes a rebuild follows before it takes the chain for damaged beyond
 * repair (a cycle): far more threads than ever wait on one object. */
#define CHAIN_MAX (1u << 20)

/* finish_taking completes the notify a dead waker left half done: its
 * node, out of the chain, never got its outcome (waiter.h). */
static void finish_taking(mp__waitlist *list)
{
    mp__waiter *w = list->taking;
    list->taking = NULL;
    if (w == NULL || atomic_load_explicit(&w->gen, memory_order_relaxed) != list->taking_gen)
        return; /* done, or its thread has moved on to another wait */
    uint32_t zero = 0;
    if (atomic_compare_exchange_strong_explicit(&w->word, &zero, list->outcome,
                                                memory_order_release, memory_order_relaxed))
        mp__futex_wake(&w->word, 1);
}

/* begin starts an update: first, if a holder died in the middle of one,
 * prev and tail are rebuilt from the forward chain and a notify it was
 * sending is finished (waiter.h). */
static void begin(mp__waitlist *list)
{
    if (list->busy) {
        finish_taking(list);
        mp__waiter *prev = NULL;
        uint32_t n = 0;
        for (mp__waiter *w = list->head; w != NULL; w = w->next) {
            if (++n > CHAIN_MAX) {
                /* Its sleepers time out, as after any lost notify. */
                list->head = prev = NULL;
                break;
            }
            w->prev = prev;
            prev = w;
        }
        list->tail = prev;
    }
    list->busy = 1;
}

static void end(mp__waitlist *list)
{
    list->busy = 0;
}

/* The unlocked forms: each changes the chain with one store (the first
 * store to a next or to head that puts w in or takes it out). */
static void push(mp__waitlist *list, mp__waiter *w)
{
    w->next = NULL;
    w->prev = list->tail;
    if (list->tail != NULL)
        list->tail->next = w;
    else
        list->head = w;
    list->tail = w;
}

static void unlink_node(mp__waitlist *list, mp__waiter *w)
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

void mp__waitlist_push(mp__waitlist *list, mp__waiter *w)
{
    begin(list);
    push(list, w);
    end(list);
}

/* in_chain tells whether w is in the chain. Its own links cannot say: a
 * notifier killed after unlinking w and before writing its outcome leaves
 * them as they were. */
static bool in_chain(const mp__waitlist *list, const mp__waiter *w)
{
    for (const mp__waiter *x = list->head; x != NULL; x = x->next)
        if (x == w)
            return true;
    return false;
}

void mp__waitlist_remove(mp__waitlist *list, mp__waiter *w)
{
    begin(list);
    if (in_chain(list, w))
        unlink_node(list, w);
    else
        w->prev = w->next = NULL;
    end(list);
}

bool mp__waitlist_contains(const mp__waitlist *list, const mp__waiter *w)
{
    return in_chain(list, w); /* the chain is whole even mid-update */
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
    begin(list);
    bool all = !longer_than(list, n);
    int woken = 0;
    while (woken < n && list->head != NULL) {
        mp__waiter *w = list->head;
        pid_t tid = w->tid;
        /* Named first, so that the next holder finishes this notify
         * should we die before the outcome is out. */
        list->outcome = outcome;
        list->taking_gen = atomic_load_explicit(&w->gen, memory_order_relaxed);
        list->taking = w;
        /* Unlink before publishing the outcome: once the word is set the
         * owner may return and queue the same node elsewhere. */
        unlink_node(list, w);
        atomic_store_explicit(&w->word, outcome, memory_order_release);
        list->taking = NULL;
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
    end(list);
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
