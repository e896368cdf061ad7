/* peer_boost_dict.cpp - the Boost.Interprocess peer of the dict figures:
 * a std::unordered_map in managed_shared_memory behind one
 * interprocess_mutex, as a C++ programmer would share a map between
 * processes instead of using libmp. Header-only Boost; built only when
 * the headers are installed. The segment is mapped before the fork, at
 * the same address in every process.
 *
 *   peer_boost_dict mix fig=F procs=2 keys=10000 seconds=T
 *   peer_boost_dict add fig=F procs=2 seconds=T
 * (the work of bench_dict.c) */
#include <boost/interprocess/allocators/allocator.hpp>
#include <boost/interprocess/managed_shared_memory.hpp>
#include <boost/interprocess/sync/interprocess_mutex.hpp>
#include <boost/interprocess/sync/scoped_lock.hpp>
#include <cstdio>
#include <functional>
#include <string>
#include <unordered_map>

#include "bench.h"

namespace bip = boost::interprocess;

typedef std::pair<const uint64_t, uint64_t> entry;
typedef bip::allocator<entry, bip::managed_shared_memory::segment_manager> shm_alloc;
typedef std::unordered_map<uint64_t, uint64_t, std::hash<uint64_t>, std::equal_to<uint64_t>,
                           shm_alloc>
    shm_map;

struct peer_ctx {
    shm_map *map;
    bip::interprocess_mutex *mutex;
    uint64_t keys;
    uint64_t rng;
    int owner; /* 1 + the worker rng was seeded for */
};

static int mix_op(void *arg)
{
    peer_ctx *c = (peer_ctx *)arg;
    uint64_t r = bench_rand(&c->rng, &c->owner);
    uint64_t k = (r >> 1) % c->keys;
    bip::scoped_lock<bip::interprocess_mutex> hold(*c->mutex);
    if (r & 1) {
        (*c->map)[k] = r;
        return 0;
    }
    auto it = c->map->find(k);
    return it == c->map->end(); /* every key is there */
}

/* warm reads every key once in each worker before the clock starts. */
static int warm(void *arg)
{
    peer_ctx *c = (peer_ctx *)arg;
    bip::scoped_lock<bip::interprocess_mutex> hold(*c->mutex);
    for (uint64_t k = 0; k < c->keys; k++)
        if (c->map->find(k) == c->map->end())
            return 1;
    return 0;
}

static int add_op(void *arg)
{
    peer_ctx *c = (peer_ctx *)arg;
    bip::scoped_lock<bip::interprocess_mutex> hold(*c->mutex);
    (*c->map)[0] += 1;
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = bench_mode(argc, argv);
    const char *fig = bench_arg(argc, argv, "fig", mode);
    double seconds = bench_argf(argc, argv, "seconds", 0.2);
    int procs = (int)bench_argl(argc, argv, "procs", 2);
    peer_ctx c = {nullptr, nullptr, (uint64_t)bench_argl(argc, argv, "keys", 10000), 0, 0};
    /* A fresh name, removed at once: the mapping (inherited by every
     * child) keeps the segment alive. */
    std::string name = "mp-bench-boost-dict-" + std::to_string(getpid());
    bip::shared_memory_object::remove(name.c_str());
    try {
        bip::managed_shared_memory seg(bip::create_only, name.c_str(), 64u << 20);
        bip::shared_memory_object::remove(name.c_str());
        c.mutex = seg.construct<bip::interprocess_mutex>("mutex")();
        c.map =
            seg.construct<shm_map>("map")(c.keys, std::hash<uint64_t>(), std::equal_to<uint64_t>(),
                                          shm_alloc(seg.get_segment_manager()));
        if (std::strcmp(mode, "mix") == 0) {
            for (uint64_t k = 0; k < c.keys; k++)
                (*c.map)[k] = k;
            bench_warm = warm;
            bench_result(fig, "boost_dict", bench_ops(procs, seconds, mix_op, &c), "ops/s");
        } else if (std::strcmp(mode, "add") == 0) {
            bench_result(fig, "boost_dict", bench_ops(procs, seconds, add_op, &c), "ops/s");
        } else {
            std::fprintf(stderr, "usage: %s mix|add [key=value...]\n", argv[0]);
            return 2;
        }
    } catch (const bip::interprocess_exception &e) {
        bip::shared_memory_object::remove(name.c_str());
        std::fprintf(stderr, "peer_boost_dict: %s\n", e.what());
        return 2;
    }
    return 0;
}
