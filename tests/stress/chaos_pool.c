/* chaos_pool.c - the pool part of the chaos run: a mapper process keeps a
 * pool busy with imap runs, and a futures process keeps another busy with
 * batches of apply_async whose results have random sizes, cancels some and
 * consumes them as they complete (wait_any, get_alloc), while the
 * supervisor SIGKILLs their workers (and, as any participant, the two
 * processes themselves, inside any of those calls).
 *
 * Every run must hand out each index exactly once, with the right result,
 * or MP_ETASK with the task's own code for the items that fail on purpose,
 * or MP_EWORKERDIED, or (only where cancel said so) MP_ECANCELED; and no
 * more items may fail with MP_EWORKERDIED than killed workers could have
 * been running (kills times the chunk size). */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chaos.h"

#define MAX_ITEMS  256
#define MAX_CHUNK  4
#define TASK_FAILS 97   /* items whose argument is a multiple of this fail */
#define TASK_CODE  42   /* with this code */
#define MAX_FUT    32   /* apply_async handles per futures batch */
#define MAX_RESULT 3000 /* bytes of a futures result, at most */

struct pworld {
    _Atomic uint64_t runs;        /* imap runs completed */
    _Atomic uint64_t items;       /* items handed out */
    _Atomic uint64_t worker_died; /* items reported MP_EWORKERDIED */
    _Atomic uint64_t task_failed; /* items reported MP_ETASK, as meant */
    _Atomic uint64_t futures;     /* apply_async handles consumed */
    _Atomic uint64_t cancelled;   /* of those, cancelled */
    uint64_t worker_kills;        /* workers SIGKILLed (supervisor only) */
};

static struct pworld *P;

/* Tens of microseconds of work, so that kills land inside tasks. */
static void busy_work(uint64_t x)
{
    volatile uint64_t spin = x;
    for (int i = 0; i < (int)(x % 20000); i++)
        spin = spin * 6364136223846793005ULL + 1442695040888963407ULL;
}

/* The task: a little work, so kills land inside it, and a known answer. */
static int task(const void *arg, void *result)
{
    uint64_t x;
    memcpy(&x, arg, sizeof x);
    if (x % TASK_FAILS == 0)
        return TASK_CODE;
    busy_work(x);
    uint64_t r = x * x + 1;
    memcpy(result, &r, sizeof r);
    return 0;
}

static int run_mapper(struct slot *s, uint64_t *rng)
{
    mp_pool *pool = mp_pool_new(3);
    if (pool == NULL) {
        chaos_fail("pool: mp_pool_new failed");
        return 1;
    }
    uint64_t args[MAX_ITEMS];
    unsigned char got[MAX_ITEMS];
    while (!atomic_load(&W->stop)) {
        /* Short runs when slowed down (valgrind): a run is one operation. */
        size_t n = W->slow > 1 ? 4 + chaos_rand(rng) % 12 : 16 + chaos_rand(rng) % (MAX_ITEMS - 16);
        size_t chunk = chaos_rand(rng) % 2 ? 1 : MAX_CHUNK;
        bool ordered = chaos_rand(rng) % 2;
        uint64_t base = chaos_rand(rng) % 100000;
        for (size_t i = 0; i < n; i++)
            args[i] = base + i;
        memset(got, 0, n);
        mp_imap *it = (ordered ? mp_pool_imap : mp_pool_imap_unordered)(
            pool, task, args, n, sizeof *args, sizeof(uint64_t), chunk);
        if (it == NULL) {
            chaos_fail("pool: imap failed");
            break;
        }
        size_t handed = 0;
        for (;;) {
            uint64_t r = 0;
            size_t idx = SIZE_MAX;
            int rc = mp_imap_next(it, &r, &idx, CHAOS_OP_BOUND);
            if (rc == MP_ECLOSED)
                break;
            if (rc == MP_ETIMEDOUT) {
                chaos_fail("pool: no result for %.0f s (%zu of %zu handed out)", CHAOS_OP_BOUND,
                           handed, n);
                break;
            }
            if (idx >= n) {
                chaos_fail("pool: index %zu out of range %zu (%s)", idx, n, mp_err_name(rc));
                continue;
            }
            if (ordered && idx != handed)
                chaos_fail("pool: imap handed out index %zu, expected %zu", idx, handed);
            if (got[idx]++)
                chaos_fail("pool: index %zu handed out twice", idx);
            handed++;
            bool fails = args[idx] % TASK_FAILS == 0;
            if (rc == MP_EWORKERDIED) {
                atomic_fetch_add(&P->worker_died, 1);
            } else if (rc == MP_ETASK) {
                if (!fails || mp_imap_task_error(it) != TASK_CODE)
                    chaos_fail("pool: item %zu MP_ETASK with code %d", idx, mp_imap_task_error(it));
                atomic_fetch_add(&P->task_failed, 1);
            } else if (rc == 0) {
                if (fails || r != args[idx] * args[idx] + 1)
                    chaos_fail("pool: item %zu result %" PRIu64 ", expected %" PRIu64, idx, r,
                               args[idx] * args[idx] + 1);
            } else {
                chaos_fail("pool: imap_next returned %s", mp_err_name(rc));
            }
        }
        if (handed != n)
            chaos_fail("pool: %zu of %zu items handed out", handed, n);
        mp_imap_free(it);
        atomic_fetch_add(&P->items, handed);
        atomic_fetch_add(&P->runs, 1);
        atomic_fetch_add(&s->ops, 1);
    }
    mp_pool_close(pool);
    mp_pool_join(pool);
    mp_pool_free(pool);
    return 0;
}

