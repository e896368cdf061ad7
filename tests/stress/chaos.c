/* chaos.c - runs a mixed libmp workload and SIGKILLs random participants
 * at random moments, restarting them, then checks that the survivors
 * finished, that nothing guarded was corrupted and that every lock can
 * still be taken.
 *
 *   chaos [--kills N] [--seed S] [--time-limit SECONDS] [--quiet]
 *
 * Exit status 0 when every invariant held, 1 otherwise (the first broken
 * invariants are printed). The figures go to stdout as "key: value" lines.
 *
 * Participants (each a libmp process, restarted after every kill):
 *   locker    takes an mp_lock, checks and updates a two-word checksum
 *             (a + b == 0), and marks itself inside so a second holder
 *             would be seen; an MP_EOWNERDEAD acquire repairs the pair.
 *   rlocker   the same through an mp_rlock taken twice (recursion).
 *   notifier  under a condition's lock adds a ticket and notifies one.
 *   waiter    waits on that condition for a ticket and takes it; a wait
 *             that times out although enough notifies were sent meanwhile
 *             to reach it is a lost wake-up.
 *   heaper    allocates shared-heap blocks of random sizes (malloc and
 *             calloc, up to 300 KB), fills them with a pattern and checks
 *             it before freeing them. At the end the heap's invariants
 *             are checked (mp__heap_check) and its statistics printed.
 * Queue and pool participants join from chaos_queue.c and chaos_pool.c
 * when those areas are built (see modules[] below). */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chaos.h"
#include "heap/heap.h"

struct world *W;

/* ---- small tools ------------------------------------------------------ */

double chaos_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift64*: a fast generator each participant seeds for itself. */
uint64_t chaos_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* chaos_fail records a broken invariant: counted in shared memory (the
 * supervisor fails the run) and the first few are printed. */
void chaos_fail(const char *fmt, ...)
{
    uint64_t n = atomic_fetch_add(&W->failures, 1);
    if (n >= 20)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "chaos: FAIL [pid %d]: %s\n", (int)getpid(), msg);
}

/* Sleep a random few microseconds, so kills land at varied places. */
void chaos_jitter(uint64_t *rng, unsigned max_us)
{
    unsigned us = (unsigned)(chaos_rand(rng) % (max_us + 1));
    if (us > 0)
        usleep(us);
}

/* ---- locker: an mp_lock guarding a two-word checksum ------------------ */

/* guarded_enter checks the guarded pair after an acquire. A clean acquire
 * must find it consistent and nobody inside; after MP_EOWNERDEAD it may be
 * half-updated and is repaired (the contract: the next holder repairs). */
static void guarded_enter(struct guarded *g, int rc, const char *what)
{
    if (rc == MP_EOWNERDEAD) {
        atomic_fetch_add(&W->ownerdead, 1);
        if (g->a + g->b != 0 || g->inside != 0)
            atomic_fetch_add(&W->repairs, 1);
        g->b = (uint64_t)0 - g->a;
        g->inside = 0;
    } else if (g->inside != 0) {
        chaos_fail("%s: pid %d already inside on a clean acquire (mutual exclusion broken)", what,
                   (int)g->inside);
    } else if (g->a + g->b != 0) {
        chaos_fail("%s: checksum a=%" PRIu64 " b=%" PRIu64 " broken on a clean acquire", what, g->a,
                   g->b);
    }
    g->inside = getpid();
}

/* guarded_update changes the pair in two steps with a pause between, so
 * that a kill often lands with the pair inconsistent. */
static void guarded_update(struct guarded *g, uint64_t *rng)
{
    uint64_t k = chaos_rand(rng) % 1000 + 1;
    g->a += k;
    /* Held for up to ~20 us, so a good share of kills land inside. */
    for (volatile int i = 0; i < (int)(k * 40); i++)
        ;
    g->b -= k;
    g->ops++;
}

static void guarded_leave(struct guarded *g, const char *what)
{
    if (g->inside != getpid())
        chaos_fail("%s: inside=%d at release, expected %d", what, (int)g->inside, (int)getpid());
    g->inside = 0;
}

