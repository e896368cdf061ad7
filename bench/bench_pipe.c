/* bench_pipe.c - libmp pipes: the round trip of a small message over a
 * duplex pipe, and the bandwidth of large messages over a one-way pipe.
 *
 *   bench_pipe rt fig=F size=BYTES seconds=T   us per round trip (mp_pipe duplex)
 *   bench_pipe bw fig=F size=BYTES seconds=T   MiB/s (mp_pipe one-way)
 *
 * Connections are file descriptors, so the child is forked after the pipe
 * is made, as in Python. Neither side closes the end it does not use (an
 * explicit empty message ends the stream), so the figure does not depend
 * on how a close in one process is seen by the other. */
#include "bench.h"
#include "mp.h"

static mp_conn *ends[2];

/* rt: channel 0 is parent -> child, channel 1 child -> parent, both over
 * the one duplex pipe: the parent uses ends[0], the child ends[1]. */
static int chan_put(void *ctx, int chan, const void *msg, size_t len)
{
    (void)ctx;
    return mp_conn_send(ends[chan], msg, len);
}

static long chan_get(void *ctx, int chan, void *buf, size_t cap)
{
    (void)ctx;
    size_t len = 0;
    int rc = mp_conn_recv(ends[chan ^ 1], buf, cap, &len, MP_FOREVER);
    return rc != 0 ? rc : (long)len;
}

static double bw(size_t size, double seconds)
{
    mp_conn *rx, *tx;
    double *end = bench_shared(4096);
    double *bytes = end + 1;
    int rc = mp_pipe(&rx, &tx, false);
    if (rc != 0)
        bench_die("mp_pipe", rc);
    bench_gate gate;
    bench_gate_init(&gate);
    pid_t pid = bench_fork_peer();
    if (pid < 0)
        bench_die("fork", -errno);
    if (pid == 0) {
        char *buf = bench_payload(size);
        double got = 0;
        size_t len;
        bench_gate_wait(&gate);
        while ((rc = mp_conn_recv(rx, buf, size, &len, MP_FOREVER)) == 0 && len > 0)
            got += (double)len;
        *bytes = got;
        *end = bench_now();
        _exit(rc == 0 ? 0 : 3);
    }
    char *msg = bench_payload(size);
    bench_gate_open(&gate, 1);
    double t0 = bench_now();
    while (bench_now() - t0 < seconds)
        if ((rc = mp_conn_send(tx, msg, size)) != 0)
            bench_die("mp_conn_send", rc);
    if ((rc = mp_conn_send(tx, msg, 0)) != 0)
        bench_die("mp_conn_send", rc);
    bench_reap(pid);
    mp_conn_free(tx);
    mp_conn_free(rx);
    return *bytes / (*end - t0) / (1 << 20);
}

int main(int argc, char **argv)
{
    const char *mode = bench_mode(argc, argv);
    const char *fig = bench_arg(argc, argv, "fig", mode);
    size_t size = (size_t)bench_argl(argc, argv, "size", 8);
    double seconds = bench_argf(argc, argv, "seconds", 0.2);
    bench_chan ch = {chan_put, chan_get, NULL};

    if (strcmp(mode, "rt") == 0) {
        int rc = mp_pipe(&ends[0], &ends[1], true);
        if (rc != 0)
            bench_die("mp_pipe", rc);
        bench_result(fig, "libmp", bench_rt(&ch, size, seconds), "us");
        mp_conn_free(ends[0]);
        mp_conn_free(ends[1]);
    } else if (strcmp(mode, "bw") == 0) {
        if (size == 0)
            bench_die("size", -EINVAL);
        bench_result(fig, "libmp", bw(size, seconds), "MiB/s");
    } else {
        fprintf(stderr, "usage: %s rt|bw [key=value...]\n", argv[0]);
        return 2;
    }
    return 0;
}