/* The futures task: a result of x % MAX_RESULT bytes made with
 * mp_task_result_alloc, each byte (x + its place), after a little work. */
static int fut_task(const void *arg, void *result)
{
    (void)result;
    uint64_t x;
    memcpy(&x, arg, sizeof x);
    if (x % TASK_FAILS == 0)
        return TASK_CODE;
    busy_work(x);
    size_t len = x % MAX_RESULT;
    unsigned char *b = mp_task_result_alloc(len);
    if (b == NULL)
        return 7;
    for (size_t i = 0; i < len; i++)
        b[i] = (unsigned char)(x + i);
    return 0;
}

/* One consumed handle: check its outcome against what was asked. */
static void fut_check(uint64_t x, bool cancelled, int rc, const unsigned char *r, size_t len,
                      int task_error)
{
    switch (rc) {
    case 0:
        if (cancelled || x % TASK_FAILS == 0 || len != x % MAX_RESULT) {
            chaos_fail("pool futures: %" PRIu64 " gave %zu bytes (cancelled %d)", x, len,
                       cancelled);
            return;
        }
        for (size_t i = 0; i < len; i++)
            if (r[i] != (unsigned char)(x + i)) {
                chaos_fail("pool futures: %" PRIu64 " byte %zu wrong", x, i);
                return;
            }
        break;
    case MP_ETASK:
        if (cancelled || x % TASK_FAILS != 0 || task_error != TASK_CODE)
            chaos_fail("pool futures: %" PRIu64 " MP_ETASK with code %d", x, task_error);
        atomic_fetch_add(&P->task_failed, 1);
        break;
    case MP_EWORKERDIED:
        if (cancelled)
            chaos_fail("pool futures: cancelled %" PRIu64 " ran and died", x);
        atomic_fetch_add(&P->worker_died, 1);
        break;
    case MP_ECANCELED:
        if (!cancelled)
            chaos_fail("pool futures: %" PRIu64 " MP_ECANCELED, never cancelled", x);
        atomic_fetch_add(&P->cancelled, 1);
        break;
    default:
        chaos_fail("pool futures: %" PRIu64 " got %s", x, mp_err_name(rc));
    }
}

