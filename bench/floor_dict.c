/* floor_dict.c - the floors of the dict figures: what the machine does
 * with no hashing, no copying and no safety at all.
 *
 *   floor_dict mix fig=F procs=2 keys=10000 seconds=T
 *       50% loads, 50% stores of 8-byte words of a shared array indexed
 *       by key: the memory traffic any shared map must at least make
 *   floor_dict lockpair fig=F seconds=T
 *       an uncontended lock+unlock pair (compare-and-swap, exchange) in
 *       one process: the target an atomic counter is measured against
 *
 * No libmp; the random sequence is bench_dict.c's. */
#include <stdatomic.h>

#include "bench.h"

typedef struct {
    _Atomic uint64_t *slots; /* the array, in shared memory */
    uint64_t keys;
    uint64_t rng;
    int owner;              /* 1 + the worker rng was seeded for */
    _Atomic uint32_t *lock; /* lockpair: the lock word */
    uint64_t *counter;      /* lockpair: the critical section's work */
} floor_ctx;

static int mix_op(void *arg)
{
    floor_ctx *c = arg;
    uint64_t r = bench_rand(&c->rng, &c->owner);
    _Atomic uint64_t *s = &c->slots[(r >> 1) % c->keys];
    if (r & 1)
        atomic_store_explicit(s, r, memory_order_release);
    else if (atomic_load_explicit(s, memory_order_acquire) == 1)
        return 1; /* never: keeps the load */
    return 0;
}

/* warm reads every slot once in each worker before the clock starts. */
static int warm(void *arg)
{
    floor_ctx *c = arg;
    uint64_t sum = 0;
    for (uint64_t k = 0; k < c->keys; k++)
        sum += atomic_load_explicit(&c->slots[k], memory_order_relaxed);
    return sum == 1; /* never: keeps the loads */
}

static int lockpair_op(void *arg)
{
    floor_ctx *c = arg;
    uint32_t free_word = 0;
    if (!atomic_compare_exchange_strong_explicit(c->lock, &free_word, 1, memory_order_acquire,
                                                 memory_order_relaxed))
        return 1; /* uncontended: never */
    (*c->counter)++;
    atomic_exchange_explicit(c->lock, 0, memory_order_release);
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = bench_mode(argc, argv);
    const char *fig = bench_arg(argc, argv, "fig", mode);
    double seconds = bench_argf(argc, argv, "seconds", 0.2);
    floor_ctx c = {0};
    if (strcmp(mode, "mix") == 0) {
        int procs = (int)bench_argl(argc, argv, "procs", 2);
        c.keys = (uint64_t)bench_argl(argc, argv, "keys", 10000);
        c.slots = bench_shared(c.keys * sizeof *c.slots);
        bench_warm = warm;
        bench_result(fig, "floor", bench_ops(procs, seconds, mix_op, &c), "ops/s");
    } else if (strcmp(mode, "lockpair") == 0) {
        c.lock = bench_shared(4096);
        c.counter = (uint64_t *)((char *)c.lock + 64);
        bench_result(fig, "floor", bench_ops(1, seconds, lockpair_op, &c), "ops/s");
    } else {
        fprintf(stderr, "usage: %s mix|lockpair [key=value...]\n", argv[0]);
        return 2;
    }
    return 0;
}