static int run_locker(struct slot *s, uint64_t *rng)
{
    while (!atomic_load(&W->stop)) {
        int rc = mp_lock_acquire(W->lock, CHAOS_OP_BOUND);
        if (rc == MP_ETIMEDOUT) {
            chaos_fail("lock: not acquired within %.0f s", CHAOS_OP_BOUND);
            continue;
        }
        if (rc != 0 && rc != MP_EOWNERDEAD) {
            chaos_fail("lock: acquire returned %s", mp_err_name(rc));
            return 1;
        }
        guarded_enter(&W->g_lock, rc, "lock");
        guarded_update(&W->g_lock, rng);
        guarded_leave(&W->g_lock, "lock");
        rc = mp_lock_release(W->lock);
        if (rc != 0)
            chaos_fail("lock: release returned %s", mp_err_name(rc));
        atomic_fetch_add(&s->ops, 1);
        chaos_jitter(rng, 50);
    }
    return 0;
}

static int run_rlocker(struct slot *s, uint64_t *rng)
{
    while (!atomic_load(&W->stop)) {
        int rc = mp_rlock_acquire(W->rlock, CHAOS_OP_BOUND);
        if (rc == MP_ETIMEDOUT) {
            chaos_fail("rlock: not acquired within %.0f s", CHAOS_OP_BOUND);
            continue;
        }
        if (rc != 0 && rc != MP_EOWNERDEAD) {
            chaos_fail("rlock: acquire returned %s", mp_err_name(rc));
            return 1;
        }
        guarded_enter(&W->g_rlock, rc, "rlock");
        /* Recursion: the owner takes it again at once. */
        int rc2 = mp_rlock_acquire(W->rlock, 0);
        if (rc2 != 0)
            chaos_fail("rlock: recursive acquire returned %s", mp_err_name(rc2));
        guarded_update(&W->g_rlock, rng);
        if (rc2 == 0 && (rc2 = mp_rlock_release(W->rlock)) != 0)
            chaos_fail("rlock: inner release returned %s", mp_err_name(rc2));
        guarded_leave(&W->g_rlock, "rlock");
        if ((rc = mp_rlock_release(W->rlock)) != 0)
            chaos_fail("rlock: release returned %s", mp_err_name(rc));
        atomic_fetch_add(&s->ops, 1);
        chaos_jitter(rng, 50);
    }
    return 0;
}

/* ---- notifier and waiter: a condition and its tickets ----------------- */

static int cond_acquire(const char *who)
{
    int rc = mp_condition_acquire(W->cond, CHAOS_OP_BOUND);
    if (rc == MP_EOWNERDEAD) {
        atomic_fetch_add(&W->ownerdead, 1);
        return 0;
    }
    if (rc != 0)
        chaos_fail("%s: condition acquire returned %s", who, mp_err_name(rc));
    return rc;
}

static int run_notifier(struct slot *s, uint64_t *rng)
{
    while (!atomic_load(&W->stop)) {
        if (cond_acquire("notifier") != 0)
            continue;
        /* One word per step, so a kill never leaves the counters
         * inconsistent: a ticket without its notify at worst. */
        W->tickets_made++;
        int rc = mp_condition_notify(W->cond, 1);
        if (rc != 0)
            chaos_fail("notifier: notify returned %s", mp_err_name(rc));
        W->notifies++;
        if ((rc = mp_condition_release(W->cond)) != 0)
            chaos_fail("notifier: release returned %s", mp_err_name(rc));
        atomic_fetch_add(&s->ops, 1);
        chaos_jitter(rng, 300);
    }
    return 0;
}

