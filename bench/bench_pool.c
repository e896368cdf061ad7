/* bench_pool.c - libmp pools: map of a trivial function, apply_async one
 * task at a time, and the speedup on CPU-bound work.
 *
 *   bench_pool map     fig=F n=ITEMS procs=P           items/s (mp_pool_map, chunksize automatic)
 *   bench_pool apply   fig=F n=TASKS procs=P           tasks/s (n apply_async, then every get)
 *   bench_pool speedup fig=F tasks=K procs=P seconds=T serial time / mp_pool_map time
 *
 * The pool is made (and warmed up with a small map) before the clock
 * starts, as bench/py/bench_pool.py does. */
#include "bench.h"
#include "mp.h"

static int square(const void *arg, void *result)
{
    int64_t x;
    memcpy(&x, arg, sizeof x);
    x *= x;
    memcpy(result, &x, sizeof x);
    return 0;
}

typedef struct {
    uint64_t seed;
    long iters;
} cpu_task;

static int work(const void *arg, void *result)
{
    const cpu_task *t = arg;
    uint64_t r = bench_cpu_work(t->seed, t->iters);
    memcpy(result, &r, sizeof r);
    return 0;
}

static double map(mp_pool *pool, long n)
{
    int64_t *in = malloc((size_t)n * sizeof *in), *out = malloc((size_t)n * sizeof *out);
    if (!in || !out)
        bench_die("malloc", -ENOMEM);
    for (long i = 0; i < n; i++) {
        in[i] = i;
        out[i] = -1;
    }
    double t0 = bench_now();
    int rc = mp_pool_map(pool, square, in, (size_t)n, sizeof *in, out, sizeof *out, 0);
    double dt = bench_now() - t0;
    if (rc != 0)
        bench_die("mp_pool_map", rc);
    for (long i = 0; i < n; i++)
        if (out[i] != i * i)
            bench_die("map result", -EIO);
    free(in);
    free(out);
    return (double)n / dt;
}

static double apply(mp_pool *pool, long n)
{
    mp_async **a = malloc((size_t)n * sizeof *a);
    int64_t total = 0, expect = 0;
    if (!a)
        bench_die("malloc", -ENOMEM);
    double t0 = bench_now();
    for (long i = 0; i < n; i++) {
        int64_t x = i;
        a[i] = mp_pool_apply_async(pool, square, &x, sizeof x, sizeof x, NULL);
        if (!a[i])
            bench_die("mp_pool_apply_async", -errno);
    }
    for (long i = 0; i < n; i++) {
        int64_t r;
        int rc = mp_async_get(a[i], &r, MP_FOREVER);
        if (rc != 0)
            bench_die("mp_async_get", rc);
        total += r;
        mp_async_free(a[i]);
    }
    double dt = bench_now() - t0;
    for (long i = 0; i < n; i++)
        expect += (int64_t)i * i;
    if (total != expect)
        bench_die("apply result", -EIO);
    free(a);
    return (double)n / dt;
}

static double speedup(mp_pool *pool, int tasks, double seconds)
{
    long iters = bench_cpu_iters(seconds / tasks);
    cpu_task *in = malloc((size_t)tasks * sizeof *in);
    uint64_t *serial = malloc((size_t)tasks * sizeof *serial);
    uint64_t *parallel = malloc((size_t)tasks * sizeof *parallel);
    if (!in || !serial || !parallel)
        bench_die("malloc", -ENOMEM);
    for (int k = 0; k < tasks; k++)
        in[k] = (cpu_task){(uint64_t)k, iters};
    double t0 = bench_now();
    for (int k = 0; k < tasks; k++)
        serial[k] = bench_cpu_work(in[k].seed, in[k].iters);
    double t1 = bench_now();
    int rc = mp_pool_map(pool, work, in, (size_t)tasks, sizeof *in, parallel, sizeof *parallel, 1);
    double t2 = bench_now();
    if (rc != 0)
        bench_die("mp_pool_map", rc);
    if (memcmp(serial, parallel, (size_t)tasks * sizeof *serial) != 0)
        bench_die("speedup result", -EIO);
    free(in);
    free(serial);
    free(parallel);
    return (t1 - t0) / (t2 - t1);
}

int main(int argc, char **argv)
{
    const char *mode = bench_mode(argc, argv);
    const char *fig = bench_arg(argc, argv, "fig", mode);
    int procs = (int)bench_argl(argc, argv, "procs", 2);
    double seconds = bench_argf(argc, argv, "seconds", 0.5);

    if (strcmp(mode, "map") != 0 && strcmp(mode, "apply") != 0 && strcmp(mode, "speedup") != 0) {
        fprintf(stderr, "usage: %s map|apply|speedup [key=value...]\n", argv[0]);
        return 2;
    }
    mp_pool *pool = mp_pool_new(procs);
    if (!pool)
        bench_die("mp_pool_new", -errno);
    int64_t warm_in[64], warm_out[64];
    for (int i = 0; i < 64; i++)
        warm_in[i] = i;
    int rc = mp_pool_map(pool, square, warm_in, 64, sizeof *warm_in, warm_out, sizeof *warm_out, 0);
    if (rc != 0)
        bench_die("mp_pool_map (warm-up)", rc);

    if (strcmp(mode, "map") == 0)
        bench_result(fig, "libmp", map(pool, bench_argl(argc, argv, "n", 1000000)), "items/s");
    else if (strcmp(mode, "apply") == 0)
        bench_result(fig, "libmp", apply(pool, bench_argl(argc, argv, "n", 10000)), "tasks/s");
    else
        bench_result(fig, "libmp", speedup(pool, (int)bench_argl(argc, argv, "tasks", 16), seconds),
                     "x");
    mp_pool_close(pool);
    mp_pool_join(pool);
    mp_pool_free(pool);
    return 0;
}
