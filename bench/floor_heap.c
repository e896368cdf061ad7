/* floor_heap.c - glibc malloc+free, the floor for the shared heap's
 * figures: the same loop as bench_heap.c on private memory (each process
 * its own heap, so procs=2 never contend), with no crash safety and no
 * sharing to pay for.
 *
 *   floor_heap pair fig=F size=BYTES procs=N batch=B seconds=T */
#include "bench.h"

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
        blk[i] = malloc(h->size);
        if (blk[i] == NULL)
            return -ENOMEM;
        *(volatile char *)blk[i] = 1;
    }
    for (int i = 0; i < h->batch; i++)
        free(blk[i]);
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
        fprintf(stderr, "usage: floor_heap pair size=N procs=N batch=B seconds=T\n");
        return 2;
    }
    bench_result(fig, "floor", bench_ops(procs, seconds, pair_op, &h) * h.batch, "ops/s");
    return 0;
}