static int run_waiter(struct slot *s, uint64_t *rng)
{
    for (;;) {
        if (cond_acquire("waiter") != 0)
            continue;
        if (W->tickets_taken > W->tickets_made)
            chaos_fail("waiter: %" PRIu64 " tickets taken of %" PRIu64 " made", W->tickets_taken,
                       W->tickets_made);
        bool stop = false;
        while (W->tickets_taken == W->tickets_made) {
            if (atomic_load(&W->stop) && atomic_load(&W->drain)) {
                stop = true;
                break;
            }
            uint64_t before = W->notifies;
            int rc = mp_condition_wait(W->cond, CHAOS_WAIT);
            if (rc == MP_EOWNERDEAD) {
                atomic_fetch_add(&W->ownerdead, 1);
                rc = 0;
            }
            if (rc == MP_ETIMEDOUT) {
                /* Each notify wakes the oldest live waiter; at most
                 * (waiters - 1) are ahead of us, so this many notifies
                 * while we slept must have reached us. */
                uint64_t sent = W->notifies - before;
                if (sent > (uint64_t)CHAOS_MAX_WAITERS + 2)
                    chaos_fail("waiter: timed out although %" PRIu64
                               " notifies were sent (lost wake-up)",
                               sent);
                atomic_fetch_add(&W->wait_timeouts, 1);
            } else if (rc != 0) {
                chaos_fail("waiter: wait returned %s", mp_err_name(rc));
            }
        }
        if (!stop)
            W->tickets_taken++;
        int rc = mp_condition_release(W->cond);
        if (rc != 0)
            chaos_fail("waiter: release returned %s", mp_err_name(rc));
        if (stop)
            return 0;
        atomic_fetch_add(&s->ops, 1);
        chaos_jitter(rng, 100);
    }
}

/* ---- heaper: shared-heap allocations with a pattern ------------------- */

static int run_heaper(struct slot *s, uint64_t *rng)
{
    struct heaper_tab *t = &W->heaper[s->index];
    while (!atomic_load(&W->stop)) {
        int i = (int)(chaos_rand(rng) % CHAOS_HEAPER_BLOCKS);
        unsigned char *b = atomic_load(&t->blk[i]);
        if (atomic_load(&t->state[i]) == HB_LIVE) {
            size_t n = atomic_load(&t->len[i]);
            unsigned char want = (unsigned char)((uintptr_t)b >> 4);
            for (size_t k = 0; k < n; k++)
                if (b[k] != want) {
                    chaos_fail("heaper: block %p byte %zu is %u, wrote %u", (void *)b, k, b[k],
                               want);
                    break;
                }
            atomic_store(&t->state[i], HB_FREEING);
            mp_shared_free(b);
            atomic_store(&t->blk[i], NULL);
            atomic_store(&t->state[i], HB_EMPTY);
        } else {
            /* Mostly small blocks, sometimes a page-sized or larger one
             * (those come from the page pool and are punched back). */
            uint64_t r = chaos_rand(rng);
            size_t n = r % 32 == 0  ? chaos_rand(rng) % 300000
                       : r % 8 == 0 ? chaos_rand(rng) % 70000
                                    : chaos_rand(rng) % 300;
            bool zeroed = r % 5 == 0;
            atomic_store(&t->len[i], n);
            atomic_store(&t->state[i], HB_ALLOCATING);
            b = zeroed ? mp_shared_calloc(1, n) : mp_shared_malloc(n);
            atomic_store(&t->blk[i], b);
            if (b == NULL) {
                chaos_fail("heaper: malloc(%zu) failed: %s", n, strerror(errno));
                atomic_store(&t->state[i], HB_EMPTY);
                continue;
            }
            for (size_t k = 0; zeroed && k < n; k += 512)
                if (b[k] != 0) {
                    chaos_fail("heaper: calloc(%zu) block %p byte %zu is %u", n, (void *)b, k,
                               b[k]);
                    break;
                }
            memset(b, (unsigned char)((uintptr_t)b >> 4), n);
            atomic_store(&t->state[i], HB_LIVE);
        }
        atomic_fetch_add(&s->ops, 1);
        chaos_jitter(rng, 50);
    }
    for (int i = 0; i < CHAOS_HEAPER_BLOCKS; i++) {
        atomic_store(&t->state[i], HB_FREEING);
        mp_shared_free(atomic_load(&t->blk[i]));
        atomic_store(&t->blk[i], NULL);
        atomic_store(&t->state[i], HB_EMPTY);
    }
    return 0;
}

/* heaper_killed frees what a killed heaper held, as its own code would
 * have: the live blocks, and one whose malloc had returned. A block in
 * the middle of a free is freed here only if the allocator says it is
 * still handed out, once the dead heaper's cache has been given back. A
 * malloc that had not returned leaves a block nobody can name: counted,
 * the caller's in-flight loss. */
