/* peer_boost_mq.cpp - the Boost.Interprocess peer: message_queue (a ring of
 * fixed-size slots in named shared memory guarded by a process-shared
 * mutex and condition variables), as a C++ programmer would use instead of
 * libmp. Header-only Boost; built only when the headers are installed.
 *
 *   peer_boost_mq tput fig=F size=BYTES pairs=N seconds=T depth=MSGS
 *   peer_boost_mq rt   fig=F size=BYTES seconds=T */
#include <boost/interprocess/ipc/message_queue.hpp>
#include <cstdio>
#include <string>

#include "bench.h"

namespace bip = boost::interprocess;

static bip::message_queue *queues[8];

static int chan_put(void *, int chan, const void *msg, size_t len)
{
    try {
        queues[chan]->send(msg, len, 0);
        return 0;
    } catch (const bip::interprocess_exception &e) {
        std::fprintf(stderr, "peer_boost_mq: send: %s\n", e.what());
        return -EIO;
    }
}

static long chan_get(void *, int chan, void *buf, size_t cap)
{
    try {
        bip::message_queue::size_type got = 0;
        unsigned prio = 0;
        queues[chan]->receive(buf, cap, got, prio);
        return (long)got;
    } catch (const bip::interprocess_exception &e) {
        std::fprintf(stderr, "peer_boost_mq: receive: %s\n", e.what());
        return -EIO;
    }
}

/* make_queue creates a queue under a fresh name and removes the name at
 * once: the mapping (inherited by every child) keeps the memory alive. */
static bip::message_queue *make_queue(long depth, size_t size)
{
    static int serial;
    std::string name =
        "mp-bench-boost-" + std::to_string(getpid()) + "-" + std::to_string(serial++);
    bip::message_queue::remove(name.c_str());
    auto *q =
        new bip::message_queue(bip::create_only, name.c_str(), (size_t)depth, size ? size : 1);
    bip::message_queue::remove(name.c_str());
    return q;
}

int main(int argc, char **argv)
{
    const char *mode = bench_mode(argc, argv);
    const char *fig = bench_arg(argc, argv, "fig", mode);
    size_t size = (size_t)bench_argl(argc, argv, "size", 8);
    double seconds = bench_argf(argc, argv, "seconds", 0.2);
    bench_chan ch = {chan_put, chan_get, nullptr};

    try {
        if (std::strcmp(mode, "tput") == 0) {
            int pairs = (int)bench_argl(argc, argv, "pairs", 1);
            if (pairs < 1 || pairs > 8)
                bench_die("pairs", -EINVAL);
            queues[0] = make_queue(bench_argl(argc, argv, "depth", 1024), size);
            for (int i = 1; i < pairs; i++)
                queues[i] = queues[0]; /* one queue for everyone */
            bench_result(fig, "boost_mq", bench_tput(&ch, pairs, size, seconds), "msgs/s");
        } else if (std::strcmp(mode, "rt") == 0) {
            queues[0] = make_queue(8, 256);
            queues[1] = make_queue(8, 256);
            bench_result(fig, "boost_mq", bench_rt(&ch, size, seconds), "us");
        } else {
            std::fprintf(stderr, "usage: %s tput|rt [key=value...]\n", argv[0]);
            return 2;
        }
    } catch (const bip::interprocess_exception &e) {
        std::fprintf(stderr, "peer_boost_mq: %s\n", e.what());
        return 2;
    }
    return 0;
}
