/* bench.h - what every benchmark program shares: the clock, key=value
 * arguments, the start gate, shared scratch memory and the RESULT line.
 *
 * Every program is run as `prog MODE key=value ...` and prints one line
 * `RESULT <figure> <column> <value> <unit>` per measurement; bench/run
 * collects those lines. Header-only so each program stays one file. */
#ifndef MP_BENCH_H
#define MP_BENCH_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>

/* bench_now returns CLOCK_MONOTONIC in seconds; the same clock in every
 * process, so a parent may compare times its children recorded. */
static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* bench_die reports a failed setup step and exits with status 2, which the
 * runner shows as a failed column rather than a figure. */
static inline void bench_die(const char *what, int code)
{
    fprintf(stderr, "bench: %s failed: %s (%d)\n", what,
            code < 0 ? strerror(-code) : strerror(code), code);
    exit(2);
}

/* bench_arg returns the value of `key=` among argv[2..], or def. */
static inline const char *bench_arg(int argc, char **argv, const char *key, const char *def)
{
    size_t n = strlen(key);
    for (int i = 2; i < argc; i++)
        if (strncmp(argv[i], key, n) == 0 && argv[i][n] == '=')
            return argv[i] + n + 1;
    return def;
}

static inline double bench_argf(int argc, char **argv, const char *key, double def)
{
    const char *v = bench_arg(argc, argv, key, NULL);
    return v ? strtod(v, NULL) : def;
}

static inline long bench_argl(int argc, char **argv, const char *key, long def)
{
    const char *v = bench_arg(argc, argv, key, NULL);
    return v ? strtol(v, NULL, 0) : def;
}

static inline const char *bench_mode(int argc, char **argv)
{
    return argc > 1 ? argv[1] : "";
}

/* CPU placement. The scheduler may put two communicating processes on one
 * core or on two, and a queue's speed differs several-fold between the
 * two, so every figure with a sending and a receiving side is measured
 * with an explicit placement, from the environment:
 *   BENCH_PLACE=diff   senders on the first CPU, receivers on the second
 *   BENCH_PLACE=same   everyone on the first CPU
 *   unset              wherever the scheduler puts them
 * The CPUs are the first two this process may run on when it first pins
 * itself. */
enum { BENCH_SENDER = 0, BENCH_RECEIVER = 1 };

static inline void bench_pin(int role)
{
    const char *place = getenv("BENCH_PLACE");
    if (place == NULL || *place == '\0')
        return;
    /* The CPUs allowed at the first call: a process that pins itself
     * twice (bench_pool: its pool as the receiver, then itself as the
     * sender) must not choose among the one CPU its first pin left it. */
    static int cpus[2] = {-1, -1}, n = -1;
    cpu_set_t allowed, one;
    if (n < 0) {
        if (sched_getaffinity(0, sizeof allowed, &allowed) != 0)
            return;
        n = 0;
        for (int c = 0; c < CPU_SETSIZE && n < 2; c++)
            if (CPU_ISSET(c, &allowed))
                cpus[n++] = c;
    }
    int cpu = strcmp(place, "diff") == 0 && role == BENCH_RECEIVER && n == 2 ? cpus[1] : cpus[0];
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if (sched_setaffinity(0, sizeof one, &one) != 0)
        bench_die("sched_setaffinity", -errno);
}

/* bench_fork_peer forks the other side of a two-process figure and pins
 * both: the child as the receiver, the caller as the sender. Returns as
 * fork (stdio flushed first). */
static inline pid_t bench_fork_peer(void)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        bench_pin(BENCH_RECEIVER);
    else if (pid > 0)
        bench_pin(BENCH_SENDER);
    return pid;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* bench_median sorts v[0..n) (n > 0) and returns its median. */
static inline double bench_median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, bench_cmp_double);
    return v[n / 2];
}

/* bench_result prints one measurement in the runner's format. */
static inline void bench_result(const char *figure, const char *column, double value,
                                const char *unit)
{
    printf("RESULT %s %s %.6g %s\n", figure, column, value, unit);
    fflush(stdout);
}

/* bench_shared maps zeroed memory shared with every child forked later: the
 * harness's own scratch (results, flags), never the thing being measured. */
static inline void *bench_shared(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        bench_die("mmap", -errno);
    return p;
}

