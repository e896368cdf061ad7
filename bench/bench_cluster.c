/* bench_cluster.c - the cluster pool (libmp_mpi): tiny tasks in a map and
 * one by one, the round trip of one task, and tasks of 1 ms of CPU.
 *
 *   mpirun -np 3 bench_cluster MODE procs=1 ...   the cluster: rank 0 and
 *                                                 two nodes of `procs` workers
 *   bench_cluster MODE procs=2 ...                the same program alone: a
 *                                                 local pool of `procs` workers
 *
 *   map   n=ITEMS chunk=C   items/s, mp_pool_map(square) (C 0: automatic)
 *   apply n=TASKS           tasks/s, n apply_async, then every get
 *   rt    seconds=T         us per apply_async + get, one task at a time
 *   work  tasks=K ms=M      tasks/s, a map of K tasks of M ms of CPU each,
 *                           one per chunk
 *
 * Every rank runs main; rank 0 measures (after a warm-up) and prints the
 * RESULT line, the nodes serve. MPI start-up is not measured. */
#include "bench_pool.h"

#include <mp/cluster.h>

/* The same tasks as bench_pool's, registered for the cluster. */
MP_TASK(bench_square, sizeof(int64_t), sizeof(int64_t))
MP_TASK(bench_work, sizeof(bench_cpu_task), sizeof(uint64_t))

static double rt(mp_pool *pool, double seconds)
{
    long n = 0;
    double t0 = bench_now(), t1 = t0;
    do {
        int64_t x = n, r = 0;
        int rc = mp_pool_apply(pool, bench_square, &x, sizeof x, &r, sizeof r);
        if (rc != 0 || r != x * x)
            bench_die("rt result", rc ? rc : -EIO);
        n++;
    } while ((t1 = bench_now()) - t0 < seconds);
    return (t1 - t0) / (double)n * 1e6;
}

/* Iterations of the CPU loop that take ms milliseconds: the most of
 * several calibrations, the one least slowed by other work (on a shared
 * machine one calibration may be preempted, and the tasks come out
 * shorter, in one column and not in the next). */
static long calibrate(double ms)
{
    long best = 0;
    for (int k = 0; k < 5; k++) {
        long it = bench_cpu_iters(ms * 1e-3);
        if (it > best)
            best = it;
    }
    return best;
}

static double cpu_tasks(mp_pool *pool, int tasks, double ms)
{
    long iters = calibrate(ms);
    bench_cpu_task *in = malloc((size_t)tasks * sizeof *in);
    uint64_t *out = malloc((size_t)tasks * sizeof *out);
    if (!in || !out)
        bench_die("malloc", -ENOMEM);
    for (int k = 0; k < tasks; k++)
        in[k] = (bench_cpu_task){(uint64_t)k, iters};
    double t0 = bench_now();
    int rc = mp_pool_map(pool, bench_work, in, (size_t)tasks, sizeof *in, out, sizeof *out, 1);
    double dt = bench_now() - t0;
    if (rc != 0)
        bench_die("mp_pool_map", rc);
    for (int k = 0; k < tasks; k += tasks / 7 + 1)
        if (out[k] != bench_cpu_work(in[k].seed, in[k].iters))
            bench_die("work result", -EIO);
    free(in);
    free(out);
    return tasks / dt;
}

int main(int argc, char **argv)
{
    /* Read before MPI_Init, which may rewrite argv. */
    const char *mode = bench_mode(argc, argv);
    const char *fig = bench_arg(argc, argv, "fig", mode);
    int procs = (int)bench_argl(argc, argv, "procs", 1);
    double seconds = bench_argf(argc, argv, "seconds", 0.5);
    long n = bench_argl(argc, argv, "n", 100000), chunk = bench_argl(argc, argv, "chunk", 0);
    int tasks = (int)bench_argl(argc, argv, "tasks", 200);
    double ms = bench_argf(argc, argv, "ms", 1.0);
    const char *column = bench_arg(argc, argv, "column", "libmp");
    if (strcmp(mode, "map") && strcmp(mode, "apply") && strcmp(mode, "rt") &&
        strcmp(mode, "work")) {
        fprintf(stderr, "usage: %s map|apply|rt|work [key=value...]\n", argv[0]);
        return 2;
    }

    mp_pool *pool;
    mp_cluster_opts o = {.pool.processes = procs};
    int rc = mp_cluster_init(&argc, &argv, &o, &pool);
    if (rc == MP_CLUSTER_SERVED)
        return 0;
    if (rc < 0)
        bench_die("mp_cluster_init", rc);
    int64_t warm_in[64], warm_out[64];
    for (int i = 0; i < 64; i++)
        warm_in[i] = i;
    rc = mp_pool_map(pool, bench_square, warm_in, 64, sizeof *warm_in, warm_out, sizeof *warm_out,
                     1);
    if (rc != 0)
        bench_die("mp_pool_map (warm-up)", rc);

    if (strcmp(mode, "map") == 0)
        bench_result(fig, column, bench_pool_map(pool, n, (size_t)chunk), "items/s");
    else if (strcmp(mode, "apply") == 0)
        bench_result(fig, column, bench_pool_apply(pool, n), "tasks/s");
    else if (strcmp(mode, "rt") == 0)
        bench_result(fig, column, rt(pool, seconds), "us");
    else
        bench_result(fig, column, cpu_tasks(pool, tasks, ms), "tasks/s");
    mp_pool_close(pool);
    mp_pool_join(pool);
    return mp_cluster_finalize() == 0 ? 0 : 1;
}
