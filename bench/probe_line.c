/* probe_line.c - the state of the machine, not a figure: how long one
 * cache line takes to go from the first CPU to the second and back.
 *
 *   probe_line [rounds=N] [batches=B]
 *
 * On a virtual machine the two CPUs are threads the host places where it
 * likes: on one physical core, on two cores sharing a cache, or farther
 * apart, and it may move them during a run. Every figure measured across
 * CPUs moves with that distance (a queue's messages are cache lines going
 * one way and coming back), so bench/run prints this beside its results:
 * two runs whose probes differ were on different machines, in effect.
 *
 * Two processes pinned to the two CPUs pass a counter back and forth in one
 * shared line, spinning (no system call): the sender writes an odd value,
 * the receiver answers with the next even one. Prints the median over B
 * batches of N round trips, in nanoseconds per round trip. */
#include "bench.h"

#include <stdatomic.h>

typedef struct {
    _Alignas(64) _Atomic uint64_t ball;
} court;

static void echo(court *c, long total)
{
    for (uint64_t want = 1; want < 2 * (uint64_t)total; want += 2) {
        while (atomic_load_explicit(&c->ball, memory_order_acquire) != want)
            bench_relax();
        atomic_store_explicit(&c->ball, want + 1, memory_order_release);
    }
}

int main(int argc, char **argv)
{
    long rounds = bench_argl(argc, argv, "rounds", 200);
    long batches = bench_argl(argc, argv, "batches", 201);
    if (rounds < 1 || batches < 1) {
        fprintf(stderr, "usage: %s [rounds=N] [batches=B]\n", argv[0]);
        return 2;
    }
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0 || CPU_COUNT(&allowed) < 2) {
        printf("NA one CPU: no line to pass between two\n");
        return 0;
    }
    setenv("BENCH_PLACE", "diff", 1);
    court *c = bench_shared(sizeof *c);
    double *ns = calloc((size_t)batches, sizeof *ns);
    if (ns == NULL)
        bench_die("calloc", -ENOMEM);
    pid_t pid = bench_fork_peer();
    if (pid < 0)
        bench_die("fork", -errno);
    if (pid == 0) {
        echo(c, rounds * batches);
        _exit(0);
    }
    uint64_t v = 1;
    for (long b = 0; b < batches; b++) {
        double t0 = bench_now();
        for (long i = 0; i < rounds; i++, v += 2) {
            atomic_store_explicit(&c->ball, v, memory_order_release);
            while (atomic_load_explicit(&c->ball, memory_order_acquire) != v + 1)
                bench_relax();
        }
        ns[b] = (bench_now() - t0) / (double)rounds * 1e9;
    }
    bench_reap(pid);
    bench_result("probe", "line_rt", bench_median(ns, (size_t)batches), "ns");
    free(ns);
    return 0;
}