/* A start gate: children block in bench_gate_wait until the parent calls
 * bench_gate_open, so process start-up is not measured. Each child says it
 * is ready through one pipe; the parent waits for all of them, then closes
 * the other pipe, whose end-of-file wakes every child at once. */
typedef struct {
    int go[2];    /* closed by the parent to start everyone */
    int ready[2]; /* one byte per child that reached the gate */
} bench_gate;

static inline void bench_gate_init(bench_gate *g)
{
    if (pipe(g->go) != 0 || pipe(g->ready) != 0)
        bench_die("pipe", -errno);
}

static inline void bench_gate_wait(bench_gate *g)
{
    char c = 'r';
    close(g->go[1]);
    close(g->ready[0]);
    if (write(g->ready[1], &c, 1) != 1)
        bench_die("gate write", -errno);
    close(g->ready[1]);
    while (read(g->go[0], &c, 1) < 0 && errno == EINTR)
        ;
    close(g->go[0]);
}

/* bench_gate_open waits until `children` children are at the gate, then
 * releases them all. */
static inline void bench_gate_open(bench_gate *g, int children)
{
    char c;
    close(g->go[0]);
    close(g->ready[1]);
    for (int i = 0; i < children;) {
        ssize_t n = read(g->ready[0], &c, 1);
        if (n == 1)
            i++;
        else if (n == 0 || errno != EINTR)
            bench_die("gate read", n == 0 ? -EPIPE : -errno);
    }
    close(g->ready[0]);
    close(g->go[1]);
}

/* bench_fork runs fn(arg, index) in a child that exits with its return
 * value; stdout is flushed first so buffered lines are not printed twice. */
static inline pid_t bench_fork(int (*fn)(void *, int), void *arg, int index)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        bench_die("fork", -errno);
    if (pid == 0)
        _exit(fn(arg, index));
    return pid;
}

/* bench_reap waits for a child; a child that failed fails the program. */
static inline void bench_reap(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            bench_die("waitpid", -errno);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "bench: child %d failed (status 0x%x)\n", (int)pid, st);
        exit(2);
    }
}

/* Figures that fill a buffer with a message do it once; the pattern just
 * keeps the pages real. */
static inline void *bench_payload(size_t size)
{
    unsigned char *p = (unsigned char *)malloc(size ? size : 1);
    if (!p)
        bench_die("malloc", -ENOMEM);
    for (size_t i = 0; i < size; i++)
        p[i] = (unsigned char)(i * 131u + 7u);
    return p;
}

/* A message channel as the two generic drivers below see it. put sends one
 * message and returns 0; get receives one and returns its length (a
 * zero-length message is the drivers' end marker), or a negative value on
 * failure. chan selects the channel for implementations that have several
 * (the floor's single-producer rings); a shared queue ignores it. */
typedef struct {
    int (*put)(void *ctx, int chan, const void *msg, size_t len);
    long (*get)(void *ctx, int chan, void *buf, size_t cap);
    void *ctx;
} bench_chan;

typedef struct {
    long count; /* messages this consumer received */
    double end; /* when it saw its end marker */
    char pad[48];
} bench_slot;

typedef struct {
    const bench_chan *ch;
    bench_slot *slots;
    bench_gate gate;
    size_t size;
    double seconds;
} bench_tput_ctx;

static inline int bench_tput_producer(void *arg, int i)
{
    bench_tput_ctx *t = (bench_tput_ctx *)arg;
    void *msg = bench_payload(t->size);
    bench_pin(BENCH_SENDER);
    bench_gate_wait(&t->gate);
    double deadline = bench_now() + t->seconds;
    for (long n = 0;; n++) {
        if ((n & 31) == 0 && bench_now() >= deadline)
            break;
        if (t->ch->put(t->ch->ctx, i, msg, t->size) != 0)
            return 3;
    }
    return t->ch->put(t->ch->ctx, i, msg, 0) != 0 ? 3 : 0; /* end marker */
}

static inline int bench_tput_consumer(void *arg, int i)
{
    bench_tput_ctx *t = (bench_tput_ctx *)arg;
    void *buf = bench_payload(t->size + 64);
    long count = 0;
    bench_pin(BENCH_RECEIVER);
    bench_gate_wait(&t->gate);
    for (;;) {
        long len = t->ch->get(t->ch->ctx, i, buf, t->size + 64);
        if (len < 0)
            return 3;
        if (len == 0)
            break;
        count++;
    }
    t->slots[i].count = count;
    t->slots[i].end = bench_now();
    return 0;
}

