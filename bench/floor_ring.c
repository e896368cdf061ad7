/* floor_ring.c - the floor for queues: a lock-free single-producer,
 * single-consumer ring of fixed-size slots in shared memory, with futex
 * sleeps only when a side must wait. No library, no locks: what moving a
 * message between two processes costs at least.
 *
 *   floor_ring tput fig=F size=BYTES pairs=N seconds=T depth=SLOTS
 *   floor_ring rt   fig=F size=BYTES seconds=T
 *   floor_ring tasks fig=F n=TASKS procs=P
 *
 * With pairs=2 each producer has its own ring and consumer (2 independent
 * pairs): the best any 2-producer/2-consumer queue could do.
 *
 * tasks is the floor for a pool's apply_async: P workers, already started,
 * each with a ring of tasks and a ring of results; the parent deals n
 * tasks (an int64 each) round-robin, then collects the n squares. */
#include "bench.h"

#define SPIN 100 /* pause loops before sleeping on the futex */

typedef struct {
    _Alignas(64) _Atomic uint32_t head; /* messages published (producer writes) */
    _Atomic uint32_t cons_waiting;      /* consumer sleeps on head */
    _Alignas(64) _Atomic uint32_t tail; /* messages consumed (consumer writes) */
    _Atomic uint32_t prod_waiting;      /* producer sleeps on tail */
    _Alignas(64) uint32_t slots;        /* slot count */
    uint32_t stride;                    /* bytes per slot: length word + payload */
    _Alignas(64) unsigned char data[];  /* slots * stride */
} ring;

static ring *ring_new(uint32_t slots, size_t size)
{
    size_t stride = (size + 8 + 7) & ~(size_t)7;
    ring *r = bench_shared(sizeof(ring) + (size_t)slots * stride);
    r->slots = slots;
    r->stride = (uint32_t)stride;
    return r;
}

/* wait_change sleeps until *word moves away from seen, after announcing the
 * sleep in *flag. The other side publishes its counter, then swaps the flag
 * to 0 and wakes if it was set; both orders are sequentially consistent, so
 * one of the two always sees the other (no lost wake-up). */
static void wait_change(_Atomic uint32_t *word, _Atomic uint32_t *flag, uint32_t seen)
{
    atomic_store(flag, 1);
    if (atomic_load(word) == seen)
        bench_futex_wait(word, seen);
}

static void wake_if_waiting(_Atomic uint32_t *word, _Atomic uint32_t *flag)
{
    if (atomic_load_explicit(flag, memory_order_relaxed) && atomic_exchange(flag, 0))
        bench_futex_wake(word, 1);
}

static int ring_put(ring *r, const void *msg, size_t len)
{
    uint32_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    for (int spin = 0;; spin++) {
        uint32_t t = atomic_load_explicit(&r->tail, memory_order_acquire);
        if (h - t < r->slots)
            break;
        if (spin < SPIN)
            bench_relax();
        else
            wait_change(&r->tail, &r->prod_waiting, t);
    }
    unsigned char *slot = r->data + (size_t)(h % r->slots) * r->stride;
    uint32_t l = (uint32_t)len;
    memcpy(slot, &l, sizeof l);
    memcpy(slot + 8, msg, len);
    atomic_store(&r->head, h + 1);
    wake_if_waiting(&r->head, &r->cons_waiting);
    return 0;
}

static long ring_get(ring *r, void *buf, size_t cap)
{
    uint32_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    for (int spin = 0;; spin++) {
        uint32_t h = atomic_load_explicit(&r->head, memory_order_acquire);
        if (h != t)
            break;
        if (spin < SPIN)
            bench_relax();
        else
            wait_change(&r->head, &r->cons_waiting, h);
    }
    unsigned char *slot = r->data + (size_t)(t % r->slots) * r->stride;
    uint32_t l;
    memcpy(&l, slot, sizeof l);
    if (l > cap)
        return -1;
    memcpy(buf, slot + 8, l);
    atomic_store(&r->tail, t + 1);
    wake_if_waiting(&r->tail, &r->prod_waiting);
    return (long)l;
}

static int chan_put(void *ctx, int chan, const void *msg, size_t len)
{
    return ring_put(((ring **)ctx)[chan], msg, len);
}

static long chan_get(void *ctx, int chan, void *buf, size_t cap)
{
    return ring_get(((ring **)ctx)[chan], buf, cap);
}

static int square_worker(ring *in, ring *out)
{
    int64_t x;
    long len;
    while ((len = ring_get(in, &x, sizeof x)) == (long)sizeof x) {
        x *= x;
        ring_put(out, &x, sizeof x);
    }
    return len == 0 ? 0 : 3;
}

static double tasks(long n, int procs)
{
    ring *in[8], *out[8];
    pid_t pids[8];
    for (int p = 0; p < procs; p++) {
        /* Room for every task and result: dealing never waits on collecting. */
        in[p] = ring_new((uint32_t)(n / procs + 2), sizeof(int64_t));
        out[p] = ring_new((uint32_t)(n / procs + 2), sizeof(int64_t));
        fflush(NULL);
        if ((pids[p] = fork()) < 0)
            bench_die("fork", -errno);
        if (pids[p] == 0)
            _exit(square_worker(in[p], out[p]));
    }
    int64_t total = 0, expect = 0;
    double t0 = bench_now();
    for (long i = 0; i < n; i++) {
        int64_t x = i;
        ring_put(in[i % procs], &x, sizeof x);
    }
    for (long i = 0; i < n; i++) {
        int64_t r;
        if (ring_get(out[i % procs], &r, sizeof r) != (long)sizeof r)
            bench_die("result", -EIO);
        total += r;
    }
    double dt = bench_now() - t0;
    for (int p = 0; p < procs; p++) {
        ring_put(in[p], &total, 0); /* end marker */
        bench_reap(pids[p]);
    }
    for (long i = 0; i < n; i++)
        expect += (int64_t)i * i;
    if (total != expect)
        bench_die("tasks result", -EIO);
    return (double)n / dt;
}

int main(int argc, char **argv)
{
    const char *mode = bench_mode(argc, argv);
    const char *fig = bench_arg(argc, argv, "fig", mode);
    size_t size = (size_t)bench_argl(argc, argv, "size", 8);
    double seconds = bench_argf(argc, argv, "seconds", 0.2);
    ring *rings[8];
    bench_chan ch = {chan_put, chan_get, rings};

    if (strcmp(mode, "tput") == 0) {
        int pairs = (int)bench_argl(argc, argv, "pairs", 1);
        uint32_t depth = (uint32_t)bench_argl(argc, argv, "depth", 1024);
        if (pairs < 1 || pairs > 8)
            bench_die("pairs", -EINVAL);
        for (int i = 0; i < pairs; i++)
            rings[i] = ring_new(depth, size);
        bench_result(fig, "floor", bench_tput(&ch, pairs, size, seconds), "msgs/s");
    } else if (strcmp(mode, "rt") == 0) {
        rings[0] = ring_new(64, 256);
        rings[1] = ring_new(64, 256);
        bench_result(fig, "floor", bench_rt(&ch, size, seconds), "us");
    } else if (strcmp(mode, "tasks") == 0) {
        int procs = (int)bench_argl(argc, argv, "procs", 2);
        if (procs < 1 || procs > 8)
            bench_die("procs", -EINVAL);
        bench_result(fig, "floor", tasks(bench_argl(argc, argv, "n", 10000), procs), "tasks/s");
    } else {
        fprintf(stderr, "usage: %s tput|rt|tasks [key=value...]\n", argv[0]);
        return 2;
    }
    return 0;
}
