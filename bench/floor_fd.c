/* floor_fd.c - the floors for pipes: bare file descriptors between two
 * processes, and memcpy as the limit of moving bytes at all.
 *
 *   floor_fd rt     fig=F size=BYTES seconds=T   socketpair ping-pong (us per round trip)
 *   floor_fd bw     fig=F size=BYTES seconds=T   pipe(2) stream of size-byte messages (MiB/s)
 *   floor_fd memcpy fig=F size=BYTES seconds=T   memcpy between two buffers (MiB/s)
 *
 * No framing and no library: a message is `size` bytes read and written
 * with plain read(2)/write(2) calls. */
#include <fcntl.h>
#include <sys/socket.h>

#include "bench.h"

/* io_full moves exactly len bytes (read or write), retrying partial
 * transfers and EINTR; returns 0, or -1 at end of file or on error. */
static int io_full(int fd, void *buf, size_t len, int writing)
{
    char *p = buf;
    while (len > 0) {
        ssize_t n = writing ? write(fd, p, len) : read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int rt_child(int fd, size_t size)
{
    char *buf = bench_payload(size);
    while (io_full(fd, buf, size, 0) == 0)
        if (io_full(fd, buf, size, 1) != 0)
            return 3;
    return 0; /* the parent closed its end */
}

static double rt(size_t size, double seconds)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        bench_die("socketpair", -errno);
    pid_t pid = bench_fork_peer();
    if (pid < 0)
        bench_die("fork", -errno);
    if (pid == 0) {
        close(sv[0]);
        _exit(rt_child(sv[1], size));
    }
    close(sv[1]);
    char *msg = bench_payload(size);
    long n = 0;
    double t0 = bench_now(), t1 = t0;
    for (;;) {
        if (io_full(sv[0], msg, size, 1) != 0 || io_full(sv[0], msg, size, 0) != 0)
            bench_die("round trip", -EIO);
        n++;
        if ((n & 15) == 0 && (t1 = bench_now()) - t0 >= seconds)
            break;
    }
    close(sv[0]);
    bench_reap(pid);
    return (t1 - t0) / (double)n * 1e6;
}

static double bw(size_t size, double seconds)
{
    int fd[2];
    double *end = bench_shared(4096);
    long *bytes = (long *)(end + 1);
    if (pipe(fd) != 0)
        bench_die("pipe", -errno);
    /* The largest pipe an unprivileged process may ask for (1 MiB by
     * default): fewer wake-ups per message, the best plain pipe there is. */
    (void)fcntl(fd[1], F_SETPIPE_SZ, 1 << 20);
    bench_gate gate;
    bench_gate_init(&gate);
    pid_t pid = bench_fork_peer();
    if (pid < 0)
        bench_die("fork", -errno);
    if (pid == 0) {
        close(fd[1]);
        char *buf = bench_payload(size);
        long got = 0;
        bench_gate_wait(&gate);
        while (io_full(fd[0], buf, size, 0) == 0)
            got += (long)size;
        *bytes = got;
        *end = bench_now();
        _exit(0);
    }
    close(fd[0]);
    char *msg = bench_payload(size);
    bench_gate_open(&gate, 1);
    double t0 = bench_now();
    while (bench_now() - t0 < seconds)
        if (io_full(fd[1], msg, size, 1) != 0)
            bench_die("write", -errno);
    close(fd[1]);
    bench_reap(pid);
    return (double)*bytes / (*end - t0) / (1 << 20);
}

static double copy(size_t size, double seconds)
{
    char *a = bench_payload(size), *b = bench_payload(size);
    long n = 0;
    double t0 = bench_now(), t1 = t0;
    do {
        for (int i = 0; i < 8; i++, n++) {
            memcpy(n & 1 ? a : b, n & 1 ? b : a, size);
            __asm__ __volatile__("" : : "r"(a), "r"(b) : "memory"); /* keep the copy */
        }
        t1 = bench_now();
    } while (t1 - t0 < seconds);
    free(a);
    free(b);
    return (double)n * (double)size / (t1 - t0) / (1 << 20);
}

int main(int argc, char **argv)
{
    const char *mode = bench_mode(argc, argv);
    const char *fig = bench_arg(argc, argv, "fig", mode);
    size_t size = (size_t)bench_argl(argc, argv, "size", 8);
    double seconds = bench_argf(argc, argv, "seconds", 0.2);

    if (size == 0)
        bench_die("size", -EINVAL);
    if (strcmp(mode, "rt") == 0)
        bench_result(fig, "floor", rt(size, seconds), "us");
    else if (strcmp(mode, "bw") == 0)
        bench_result(fig, "floor", bw(size, seconds), "MiB/s");
    else if (strcmp(mode, "memcpy") == 0)
        bench_result(fig, "floor", copy(size, seconds), "MiB/s");
    else {
        fprintf(stderr, "usage: %s rt|bw|memcpy [key=value...]\n", argv[0]);
        return 2;
    }
    return 0;
}