/* bench_tput measures throughput: `pairs` producers each send `size`-byte
 * messages for `seconds`, then an end marker; as many consumers receive
 * until they see one. Producer i uses channel i and consumer i channel i,
 * so pairs of private channels work as well as one shared queue. Returns
 * messages per second: everything received over the time from the start
 * gate to the last consumer's end marker (so the drain is counted). */
static inline double bench_tput(const bench_chan *ch, int pairs, size_t size, double seconds)
{
    bench_tput_ctx t;
    pid_t pids[64];
    int n = 0;
    t.ch = ch;
    t.size = size;
    t.seconds = seconds;
    t.slots = (bench_slot *)bench_shared(sizeof(bench_slot) * (size_t)pairs);
    bench_gate_init(&t.gate);
    for (int i = 0; i < pairs; i++)
        pids[n++] = bench_fork(bench_tput_consumer, &t, i);
    for (int i = 0; i < pairs; i++)
        pids[n++] = bench_fork(bench_tput_producer, &t, i);
    bench_gate_open(&t.gate, n);
    double t0 = bench_now();
    for (int i = 0; i < n; i++)
        bench_reap(pids[i]);
    long total = 0;
    double end = t0;
    for (int i = 0; i < pairs; i++) {
        total += t.slots[i].count;
        if (t.slots[i].end > end)
            end = t.slots[i].end;
    }
    munmap(t.slots, sizeof(bench_slot) * (size_t)pairs);
    return (double)total / (end - t0);
}

static inline int bench_rt_echo(void *arg, int i)
{
    (void)i;
    const bench_chan *ch = (const bench_chan *)arg;
    char buf[256];
    bench_pin(BENCH_RECEIVER);
    for (;;) {
        long len = ch->get(ch->ctx, 0, buf, sizeof buf);
        if (len < 0)
            return 3;
        if (ch->put(ch->ctx, 1, buf, (size_t)len) != 0)
            return 3;
        if (len == 0)
            return 0;
    }
}

/* bench_rt measures the round trip: the parent sends a `size`-byte message
 * on channel 0, a child echoes it back on channel 1, for `seconds`.
 * Returns microseconds per round trip. */
static inline double bench_rt(const bench_chan *ch, size_t size, double seconds)
{
    char msg[256], buf[256];
    if (size > sizeof msg)
        size = sizeof msg;
    memset(msg, 'x', size);
    pid_t pid = bench_fork(bench_rt_echo, (void *)ch, 0);
    bench_pin(BENCH_SENDER);
    /* One untimed trip so the child is surely running. */
    if (ch->put(ch->ctx, 0, msg, size) != 0 || ch->get(ch->ctx, 1, buf, sizeof buf) < 0)
        bench_die("first round trip", -EIO);
    long n = 0;
    double t0 = bench_now(), t1 = t0;
    for (;;) {
        if (ch->put(ch->ctx, 0, msg, size) != 0 || ch->get(ch->ctx, 1, buf, sizeof buf) < 0)
            bench_die("round trip", -EIO);
        n++;
        if ((n & 15) == 0 && (t1 = bench_now()) - t0 >= seconds)
            break;
    }
    if (ch->put(ch->ctx, 0, msg, 0) != 0 || ch->get(ch->ctx, 1, buf, sizeof buf) != 0)
        bench_die("end of round trips", -EIO);
    bench_reap(pid);
    return (t1 - t0) / (double)n * 1e6;
}

typedef struct {
    int (*op)(void *ctx); /* one operation; non-zero fails the run */
    void *ctx;
    bench_slot *slots;
    bench_gate gate;
    double seconds;
} bench_ops_ctx;

/* The index of the worker process bench_ops runs an op in (-1 outside
 * one), for ops that keep per-process state such as a random sequence:
 * getpid() is a system call, too slow to ask on every operation. */
static int bench_worker = -1;

/* bench_rand returns the next number of an xorshift64* sequence kept in
 * *state, which it seeds for the calling worker the first time (*owner
 * remembers for which: a context copied by fork starts over in each
 * worker, so two workers draw different keys). */
