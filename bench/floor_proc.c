/* floor_proc.c - the floors for processes and pools: bare fork(2) and
 * waitpid(2), and work split statically over forked children that write
 * their results straight into shared memory.
 *
 *   floor_proc spawn   fig=F seconds=T                 fork + _exit + waitpid (us each)
 *   floor_proc map     fig=F n=ITEMS procs=P           items/s for a trivial function
 *   floor_proc speedup fig=F tasks=K procs=P seconds=T serial time / parallel time
 *
 * map and speedup fork their workers inside the timed region: that is the
 * whole cost of doing the work in other processes with nothing reused. */
#include "bench.h"

static double spawn(double seconds)
{
    long n = 0;
    double t0 = bench_now(), t1 = t0;
    do {
        pid_t pid = fork();
        if (pid < 0)
            bench_die("fork", -errno);
        if (pid == 0)
            _exit(0);
        bench_reap(pid);
        n++;
    } while ((t1 = bench_now()) - t0 < seconds);
    return (t1 - t0) / (double)n * 1e6;
}

/* The trivial function of the pool-map figure. */
static int64_t square(int64_t x)
{
    return x * x;
}

static double map(long n, int procs)
{
    int64_t *in = bench_shared((size_t)n * sizeof *in);
    int64_t *out = bench_shared((size_t)n * sizeof *out);
    pid_t pids[64];
    for (long i = 0; i < n; i++) {
        in[i] = i;
        out[i] = -1; /* touch the pages before the clock starts */
    }
    double t0 = bench_now();
    for (int p = 0; p < procs; p++) {
        pids[p] = fork();
        if (pids[p] < 0)
            bench_die("fork", -errno);
        if (pids[p] == 0) {
            long lo = n * p / procs, hi = n * (p + 1) / procs;
            for (long i = lo; i < hi; i++)
                out[i] = square(in[i]);
            _exit(0);
        }
    }
    for (int p = 0; p < procs; p++)
        bench_reap(pids[p]);
    double dt = bench_now() - t0;
    for (long i = 0; i < n; i++)
        if (out[i] != i * i)
            bench_die("map result", -EIO);
    return (double)n / dt;
}

static double speedup(int tasks, int procs, double seconds)
{
    long iters = bench_cpu_iters(seconds / tasks);
    uint64_t *out = bench_shared((size_t)tasks * sizeof *out);
    pid_t pids[64];
    double t0 = bench_now();
    for (int k = 0; k < tasks; k++)
        out[k] = bench_cpu_work((uint64_t)k, iters);
    double serial = bench_now() - t0;
    t0 = bench_now();
    for (int p = 0; p < procs; p++) {
        pids[p] = fork();
        if (pids[p] < 0)
            bench_die("fork", -errno);
        if (pids[p] == 0) {
            for (int k = p; k < tasks; k += procs)
                out[k] ^= bench_cpu_work((uint64_t)k, iters);
            _exit(0);
        }
    }
    for (int p = 0; p < procs; p++)
        bench_reap(pids[p]);
    double parallel = bench_now() - t0;
    for (int k = 0; k < tasks; k++)
        if (out[k] != 0) /* each task gave the same value twice */
            bench_die("speedup result", -EIO);
    return serial / parallel;
}

int main(int argc, char **argv)
{
    const char *mode = bench_mode(argc, argv);
    const char *fig = bench_arg(argc, argv, "fig", mode);
    double seconds = bench_argf(argc, argv, "seconds", 0.2);
    int procs = (int)bench_argl(argc, argv, "procs", 2);

    if (procs < 1 || procs > 64)
        bench_die("procs", -EINVAL);
    if (strcmp(mode, "spawn") == 0)
        bench_result(fig, "floor", spawn(seconds), "us");
    else if (strcmp(mode, "map") == 0)
        bench_result(fig, "floor", map(bench_argl(argc, argv, "n", 1000000), procs), "items/s");
    else if (strcmp(mode, "speedup") == 0)
        bench_result(fig, "floor",
                     speedup((int)bench_argl(argc, argv, "tasks", 16), procs, seconds), "x");
    else {
        fprintf(stderr, "usage: %s spawn|map|speedup [key=value...]\n", argv[0]);
        return 2;
    }
    return 0;
}