static void heaper_killed(struct slot *s)
{
    if (s->role->run != run_heaper)
        return;
    struct heaper_tab *t = &W->heaper[s->index];
    for (int i = 0; i < CHAOS_HEAPER_BLOCKS; i++) {
        unsigned char *b = atomic_load(&t->blk[i]);
        int st = atomic_load(&t->state[i]);
        if (st == HB_LIVE || (st == HB_ALLOCATING && b != NULL)) {
            mp_shared_free(b);
        } else if (st == HB_ALLOCATING) {
            W->heap_in_flight++;
        } else if (st == HB_FREEING && b != NULL) {
            mp__deadline d;
            mp__deadline_init(&d, CHAOS_OP_BOUND);
            mp__heap_reclaim(&d);
            if (mp__heap_allocated(b))
                mp_shared_free(b);
        }
        atomic_store(&t->blk[i], NULL);
        atomic_store(&t->state[i], HB_EMPTY);
    }
}

/* ---- the roles -------------------------------------------------------- */

static const struct role sync_roles[] = {
    {"locker", 3, run_locker, false},     {"rlocker", 2, run_rlocker, false},
    {"notifier", 2, run_notifier, false}, {"waiter", CHAOS_MAX_WAITERS, run_waiter, true},
    {"heaper", 2, run_heaper, false},
};

/* Waiters sleep until a notify: wake them all to see W->drain. */
static void sync_producers_done(void)
{
    if (cond_acquire("supervisor") == 0) {
        mp_condition_notify_all(W->cond);
        mp_condition_release(W->cond);
    }
}

static void sync_check(void)
{
    if (W->tickets_taken != W->tickets_made)
        chaos_fail("final: %" PRIu64 " condition tickets made, %" PRIu64 " taken", W->tickets_made,
                   W->tickets_taken);
}

static void sync_report(void)
{
    printf("lock_ops: %" PRIu64 "\n", W->g_lock.ops);
    printf("rlock_ops: %" PRIu64 "\n", W->g_rlock.ops);
    printf("ownerdead_recoveries: %" PRIu64 "\n", atomic_load(&W->ownerdead));
    printf("half_updates_repaired: %" PRIu64 "\n", atomic_load(&W->repairs));
    printf("condition_tickets: %" PRIu64 "\n", W->tickets_made);
    printf("condition_wait_timeouts: %" PRIu64 "\n", atomic_load(&W->wait_timeouts));
}

static const struct chaos_module sync_module = {
    .name = "sync",
    .killed = heaper_killed,
    .roles = sync_roles,
    .nroles = sizeof sync_roles / sizeof *sync_roles,
    .producers_done = sync_producers_done,
    .check = sync_check,
    .report = sync_report,
};

/* The parts of the workload, in start order. The queue and pool parts are
 * built in when those areas exist (see CMakeLists.txt). */
static const struct chaos_module *modules[] = {
    &sync_module,
#ifdef CHAOS_WITH_QUEUE
    &chaos_queue_module,
#endif
#ifdef CHAOS_WITH_POOL
    &chaos_pool_module,
#endif
};
#define NMODULES (sizeof modules / sizeof *modules)
#define EACH_MODULE(hook, ...)                                                                     \
    for (size_t m_ = 0; m_ < NMODULES; m_++)                                                       \
        if (modules[m_]->hook != NULL)                                                             \
    modules[m_]->hook(__VA_ARGS__)

/* ---- the supervisor --------------------------------------------------- */

static struct slot *slots[CHAOS_MAX_SLOTS];
static int nslots;

/* chaos_slot_of finds the index-th slot running run (for modules that act
 * on their own participants). */
struct slot *chaos_slot_of(chaos_run_fn run, int index)
{
    for (int i = 0; i < nslots; i++)
        if (slots[i]->role->run == run && slots[i]->index == index)
            return slots[i];
    return NULL;
}

static int participant_main(void *arg)
{
    struct slot *s = arg;
    uint64_t rng = W->seed ^ ((uint64_t)getpid() << 20) ^
                   (uint64_t)(s->incarnation + 1) * 0x9E3779B97F4A7C15ULL;
    if (rng == 0)
        rng = 1;
    return s->role->run(s, &rng) == 0 ? 0 : 1;
}

