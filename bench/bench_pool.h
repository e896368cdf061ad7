/* bench_pool.h - what bench_pool.c and bench_cluster.c share: the tasks
 * and the map and apply drivers, so a local pool and a cluster pool are
 * timed doing exactly the same work. Header-only, as bench.h. */
#ifndef MP_BENCH_POOL_H
#define MP_BENCH_POOL_H

#include "bench.h"
#include "mp.h"

/* x*x of an int64. */
static inline int bench_square(const void *arg, void *result)
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
} bench_cpu_task;

/* iters rounds of the CPU loop (bench_cpu_work). */
static inline int bench_work(const void *arg, void *result)
{
    const bench_cpu_task *t = arg;
    uint64_t r = bench_cpu_work(t->seed, t->iters);
    memcpy(result, &r, sizeof r);
    return 0;
}

/* Items/s of mp_pool_map(bench_square) over 0..n-1 (chunk 0: automatic),
 * results checked. */
static inline double bench_pool_map(mp_pool *pool, long n, size_t chunk)
{
    int64_t *in = malloc((size_t)n * sizeof *in), *out = malloc((size_t)n * sizeof *out);
    if (!in || !out)
        bench_die("malloc", -ENOMEM);
    for (long i = 0; i < n; i++) {
        in[i] = i;
        out[i] = -1;
    }
    double t0 = bench_now();
    int rc = mp_pool_map(pool, bench_square, in, (size_t)n, sizeof *in, out, sizeof *out, chunk);
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

/* Tasks/s of n apply_async of bench_square, then every get, checked. */
static inline double bench_pool_apply(mp_pool *pool, long n)
{
    mp_async **a = malloc((size_t)n * sizeof *a);
    int64_t total = 0, expect = 0;
    if (!a)
        bench_die("malloc", -ENOMEM);
    double t0 = bench_now();
    for (long i = 0; i < n; i++) {
        int64_t x = i;
        a[i] = mp_pool_apply_async(pool, bench_square, &x, sizeof x, sizeof x, NULL);
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

#endif
