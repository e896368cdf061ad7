/* bench_heap.c - libmp's shared heap: malloc+free of one size.
 *
 *   bench_heap pair fig=F size=BYTES procs=N batch=B seconds=T
 *
 * Each of `procs` processes (placed by BENCH_PLACE, see bench.h) loops
 * for T seconds:
 * batch mallocs of `size` bytes, a byte written into each, then batch
 * frees; one op is one malloc+free. batch=1 is the tight pair a
 * thread-caching allocator serves from its cache; a larger batch makes
 * blocks go back to their slabs and meet the other process there. All
 * processes share the one heap (mp_shared_malloc), so procs=2 contend.
 * Prints ops/s over all processes, then an INFO line with the heap's
 * statistics (mp_shared_stats) after the run. The same loop runs in
 * floor_heap.c (glibc malloc, private memory) and peer_boost_heap.cpp
 * (Boost.Interprocess managed_shared_memory). */
#include "bench.h"
#include "mp.h"

#define MAX_BATCH 1024

typedef struct {
    size_t size;
    int batch;
} heap_ctx;

static int pair_op(void *arg)
{
    heap_ctx *h = arg;
    static void *blk[MAX_BATCH];
    for (int i = 0; i < h->batch; i++) {
        blk[i] = mp_shared_malloc(h->size);
        if (blk[i] == NULL)
            return -ENOMEM;
        *(volatile char *)blk[i] = 1;
    }
    for (int i = 0; i < h->batch; i++)
        mp_shared_free(blk[i]);
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = bench_mode(argc, argv);
    const char *fig = bench_arg(argc, argv, "fig", mode);
    heap_ctx h = {.size = (size_t)bench_argl(argc, argv, "size", 64),
                  .batch = (int)bench_argl(argc, argv, "batch", 1)};
    int procs = (int)bench_argl(argc, argv, "procs", 1);
    double seconds = bench_argf(argc, argv, "seconds", 1);
    if (strcmp(mode, "pair") != 0 || h.batch < 1 || h.batch > MAX_BATCH) {
        fprintf(stderr, "usage: bench_heap pair size=N procs=N batch=B seconds=T\n");
        return 2;
    }
    double ops = bench_ops(procs, seconds, pair_op, &h) * h.batch;
    bench_result(fig, "libmp", ops, "ops/s");
    mp_heap_stats st;
    if (mp_shared_stats(&st) == 0)
        printf("INFO heap after the run: in_use %zu B, peak %zu B, free %.1f MiB, largest free "
               "%.1f MiB, reserved %.0f MiB\n",
               st.in_use, st.peak, st.free / 1048576.0, st.largest_free / 1048576.0,
               st.reserved / 1048576.0);
    return 0;
}
