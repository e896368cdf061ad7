/* wait.c - spin, sleep in slices, check liveness: the one wait (wait.h). */
#include "sync/wait.h"

#include <stdint.h>

#include "mp/error.h"
#include "os/alive.h"
#include "os/futex.h"

/* What a thread learnt of its recent spins, per word: a small direct-mapped
 * table keyed by address; a collision only costs a forgotten history. */
typedef struct {
    const void *key;
    uint8_t misses; /* unanswered spins in a row, saturating */
    uint8_t waits;  /* waits since the last full spin */
} spin_memo;

#define SPIN_MEMOS 16
static _Thread_local spin_memo spin_memos[SPIN_MEMOS];

static spin_memo *memo_of(const void *key)
{
    spin_memo *m = &spin_memos[((uintptr_t)key >> 6) % SPIN_MEMOS];
    if (m->key != key)
        *m = (spin_memo){.key = key};
    return m;
}

/* How many rounds to spin on key now (0: the deadline is too close). */
static int spin_rounds(spin_memo *m, const mp__deadline *d)
{
    if (d != NULL && !d->forever && mp__deadline_remaining(d) < MP__SPIN_BUDGET)
        return 0;
    if (m->misses < MP__SPIN_MISSES || ++m->waits >= MP__SPIN_PROBE) {
        m->waits = 0;
        return MP__SPIN_ROUNDS;
    }
    return MP__SPIN_ROUNDS_SHORT;
}

static void spin_learn(spin_memo *m, int rounds, bool answered)
{
    if (answered)
        m->misses = 0;
    else if (rounds == MP__SPIN_ROUNDS && m->misses < UINT8_MAX)
        m->misses++;
}

/* spin_loop is every spin: it asks ready(arg) at most rounds times, the
 * looks gap_max pauses apart at most (the gap doubling from one), and
 * learns under key whether the spin was answered. Inlined, so that the
 * word spins below pay no call per look. */
static inline __attribute__((always_inline)) bool
spin_loop(const void *key, bool (*ready)(void *), void *arg, const mp__deadline *d, int gap_max)
{
    spin_memo *m = memo_of(key);
    int rounds = spin_rounds(m, d);
    int gap = 1;
    for (int i = 0; i < rounds; i += gap) {
        if (ready(arg)) {
            spin_learn(m, rounds, true);
            return true;
        }
        if (gap < gap_max)
            gap *= 2;
        for (int k = 0; k < gap; k++)
            mp__cpu_relax();
    }
    bool done = ready(arg);
    if (rounds > 0)
        spin_learn(m, rounds, done);
    return done;
}

struct word_seen {
    _Atomic uint32_t *word;
    uint32_t seen;
};

static inline bool word_changed(void *arg)
{
    const struct word_seen *w = arg;
    return atomic_load_explicit(w->word, memory_order_acquire) != w->seen;
}

bool mp__spin(_Atomic uint32_t *word, uint32_t seen, const mp__deadline *d)
{
    struct word_seen w = {word, seen};
    return spin_loop(word, word_changed, &w, d, 1);
}

bool mp__spin_busy(_Atomic uint32_t *word, uint32_t seen, const mp__deadline *d)
{
    struct word_seen w = {word, seen};
    return spin_loop(word, word_changed, &w, d, MP__SPIN_GAP_MAX);
}

bool mp__spin_until(bool (*ready)(void *arg), void *arg, const mp__deadline *d)
{
    return spin_loop(arg, ready, arg, d, 1);
}

int mp__wait(_Atomic uint32_t *word, uint32_t seen, const mp__deadline *d, mp__alive_fn alive,
             void *arg)
{
    mp__deadline slice = mp__deadline_min(d, MP__WAIT_SLICE);
    if (mp__futex_wait(word, seen, &slice) != MP_ETIMEDOUT)
        return 0; /* woken, changed, or a signal */
    if (atomic_load_explicit(word, memory_order_acquire) != seen)
        return 0;
    /* The slice or the whole wait ran out in silence. The liveness check
     * comes first even when the deadline is up, so that a caller that
     * would time out still learns of a death (a lock is then taken over
     * instead of reported busy). */
    if (alive != NULL && !alive(arg))
        return MP_EOWNERDEAD;
    return mp__deadline_expired(d) ? MP_ETIMEDOUT : 0;
}

int mp__poll(bool (*done)(void *arg), void *arg, const mp__deadline *d)
{
    for (;;) {
        if (done(arg))
            return 0;
        if (mp__deadline_expired(d))
            return MP_ETIMEDOUT;
        double left = mp__deadline_remaining(d);
        mp__sleep(left < MP__POLL_INTERVAL ? left : MP__POLL_INTERVAL);
    }
}

bool mp__alive_tid(void *tid)
{
    return mp__tid_alive((pid_t)(intptr_t)tid);
}
