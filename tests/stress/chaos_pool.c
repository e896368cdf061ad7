/* chaos_pool.c - the pool part of the chaos run: a mapper process keeps a
 * pool busy with imap runs while the supervisor SIGKILLs its workers (and,
 * as any participant, the mapper itself).
 *
 * Every run must hand out each index exactly once, with the right result,
 * or MP_ETASK with the task's own code for the items that fail on purpose,
 * or MP_EWORKERDIED; and no more items may fail with MP_EWORKERDIED than
 * killed workers could have been running (kills times the chunk size). */
#include <dirent.h>
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
#define TASK_FAILS 97 /* items whose argument is a multiple of this fail */
#define TASK_CODE  42 /* with this code */

struct pworld {
    _Atomic uint64_t runs;        /* imap runs completed */
    _Atomic uint64_t items;       /* items handed out */
    _Atomic uint64_t worker_died; /* items reported MP_EWORKERDIED */
    _Atomic uint64_t task_failed; /* items reported MP_ETASK, as meant */
    uint64_t worker_kills;        /* workers SIGKILLed (supervisor only) */
};

static struct pworld *P;

/* The task: a little work, so kills land inside it, and a known answer. */
static int task(const void *arg, void *result)
{
    uint64_t x;
    memcpy(&x, arg, sizeof x);
    if (x % TASK_FAILS == 0)
        return TASK_CODE;
    /* Tens of microseconds of work, so that kills land inside tasks. */
    volatile uint64_t spin = x;
    for (int i = 0; i < (int)(x % 20000); i++)
        spin = spin * 6364136223846793005ULL + 1442695040888963407ULL;
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
        size_t n = 16 + chaos_rand(rng) % (MAX_ITEMS - 16);
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

static const struct role pool_roles[] = {
    {"mapper", 1, run_mapper, false},
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

/* One kill in four hits a pool worker: a grandchild of the mapper (the
 * mapper's child is the pool's own supervisor process). */
static bool pool_kill(uint64_t *rng)
{
    if (chaos_rand(rng) % 4 != 0)
        return false;
    struct slot *s = chaos_slot_of(run_mapper, 0);
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
}

static void pool_report(void)
{
    printf("pool_worker_kills: %" PRIu64 "\n", P->worker_kills);
    printf("pool_runs_completed: %" PRIu64 "\n", atomic_load(&P->runs));
    printf("pool_items: %" PRIu64 "\n", atomic_load(&P->items));
    printf("pool_items_worker_died: %" PRIu64 "\n", atomic_load(&P->worker_died));
    printf("pool_items_task_failed: %" PRIu64 "\n", atomic_load(&P->task_failed));
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
