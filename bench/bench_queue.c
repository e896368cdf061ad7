/* bench_queue.c - libmp queues: throughput with 1 or 2 producers and
 * consumers, and the round trip through two queues.
 *
 *   bench_queue tput fig=F size=BYTES pairs=N seconds=T depth=MSGS
 *   bench_queue rt   fig=F size=BYTES seconds=T
 *
 * Producers and consumers are plain fork(2) children (the queue lives in
 * the shared heap, so they need nothing else from libmp). The queue holds
 * at most `depth` messages, the bound the CPython and peer queues get. */
#include "bench.h"
#include "mp.h"

static int chan_put(void *ctx, int chan, const void *msg, size_t len)
{
    mp_queue **q = ctx;
    return mp_queue_put(q[chan], msg, len, MP_FOREVER);
}

static long chan_get(void *ctx, int chan, void *buf, size_t cap)
{
    mp_queue **q = ctx;
    size_t len = 0;
    int rc = mp_queue_get(q[chan], buf, cap, &len, MP_FOREVER);
    return rc != 0 ? rc : (long)len;
}

static mp_queue *make_queue(size_t depth, size_t size)
{
    mp_queue_opts o = {.maxsize = depth, .capacity = depth * (size + 32)};
    mp_queue *q = mp_queue_new_opts(&o);
    if (!q)
        bench_die("mp_queue_new_opts", -errno);
    return q;
}

int main(int argc, char **argv)
{
    const char *mode = bench_mode(argc, argv);
    const char *fig = bench_arg(argc, argv, "fig", mode);
    size_t size = (size_t)bench_argl(argc, argv, "size", 8);
    double seconds = bench_argf(argc, argv, "seconds", 0.2);
    mp_queue *q[8];
    bench_chan ch = {chan_put, chan_get, q};

    if (strcmp(mode, "tput") == 0) {
        int pairs = (int)bench_argl(argc, argv, "pairs", 1);
        if (pairs < 1 || pairs > 8)
            bench_die("pairs", -EINVAL);
        q[0] = make_queue((size_t)bench_argl(argc, argv, "depth", 1024), size);
        for (int i = 1; i < pairs; i++)
            q[i] = q[0]; /* one queue for every producer and consumer */
        bench_result(fig, "libmp", bench_tput(&ch, pairs, size, seconds), "msgs/s");
        mp_queue_free(q[0]);
    } else if (strcmp(mode, "rt") == 0) {
        q[0] = make_queue(64, 256);
        q[1] = make_queue(64, 256);
        bench_result(fig, "libmp", bench_rt(&ch, size, seconds), "us");
        mp_queue_free(q[0]);
        mp_queue_free(q[1]);
    } else {
        fprintf(stderr, "usage: %s tput|rt [key=value...]\n", argv[0]);
        return 2;
    }
    return 0;
}
