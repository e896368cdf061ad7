/* bench_pool.c - libmp pools: map of a trivial function, apply_async one
 * task at a time, the speedup on CPU-bound work, round trips with explicit
 * placement, results of any size, and how fast a waiter wakes.
 *
 *   bench_pool map     fig=F n=ITEMS procs=P           items/s (mp_pool_map, chunksize automatic)
 *   bench_pool apply   fig=F n=TASKS procs=P           tasks/s (n apply_async, then every get)
 *   bench_pool speedup fig=F tasks=K procs=P seconds=T serial time / mp_pool_map time
 *   bench_pool rt      fig=F seconds=T                 us per apply_async + get of x*x, 1 worker
 *   bench_pool rt_alloc fig=F size=B seconds=T        us per apply_async + get_alloc of a
 *                                                     B-byte result (mp_task_result_alloc)
 *   bench_pool wake    fig=F handles=H seconds=T       us from a task's end to its waiter's
 *                                                     return (median): mp_async_wait when H
 *                                                     is 1, else mp_async_wait_any over H
 *                                                     handles of which H-1 never complete
 *
 * For rt, rt_alloc and wake, this process is the sender and the pool's
 * processes the receiver of BENCH_PLACE (bench.h). The pool is made (and
 * warmed up) before the clock starts, as bench/py/bench_pool.py does. */
#include "bench_pool.h"

/* A result of *arg bytes made with mp_task_result_alloc. */
static int alloc_result(const void *arg, void *result)
{
    (void)result;
    size_t n;
    memcpy(&n, arg, sizeof n);
    char *b = mp_task_result_alloc(n);
    if (b == NULL)
        return 1;
    memset(b, 'r', n);
    return 0;
}

/* Sleeps *arg seconds (long enough for its waiter to be asleep in the
 * kernel), then returns the time it ended. */
static int stamp_after(const void *arg, void *result)
{
    double delay, t;
    memcpy(&delay, arg, sizeof delay);
    usleep((useconds_t)(delay * 1e6));
    t = bench_now();
    memcpy(result, &t, sizeof t);
    return 0;
}

/* Blocks until the event is set: a handle that never completes in time. */
static int block_on(const void *arg, void *result)
{
    (void)result;
    mp_event *e;
    memcpy(&e, arg, sizeof e);
    return mp_event_wait(e, MP_FOREVER);
}

static double rt(mp_pool *pool, double seconds)
{
    long n = 0;
    double t0 = bench_now(), t1 = t0;
    do {
        int64_t x = n, r = 0;
        mp_async *a = mp_pool_apply_async(pool, bench_square, &x, sizeof x, sizeof r, NULL);
        if (a == NULL)
            bench_die("mp_pool_apply_async", -errno);
        int rc = mp_async_get(a, &r, MP_FOREVER);
        mp_async_free(a);
        if (rc != 0 || r != x * x)
            bench_die("rt result", rc ? rc : -EIO);
        n++;
    } while ((t1 = bench_now()) - t0 < seconds);
    return (t1 - t0) / (double)n * 1e6;
}

static double rt_alloc(mp_pool *pool, size_t size, double seconds)
{
    long n = 0;
    double t0 = bench_now(), t1 = t0;
    do {
        mp_async *a = mp_pool_apply_async(pool, alloc_result, &size, sizeof size, 0, NULL);
        if (a == NULL)
            bench_die("mp_pool_apply_async", -errno);
        void *r;
        size_t len;
        int rc = mp_async_get_alloc(a, &r, &len, MP_FOREVER);
        mp_async_free(a);
        if (rc != 0 || len != size || (size > 0 && ((char *)r)[size - 1] != 'r'))
            bench_die("rt_alloc result", rc ? rc : -EIO);
        free(r);
        n++;
    } while ((t1 = bench_now()) - t0 < seconds);
    return (t1 - t0) / (double)n * 1e6;
}

/* Wake-up latency: one task at a time ends after a sleep; its waiter (this
 * process, asleep by then) returns; the sample is return time minus end
 * time. With handles > 1 the waiter waits on the task and on handles - 1
 * tasks of a second pool that stay blocked for the whole run. */
