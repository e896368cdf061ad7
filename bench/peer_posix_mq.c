/* peer_posix_mq.c - the POSIX message queue peer: mq_send/mq_receive on a
 * queue every producer and consumer opens, as a C programmer would use
 * instead of libmp.
 *
 *   peer_posix_mq tput fig=F size=BYTES pairs=N seconds=T depth=MSGS
 *   peer_posix_mq rt   fig=F size=BYTES seconds=T
 *
 * The queue holds `depth` messages (the same bound as the libmp queue in
 * the same figure) when the system allows it; an unprivileged process is
 * limited to /proc/sys/fs/mqueue/msg_max (10 by default), and the depth
 * used is printed on stderr when it had to be lowered. A message larger
 * than /proc/sys/fs/mqueue/msgsize_max (8 KiB by default) cannot be sent
 * at all: the program then prints "NA <why>" instead of a result. */
#include <fcntl.h>
#include <mqueue.h>
#include <sys/resource.h>

#include "bench.h"

static long sysctl_long(const char *path)
{
    long v = -1;
    FILE *f = fopen(path, "r");
    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = -1;
        fclose(f);
    }
    return v < 0 ? 8192 : v;
}

static mqd_t open_queue(long depth, size_t size)
{
    char name[64];
    struct mq_attr attr = {0};
    snprintf(name, sizeof name, "/mp-bench-%d-%d", (int)getpid(), (int)random());
    attr.mq_msgsize = (long)(size ? size : 1);
    for (attr.mq_maxmsg = depth;; attr.mq_maxmsg = 10) {
        mqd_t q = mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
        if (q != (mqd_t)-1) {
            mq_unlink(name); /* the descriptors keep it alive */
            if (attr.mq_maxmsg != depth)
                fprintf(stderr, "peer_posix_mq: depth lowered to %ld\n", attr.mq_maxmsg);
            return q;
        }
        long max = sysctl_long("/proc/sys/fs/mqueue/msgsize_max");
        if (errno == EINVAL && attr.mq_msgsize > max) {
            /* Not a failure: this system caps the message size. */
            printf("NA msgsize_max %ld < %ld\n", max, attr.mq_msgsize);
            exit(0);
        }
        if (attr.mq_maxmsg == 10 || (errno != EINVAL && errno != EMFILE && errno != ENOMEM))
            bench_die("mq_open", -errno);
    }
}

static int chan_put(void *ctx, int chan, const void *msg, size_t len)
{
    mqd_t *q = ctx;
    while (mq_send(q[chan], msg, len, 0) != 0)
        if (errno != EINTR)
            return -errno;
    return 0;
}

static long chan_get(void *ctx, int chan, void *buf, size_t cap)
{
    mqd_t *q = ctx;
    for (;;) {
        ssize_t n = mq_receive(q[chan], buf, cap, NULL);
        if (n >= 0)
            return (long)n;
        if (errno != EINTR)
            return -errno;
    }
}

int main(int argc, char **argv)
{
    const char *mode = bench_mode(argc, argv);
    const char *fig = bench_arg(argc, argv, "fig", mode);
    size_t size = (size_t)bench_argl(argc, argv, "size", 8);
    double seconds = bench_argf(argc, argv, "seconds", 0.2);
    mqd_t q[8];
    bench_chan ch = {chan_put, chan_get, q};

    /* Queue memory counts against RLIMIT_MSGQUEUE (800 KiB by default);
     * lift it where allowed so large messages fit the same depth. */
    struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};
    (void)setrlimit(RLIMIT_MSGQUEUE, &rl);
    srandom((unsigned)getpid());

    if (strcmp(mode, "tput") == 0) {
        int pairs = (int)bench_argl(argc, argv, "pairs", 1);
        if (pairs < 1 || pairs > 8)
            bench_die("pairs", -EINVAL);
        q[0] = open_queue(bench_argl(argc, argv, "depth", 1024), size);
        for (int i = 1; i < pairs; i++)
            q[i] = q[0]; /* one queue shared by every producer and consumer */
        bench_result(fig, "posix_mq", bench_tput(&ch, pairs, size, seconds), "msgs/s");
    } else if (strcmp(mode, "rt") == 0) {
        q[0] = open_queue(8, 256);
        q[1] = open_queue(8, 256);
        bench_result(fig, "posix_mq", bench_rt(&ch, size, seconds), "us");
    } else {
        fprintf(stderr, "usage: %s tput|rt [key=value...]\n", argv[0]);
        return 2;
    }
    return 0;
}