static inline uint64_t bench_rand(uint64_t *state, int *owner)
{
    if (*owner != bench_worker + 1) {
        *owner = bench_worker + 1;
        *state = 0x9e3779b97f4a7c15ULL * (uint64_t)*owner;
    }
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 0x2545f4914f6cdd1dULL;
}

/* bench_warm, when set, runs in every worker of bench_ops before the start
 * gate, on the op's context: a program whose op touches much shared
 * memory walks it there, so that the measurement does not count the page
 * faults of a freshly forked process meeting a shared mapping (its page
 * tables start empty) but the steady state. Non-zero fails the run. */
static int (*bench_warm)(void *ctx);

static inline int bench_ops_child(void *arg, int i)
{
    bench_ops_ctx *o = (bench_ops_ctx *)arg;
    bench_worker = i;
    bench_pin(i % 2 == 0 ? BENCH_SENDER : BENCH_RECEIVER);
    if (bench_warm != NULL && bench_warm(o->ctx) != 0)
        return 3;
    bench_gate_wait(&o->gate);
    double t0 = bench_now(), t1 = t0;
    long n = 0;
    for (;;) {
        for (int k = 0; k < 64; k++)
            if (o->op(o->ctx) != 0)
                return 3;
        n += 64;
        if ((t1 = bench_now()) - t0 >= o->seconds)
            break;
    }
    o->slots[i].count = n;
    o->slots[i].end = t1;
    return 0;
}

/* bench_ops runs op in a loop in `procs` child processes at once for
 * `seconds` and returns operations per second over all of them, from the
 * start gate to the last one's end. procs=1 measures the uncontended cost
 * (still in a child, so every column pays the same set-up). */
static inline double bench_ops(int procs, double seconds, int (*op)(void *), void *ctx)
{
    bench_ops_ctx o;
    pid_t pids[64];
    o.op = op;
    o.ctx = ctx;
    o.seconds = seconds;
    o.slots = (bench_slot *)bench_shared(sizeof(bench_slot) * (size_t)procs);
    bench_gate_init(&o.gate);
    for (int i = 0; i < procs; i++)
        pids[i] = bench_fork(bench_ops_child, &o, i);
    bench_gate_open(&o.gate, procs);
    double t0 = bench_now();
    for (int i = 0; i < procs; i++)
        bench_reap(pids[i]);
    long total = 0;
    double end = t0;
    for (int i = 0; i < procs; i++) {
        total += o.slots[i].count;
        if (o.slots[i].end > end)
            end = o.slots[i].end;
    }
    munmap(o.slots, sizeof(bench_slot) * (size_t)procs);
    return (double)total / (end - t0);
}

/* bench_cpu_work is the CPU-bound task of the pool-speedup figure: a
 * xorshift loop the compiler cannot shorten. */
static inline uint64_t bench_cpu_work(uint64_t seed, long iters)
{
    uint64_t x = seed | 1;
    for (long i = 0; i < iters; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    return x;
}

/* bench_cpu_iters returns how many iterations of bench_cpu_work take about
 * `seconds` on this machine (measured, so every column's tasks are equal). */
static inline long bench_cpu_iters(double seconds)
{
    long iters = 1 << 16;
    volatile uint64_t sink;
    for (;;) {
        double t0 = bench_now();
        sink = bench_cpu_work(42, iters);
        double dt = bench_now() - t0;
        (void)sink;
        if (dt > 0.01)
            return (long)((double)iters * seconds / dt) + 1;
        iters *= 4;
    }
}

#ifndef __cplusplus
#include <stdatomic.h>

/* Shared futex words for the floors (no libmp involved). C only: C++
 * before C++23 has no _Atomic. */
static inline void bench_futex_wait(_Atomic uint32_t *addr, uint32_t expected)
{
    struct timespec ts = {0, 10 * 1000 * 1000}; /* 10 ms: a lost wake costs time, never a hang */
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT, expected, &ts, NULL, 0);
}

static inline void bench_futex_wake(_Atomic uint32_t *addr, int n)
{
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE, n, NULL, NULL, 0);
}

static inline void bench_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#endif /* !__cplusplus */

#endif /* MP_BENCH_H */