static double wake(mp_pool *pool, int handles, double seconds)
{
    enum { MAX_SAMPLES = 100000, MAX_HANDLES = 64 };
    if (handles < 1 || handles > MAX_HANDLES)
        bench_die("handles", -EINVAL);
    mp_async *h[MAX_HANDLES] = {0};
    mp_pool *blocked = NULL;
    mp_event *gate = NULL;
    if (handles > 1) {
        gate = mp_event_new();
        blocked = mp_pool_new(1);
        if (gate == NULL || blocked == NULL)
            bench_die("blocked pool", -errno);
        for (int i = 1; i < handles; i++)
            if ((h[i] = mp_pool_apply_async(blocked, block_on, &gate, sizeof gate, 0, NULL)) ==
                NULL)
                bench_die("mp_pool_apply_async", -errno);
    }
    static double lat[MAX_SAMPLES];
    long n = 0;
    double delay = 500e-6, t0 = bench_now();
    do {
        double end = 0;
        h[0] = mp_pool_apply_async(pool, stamp_after, &delay, sizeof delay, sizeof end, NULL);
        if (h[0] == NULL)
            bench_die("mp_pool_apply_async", -errno);
        size_t idx = 0;
        int rc = handles == 1 ? mp_async_wait(h[0], MP_FOREVER)
                              : mp_async_wait_any(h, (size_t)handles, MP_FOREVER, &idx);
        double woke = bench_now();
        if (rc != 0 || idx != 0 || mp_async_get(h[0], &end, 0) != 0)
            bench_die("wake", rc ? rc : -EIO);
        mp_async_free(h[0]);
        lat[n++] = (woke - end) * 1e6;
    } while (n < MAX_SAMPLES && bench_now() - t0 < seconds);
    if (handles > 1) {
        mp_event_set(gate);
        for (int i = 1; i < handles; i++) {
            mp_async_wait(h[i], MP_FOREVER);
            mp_async_free(h[i]);
        }
        mp_pool_close(blocked);
        mp_pool_join(blocked);
        mp_pool_free(blocked);
        mp_event_free(gate);
    }
    return bench_median(lat, (size_t)n);
}

static double speedup(mp_pool *pool, int tasks, double seconds)
{
    long iters = bench_cpu_iters(seconds / tasks);
    bench_cpu_task *in = malloc((size_t)tasks * sizeof *in);
    uint64_t *serial = malloc((size_t)tasks * sizeof *serial);
    uint64_t *parallel = malloc((size_t)tasks * sizeof *parallel);
    if (!in || !serial || !parallel)
        bench_die("malloc", -ENOMEM);
    for (int k = 0; k < tasks; k++)
        in[k] = (bench_cpu_task){(uint64_t)k, iters};
    double t0 = bench_now();
    for (int k = 0; k < tasks; k++)
        serial[k] = bench_cpu_work(in[k].seed, in[k].iters);
    double t1 = bench_now();
    int rc =
        mp_pool_map(pool, bench_work, in, (size_t)tasks, sizeof *in, parallel, sizeof *parallel, 1);
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
    bool one = strcmp(mode, "rt") == 0 || strcmp(mode, "rt_alloc") == 0 ||
               strcmp(mode, "wake") == 0; /* one worker, placed */

    if (!one && strcmp(mode, "map") != 0 && strcmp(mode, "apply") != 0 &&
        strcmp(mode, "speedup") != 0) {
        fprintf(stderr, "usage: %s map|apply|speedup|rt|rt_alloc|wake [key=value...]\n", argv[0]);
        return 2;
    }
    if (one) {
        procs = 1;
        bench_pin(BENCH_RECEIVER); /* the supervisor and the worker inherit it */
    }
    mp_pool *pool = mp_pool_new(procs);
    if (!pool)
        bench_die("mp_pool_new", -errno);
    if (one)
        bench_pin(BENCH_SENDER);
    int64_t warm_in[64], warm_out[64];
    for (int i = 0; i < 64; i++)
        warm_in[i] = i;
    int rc = mp_pool_map(pool, bench_square, warm_in, 64, sizeof *warm_in, warm_out,
                         sizeof *warm_out, 0);
    if (rc != 0)
        bench_die("mp_pool_map (warm-up)", rc);

    if (strcmp(mode, "map") == 0)
        bench_result(fig, "libmp", bench_pool_map(pool, bench_argl(argc, argv, "n", 1000000), 0),
                     "items/s");
    else if (strcmp(mode, "apply") == 0)
        bench_result(fig, "libmp", bench_pool_apply(pool, bench_argl(argc, argv, "n", 10000)),
                     "tasks/s");
    else if (strcmp(mode, "speedup") == 0)
        bench_result(fig, "libmp", speedup(pool, (int)bench_argl(argc, argv, "tasks", 16), seconds),
                     "x");
    else if (strcmp(mode, "rt") == 0)
        bench_result(fig, "libmp", rt(pool, seconds), "us");
    else if (strcmp(mode, "rt_alloc") == 0)
        bench_result(fig, "libmp",
                     rt_alloc(pool, (size_t)bench_argl(argc, argv, "size", 4096), seconds), "us");
    else
        bench_result(fig, "libmp", wake(pool, (int)bench_argl(argc, argv, "handles", 1), seconds),
                     "us");
    mp_pool_close(pool);
    mp_pool_join(pool);
    mp_pool_free(pool);
    return 0;
}