static int start_slot(struct slot *s)
{
    char name[48];
    snprintf(name, sizeof name, "%s-%d.%d", s->role->name, s->index, s->incarnation);
    s->proc = mp_process_new(participant_main, s, &(mp_process_opts){.name = name});
    if (s->proc == NULL) {
        chaos_fail("supervisor: mp_process_new: %s", strerror(errno));
        return -1;
    }
    int rc = mp_process_start(s->proc);
    if (rc != 0) {
        chaos_fail("supervisor: mp_process_start: %s", mp_err_name(rc));
        mp_process_free(s->proc);
        s->proc = NULL;
        return -1;
    }
    return 0;
}

/* reap_slot joins a participant that should have ended (killed or told to
 * stop) within bound seconds; a participant that ended by itself with a
 * non-zero code, or could not be joined, breaks the run. */
static void reap_slot(struct slot *s, double bound, bool killed)
{
    if (s->proc == NULL)
        return;
    if (mp_process_join(s->proc, bound) == MP_ETIMEDOUT) {
        chaos_fail("%s-%d: still running %s (deadlock?)", s->role->name, s->index,
                   killed ? "after SIGKILL" : "when the stop phase ran out");
        mp_process_kill(s->proc);
        mp_process_join(s->proc, MP_FOREVER);
        killed = true; /* its end is ours now, not its own */
    }
    int code = 0;
    mp_process_exitcode(s->proc, &code);
    if (killed && code != -SIGKILL && code != 0)
        chaos_fail("%s-%d: ended with %d before it was killed", s->role->name, s->index, code);
    if (!killed && code != 0)
        chaos_fail("%s-%d: exit code %d", s->role->name, s->index, code);
    mp_process_free(s->proc);
    s->proc = NULL;
}

/* reap_all joins every participant (only the plain ones unless drains),
 * all within one bound: a hang costs bound seconds, not bound each. */
static void reap_all(bool drains, double bound)
{
    double end = chaos_now() + bound;
    for (int i = 0; i < nslots; i++) {
        if (slots[i]->role->drains && !drains)
            continue;
        double left = end - chaos_now();
        reap_slot(slots[i], left > 0 ? left : 0, false);
    }
}

/* try_acquire_final checks that a lock can be taken once everything is
 * over: whatever died holding it, it must not stay stuck. */
static void try_acquire_final(const char *what, int rc, int (*release)(void *), void *obj)
{
    if (rc != 0 && rc != MP_EOWNERDEAD) {
        chaos_fail("final: %s not acquirable: %s", what, mp_err_name(rc));
        return;
    }
    release(obj);
}

static int release_lock(void *l)
{
    return mp_lock_release(l);
}
static int release_rlock(void *l)
{
    return mp_rlock_release(l);
}
static int release_cond(void *c)
{
    return mp_condition_release(c);
}

/* heap_final checks, once every participant is gone, that the kills left
 * the shared heap whole: what the dead held inside the allocator is given
 * back (caches, locks, spans being punched) and every invariant holds.
 * Prints its figures. */
static void heap_final(void)
{
    mp__deadline d;
    mp__deadline_init(&d, CHAOS_OP_BOUND);
    mp__heap_reclaim(&d);
    char why[256] = "";
    if (mp__heap_check(why, sizeof why) != 0)
        chaos_fail("final: shared heap: %s", why);
    mp_heap_stats st;
    if (mp_shared_stats(&st) != 0) {
        chaos_fail("final: mp_shared_stats failed");
        return;
    }
    printf("heap_in_use: %zu\n", st.in_use);
    printf("heap_blocks_in_flight_at_kill: %" PRIu64 "\n", W->heap_in_flight);
    printf("heap_peak: %zu\n", st.peak);
    printf("heap_free: %zu\n", st.free);
    printf("heap_largest_free: %zu\n", st.largest_free);
    printf("heap_reserved: %zu\n", st.reserved);
}

/* ---- the watchdog ---------------------------------------------------- */

/* The supervisor itself may block on a wedged object (closing a queue
 * whose lock a live, stuck process holds): a thread ends the run when its
 * time is up, killing every participant, so a deadlock fails in bounded
 * time instead of hanging CI. */
