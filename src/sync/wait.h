/* wait.h - the one way libmp waits for another thread or process.
 *
 * Every blocking call that waits for a word in shared memory to change
 * (a lock word, a sequence number, a waiter's outcome) goes through here:
 *   1. spin a little (mp__spin): the other side, on another core, usually
 *      answers within a microsecond or two, and then nobody pays for a
 *      sleep and a wake-up;
 *   2. sleep on the word's futex (mp__wait) until woken or the caller's
 *      deadline, in slices of MP__WAIT_SLICE;
 *   3. after a slice that brought no change, ask whether the party we wait
 *      for still runs (a lock's holder, a pool's supervisor): a dead one
 *      ends the wait with MP_EOWNERDEAD, so nothing waits forever for the
 *      dead. A stopped or slow party is alive: the caller's deadline ends
 *      that wait, never anything else.
 * Callers loop: check their condition, spin, announce themselves as a
 * sleeper where their protocol needs it, check again, then mp__wait.
 *
 * Where no word can wake us (a process join without pidfds), mp__poll
 * looks every MP__POLL_INTERVAL. */
#ifndef MP_SYNC_WAIT_H
#define MP_SYNC_WAIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "os/clock.h"

/* Rounds of the spin before a sleep. A round is one load and one pause
 * instruction (10 to 150 cycles by CPU), so the spin lasts a few
 * microseconds: long enough for a peer running on another core to answer,
 * short enough that on a loaded machine a spinner gives its CPU up soon.
 * A spin never yields: sched_yield on a busy machine can hand the CPU away
 * for a whole time slice, and a deadline then passes unseen. */
#define MP__SPIN_ROUNDS 200

/* A spin only pays when the party we wait for runs at the same time on
 * another CPU; when it waits for our CPU (both pinned to one core, or a
 * loaded machine) every round delays the answer we spin for. So each
 * thread remembers, per word (or condition), whether its spins were
 * answered: after MP__SPIN_MISSES unanswered spins in a row it spins
 * MP__SPIN_ROUNDS_SHORT rounds only, and every MP__SPIN_PROBE-th wait spins
 * in full to notice when the peer has moved to another core. */
#define MP__SPIN_MISSES 3
#define MP__SPIN_ROUNDS_SHORT 8
#define MP__SPIN_PROBE 16

/* The most pauses between two looks of mp__spin_busy: each look takes the
 * word's line from the holder who keeps writing it, so looks thin out (1,
 * 2, 4, ... pauses apart) up to this, which also bounds how late a change
 * is seen (16 pauses: well under a microsecond). */
#define MP__SPIN_GAP_MAX 16

/* A spin is skipped when the deadline is closer than this (seconds): the
 * spin's longest run, so no round can pass the deadline unless the
 * spinner is preempted (which no clock read could prevent). */
#define MP__SPIN_BUDGET 50e-6

/* A sleeper wakes this often (seconds) without a wake-up, to check that
 * the party it waits for is alive and to pick up wake-ups that were never
 * sent (a waker killed between its change and its wake). It bounds how
 * long a death goes unnoticed, at the cost of one liveness check per
 * sleeper per slice. */
#define MP__WAIT_SLICE 0.1

/* How often (seconds) mp__poll looks when nothing can wake it. */
#define MP__POLL_INTERVAL 0.005

/* mp__alive_fn tells whether the party a sleeper depends on may still
 * run; it is asked only after a silent slice. */
typedef bool (*mp__alive_fn)(void *arg);

/* mp__spin spins while *word == seen, at most MP__SPIN_ROUNDS rounds, and
 * not at all when d is within MP__SPIN_BUDGET of passing (d may be NULL:
 * no deadline). Returns true when the word changed. */
bool mp__spin(_Atomic uint32_t *word, uint32_t seen, const mp__deadline *d);

/* mp__spin_busy is mp__spin for a word that its holder keeps rewriting
 * while we wait (a contended lock or semaphore): looks are spaced out
 * (MP__SPIN_GAP_MAX) so that the holder keeps the line between them. A
 * word written once, when the awaited event happens, wants mp__spin. */
bool mp__spin_busy(_Atomic uint32_t *word, uint32_t seen, const mp__deadline *d);

/* mp__spin_until is mp__spin for a condition that is not one word:
 * ready(arg) is asked each round. Returns true once it holds. */
bool mp__spin_until(bool (*ready)(void *arg), void *arg, const mp__deadline *d);

/* mp__wait sleeps while *word == seen, for at most one slice: until woken,
 * the word differs, a signal arrives, the slice ends or d passes. Returns
 * 0 (look again; spurious returns are allowed), MP_ETIMEDOUT once d has
 * passed with the word unchanged, or MP_EOWNERDEAD when a whole slice
 * passed with the word unchanged and alive(arg) said the party is dead
 * (alive NULL: nobody to check). Never returns early for a stopped party. */
int mp__wait(_Atomic uint32_t *word, uint32_t seen, const mp__deadline *d, mp__alive_fn alive,
             void *arg);

/* mp__poll calls done(arg) every MP__POLL_INTERVAL until it returns true
 * (0) or d passes (MP_ETIMEDOUT), surviving signals. For waits that no
 * futex or descriptor can end. */
int mp__poll(bool (*done)(void *arg), void *arg, const mp__deadline *d);

/* mp__alive_tid is an mp__alive_fn for a kernel thread or process id
 * passed as (void *)(intptr_t)tid. */
bool mp__alive_tid(void *tid);

#endif
