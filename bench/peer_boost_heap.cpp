/* peer_boost_heap.cpp - the Boost.Interprocess peer of the shared heap:
 * managed_shared_memory's allocate/deallocate (a best-fit allocator in a
 * named shared segment behind a process-shared mutex), as a C++
 * programmer would use instead of mp_shared_malloc. The same loop as
 * bench_heap.c; the segment is made before the processes fork, so they
 * share it. Header-only Boost; built only when the headers are installed.
 *
 *   peer_boost_heap pair fig=F size=BYTES procs=N batch=B seconds=T */
#include <boost/interprocess/managed_shared_memory.hpp>
#include <cstdio>
#include <string>

#include "bench.h"

namespace bip = boost::interprocess;

#define MAX_BATCH 1024

struct heap_ctx {
    bip::managed_shared_memory *seg;
    size_t size;
    int batch;
};

static int pair_op(void *arg)
{
    heap_ctx *h = (heap_ctx *)arg;
    static void *blk[MAX_BATCH];
    try {
        for (int i = 0; i < h->batch; i++) {
            blk[i] = h->seg->allocate(h->size);
            *(volatile char *)blk[i] = 1;
        }
        for (int i = 0; i < h->batch; i++)
            h->seg->deallocate(blk[i]);
    } catch (const bip::bad_alloc &) {
        return -ENOMEM;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = bench_mode(argc, argv);
    const char *fig = bench_arg(argc, argv, "fig", mode);
    heap_ctx h;
    h.size = (size_t)bench_argl(argc, argv, "size", 64);
    h.batch = (int)bench_argl(argc, argv, "batch", 1);
    int procs = (int)bench_argl(argc, argv, "procs", 1);
    double seconds = bench_argf(argc, argv, "seconds", 1);
    if (std::string(mode) != "pair" || h.batch < 1 || h.batch > MAX_BATCH) {
        std::fprintf(stderr, "usage: peer_boost_heap pair size=N procs=N batch=B seconds=T\n");
        return 2;
    }
    /* A fresh name, removed at once: the mapping (inherited by every
     * child) keeps the segment alive. */
    std::string name = "mp-bench-boost-heap-" + std::to_string(getpid());
    bip::shared_memory_object::remove(name.c_str());
    bip::managed_shared_memory seg(bip::create_only, name.c_str(), 64u << 20);
    bip::shared_memory_object::remove(name.c_str());
    h.seg = &seg;
    bench_result(fig, "boost_heap", bench_ops(procs, seconds, pair_op, &h) * h.batch, "ops/s");
    return 0;
}