static double watchdog_deadline;
static _Atomic int watchdog_off;

static void *watchdog(void *arg)
{
    (void)arg;
    while (!atomic_load(&watchdog_off)) {
        if (chaos_now() > watchdog_deadline) {
            fprintf(stderr,
                    "chaos: FAIL: the run did not finish within its time limit (deadlock?)\n");
            for (int i = 0; i < nslots; i++)
                if (slots[i]->proc != NULL && mp_process_pid(slots[i]->proc) > 0)
                    kill(mp_process_pid(slots[i]->proc), SIGKILL);
            fflush(NULL);
            _exit(1);
        }
        usleep(100000);
    }
    return NULL;
}

/* check_progress fails a participant that has been alive a while without
 * completing an operation: each operation is bounded (CHAOS_OP_BOUND), so
 * that is a hang. Returns true when one was found. */
static bool check_progress(double now)
{
    bool stalled = false;
    for (int i = 0; i < nslots; i++) {
        struct slot *s = slots[i];
        uint64_t ops = atomic_load(&s->ops);
        if (ops != s->seen_ops || s->seen_incarnation != s->incarnation) {
            s->seen_ops = ops;
            s->seen_incarnation = s->incarnation;
            s->progress_at = now;
        } else if (s->proc != NULL && now - s->progress_at > CHAOS_OP_BOUND + 5) {
            chaos_fail("%s-%d: no operation completed in %.0f s (hung)", s->role->name, s->index,
                       now - s->progress_at);
            s->progress_at = now;
            stalled = true;
        }
    }
    return stalled;
}

/* hang_seen runs check_progress every half second (*checked: when it
 * last ran); true when it found a hang. */
static bool hang_seen(double *checked)
{
    double now = chaos_now();
    if (now - *checked <= 0.5)
        return false;
    *checked = now;
    return check_progress(now);
}

/* all_progressed: every participant has completed an operation. */
static bool all_progressed(void)
{
    for (int i = 0; i < nslots; i++)
        if (atomic_load(&slots[i]->ops) == 0)
            return false;
    return true;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: chaos [--kills N] [--seed S] [--time-limit SECONDS] [--slow F] [--quiet]\n"
            "  kills happen within 70%% of the time limit; the whole run, stop\n"
            "  included, must end within it (default 100 s). --slow multiplies\n"
            "  the per-operation and stop bounds (under valgrind: 10)\n");
    exit(2);
}