static int run_futures(struct slot *s, uint64_t *rng)
{
    mp_pool *pool = mp_pool_new(2);
    if (pool == NULL) {
        chaos_fail("pool futures: mp_pool_new failed");
        return 1;
    }
    uint64_t args[MAX_FUT];
    mp_async *h[MAX_FUT];
    bool cancelled[MAX_FUT];
    while (!atomic_load(&W->stop)) {
        /* Small batches when slowed down (valgrind), so that every
         * incarnation gets somewhere between kills. */
        size_t n = W->slow > 1 ? 2 + chaos_rand(rng) % 3 : 4 + chaos_rand(rng) % (MAX_FUT - 4);
        uint64_t base = chaos_rand(rng) % 100000;
        for (size_t i = 0; i < n; i++) {
            args[i] = base + i * 13;
            h[i] = mp_pool_apply_async(pool, fut_task, &args[i], sizeof args[i], 0, NULL);
            if (h[i] == NULL) {
                chaos_fail("pool futures: apply_async: %s", strerror(errno));
                return 1;
            }
        }
        /* Cancel about one in four, from the back (the likeliest unstarted). */
        for (size_t i = n; i-- > 0;) {
            cancelled[i] = false;
            if (chaos_rand(rng) % 4 != 0)
                continue;
            int rc = mp_async_cancel(h[i]);
            if (rc != MP_OK && rc != MP_ESTATE)
                chaos_fail("pool futures: cancel returned %s", mp_err_name(rc));
            cancelled[i] = rc == MP_OK;
        }
        /* as_completed. */
        for (size_t k = 0; k < n; k++) {
            size_t idx = SIZE_MAX;
            int rc = mp_async_wait_any(h, n, CHAOS_OP_BOUND, &idx);
            if (rc != MP_OK || idx >= n || h[idx] == NULL) {
                chaos_fail("pool futures: wait_any returned %s, index %zu", mp_err_name(rc), idx);
                return 1;
            }
            void *r = NULL;
            size_t len = 0;
            rc = mp_async_get_alloc(h[idx], &r, &len, 0);
            fut_check(args[idx], cancelled[idx], rc, r, len, mp_async_task_error(h[idx]));
            free(r);
            mp_async_free(h[idx]);
            h[idx] = NULL;
            atomic_fetch_add(&P->futures, 1);
            atomic_fetch_add(&s->ops, 1); /* one handle consumed */
        }
    }
    mp_pool_close(pool);
    mp_pool_join(pool);
    mp_pool_free(pool);
    return 0;
}

static const struct role pool_roles[] = {
    {"mapper", 1, run_mapper, false},
    {"futures", 1, run_futures, false},
};

static int pool_init(void)
{
    P = mp_shared_calloc(1, sizeof *P);
    return P == NULL ? -1 : 0;
}

/* children lists pid's children. */
static int children(pid_t pid, pid_t *out, int cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    int n = 0, c;
    while (n < cap && fscanf(f, "%d", &c) == 1)
        out[n++] = c;
    fclose(f);
    return n;
}

/* One kill in four hits a pool worker: a grandchild of the mapper or of
 * the futures process (their child is their pool's supervisor process). */
static bool pool_kill(uint64_t *rng)
{
    if (chaos_rand(rng) % 4 != 0)
        return false;
    struct slot *s = chaos_slot_of(chaos_rand(rng) % 2 ? run_mapper : run_futures, 0);
    if (s == NULL || s->proc == NULL)
        return false;
    pid_t sup[4], workers[16];
    int ns = children(mp_process_pid(s->proc), sup, 4);
    int nw = 0;
    for (int i = 0; i < ns; i++)
        nw += children(sup[i], workers + nw, 16 - nw);
    if (nw == 0)
        return false;
    if (kill(workers[chaos_rand(rng) % (uint64_t)nw], SIGKILL) != 0)
        return false;
    P->worker_kills++;
    return true;
}

static void pool_check(void)
{
    uint64_t died = atomic_load(&P->worker_died);
    if (died > P->worker_kills * MAX_CHUNK)
        chaos_fail("pool: %" PRIu64 " items failed MP_EWORKERDIED, but only %" PRIu64
                   " workers were killed (chunks of at most %d)",
                   died, P->worker_kills, MAX_CHUNK);
    if (atomic_load(&P->runs) == 0)
        chaos_fail("pool: no imap run completed");
    if (atomic_load(&P->futures) == 0)
        chaos_fail("pool: no futures batch completed");
}

static void pool_report(void)
{
    printf("pool_worker_kills: %" PRIu64 "\n", P->worker_kills);
    printf("pool_runs_completed: %" PRIu64 "\n", atomic_load(&P->runs));
    printf("pool_items: %" PRIu64 "\n", atomic_load(&P->items));
    printf("pool_items_worker_died: %" PRIu64 "\n", atomic_load(&P->worker_died));
    printf("pool_items_task_failed: %" PRIu64 "\n", atomic_load(&P->task_failed));
    printf("pool_futures: %" PRIu64 "\n", atomic_load(&P->futures));
    printf("pool_futures_cancelled: %" PRIu64 "\n", atomic_load(&P->cancelled));
}

static void pool_fini(void)
{
    mp_shared_free(P);
}

const struct chaos_module chaos_pool_module = {
    .name = "pool",
    .init = pool_init,
    .roles = pool_roles,
    .nroles = sizeof pool_roles / sizeof *pool_roles,
    .kill = pool_kill,
    .check = pool_check,
    .report = pool_report,
    .fini = pool_fini,
};