int main(int argc, char **argv)
{
    long kills = 300;
    uint64_t seed = (uint64_t)time(NULL);
    double time_limit = 100;
    bool quiet = false;
    double slow = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--kills") == 0 && i + 1 < argc)
            kills = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--time-limit") == 0 && i + 1 < argc)
            time_limit = strtod(argv[++i], NULL);
        else if (strcmp(argv[i], "--slow") == 0 && i + 1 < argc)
            slow = strtod(argv[++i], NULL);
        else if (strcmp(argv[i], "--quiet") == 0)
            quiet = true;
        else
            usage();
    }
    setvbuf(stdout, NULL, _IOLBF, 0);

    W = mp_shared_calloc(1, sizeof *W);
    if (W == NULL)
        return 1;
    W->seed = seed;
    W->slow = slow >= 1 ? slow : 1;
    W->lock = mp_lock_new();
    W->rlock = mp_rlock_new();
    W->cond = mp_condition_new(NULL);
    if (W->lock == NULL || W->rlock == NULL || W->cond == NULL) {
        fprintf(stderr, "chaos: cannot create the sync objects\n");
        return 1;
    }
    for (size_t m = 0; m < NMODULES; m++)
        if (modules[m]->init != NULL && modules[m]->init() != 0) {
            fprintf(stderr, "chaos: cannot set up the %s part\n", modules[m]->name);
            return 1;
        }

    /* Lay out the slots: every role of every module, count times. */
    for (size_t m = 0; m < NMODULES; m++)
        for (int r = 0; r < modules[m]->nroles; r++)
            for (int k = 0; k < modules[m]->roles[r].count && nslots < CHAOS_MAX_SLOTS; k++) {
                struct slot *s = mp_shared_calloc(1, sizeof *s);
                if (s == NULL)
                    return 1;
                s->role = &modules[m]->roles[r];
                s->index = k;
                s->id = nslots;
                slots[nslots++] = s;
            }
    printf("seed: %" PRIu64 "\n", seed);
    printf("participants: %d\n", nslots);

    double t0 = chaos_now();
    watchdog_deadline = t0 + time_limit;
    pthread_t wd;
    pthread_create(&wd, NULL, watchdog, NULL);
    for (int i = 0; i < nslots; i++) {
        start_slot(slots[i]);
        slots[i]->progress_at = t0;
    }

    uint64_t rng = seed | 1;
    long done = 0;
    double checked = t0;
    bool hung = false; /* a hang: stop now, the stop phase shows the rest */
    while (done < kills && chaos_now() - t0 < time_limit * 0.7 && !(hung = hang_seen(&checked))) {
        /* Let the workload run a random while: mostly short, sometimes
         * long enough for contention to build up. */
        unsigned us = chaos_rand(&rng) % 16 == 0 ? 20000 : (unsigned)(chaos_rand(&rng) % 3000);
        usleep(us);
        bool killed_other = false;
        for (size_t m = 0; m < NMODULES && !killed_other; m++)
            if (modules[m]->kill != NULL && modules[m]->kill(&rng))
                killed_other = true;
        if (!killed_other) {
            struct slot *s = slots[chaos_rand(&rng) % (uint64_t)nslots];
            if (s->proc == NULL) {
                start_slot(s);
                continue;
            }
            mp_process_kill(s->proc);
            reap_slot(s, CHAOS_OP_BOUND, true);
            EACH_MODULE(killed, s);
            s->kills++;
            s->incarnation++;
            start_slot(s);
        }
        done++;
        if (!quiet && done % 1000 == 0)
            printf("progress: %ld kills, %.1f s\n", done, chaos_now() - t0);
    }
    /* A short run on a slow machine (valgrind, a loaded CI host) can use
     * up its kills before a slow starter (a pool under valgrind) finished
     * its first operation: give every participant the rest of the chaos
     * time to make one, so that "no progress at all" below means a hang,
     * not a slow start. */
    while (!hung && !all_progressed() && chaos_now() - t0 < time_limit * 0.7 &&
           !(hung = hang_seen(&checked)))
        usleep(10000);
    double chaos_time = chaos_now() - t0;

    /* Stop: the plain roles first, then the draining ones take what is
     * left. */
    atomic_store(&W->stop, 1);
    reap_all(false, CHAOS_STOP_BOUND);
    atomic_store(&W->drain, 1);
    EACH_MODULE(producers_done);
    reap_all(true, CHAOS_STOP_BOUND);

    /* Every lock must still be acquirable. */
    try_acquire_final("lock", mp_lock_acquire(W->lock, CHAOS_OP_BOUND), release_lock, W->lock);
    try_acquire_final("rlock", mp_rlock_acquire(W->rlock, CHAOS_OP_BOUND), release_rlock, W->rlock);
    try_acquire_final("condition lock", mp_condition_acquire(W->cond, CHAOS_OP_BOUND), release_cond,
                      W->cond);
    EACH_MODULE(check);

    uint64_t ops = 0;
    for (int i = 0; i < nslots; i++) {
        ops += atomic_load(&slots[i]->ops);
        if (atomic_load(&slots[i]->ops) == 0)
            chaos_fail("%s-%d: made no progress at all", slots[i]->role->name, slots[i]->index);
    }
    printf("kills: %ld\n", done);
    printf("chaos_seconds: %.1f\n", chaos_time);
    printf("total_seconds: %.1f\n", chaos_now() - t0);
    printf("operations: %" PRIu64 "\n", ops);
    EACH_MODULE(report);
    atomic_store(&watchdog_off, 1);
    pthread_join(wd, NULL);
    EACH_MODULE(fini);
    heap_final();
    uint64_t failures = atomic_load(&W->failures);
    printf("failures: %" PRIu64 "\n", failures);
    if (done < kills) {
        fprintf(stderr, "chaos: only %ld of %ld kills within the time limit\n", done, kills);
        return 1;
    }
    return failures == 0 ? 0 : 1;
}
