/* floor_sync.c - the floors for locks and wake-ups: a bare robust
 * process-shared pthread mutex, a bare process-shared sem_t, and a futex
 * ping-pong.
 *
 *   floor_sync mutex    fig=F procs=1|2 seconds=T   lock+unlock pairs/s (ops/s)
 *   floor_sync sem      fig=F procs=1|2 seconds=T   sem_wait+sem_post pairs/s (ops/s)
 *   floor_sync pingpong fig=F seconds=T             us per wake-up (half a round trip)
 *   floor_sync pingpong fig=F seconds=T spin=0      the same, always sleeping in the kernel
 *   floor_sync wake     fig=F seconds=T delay=D     median us from a stamp to the return of a
 *                                                   FUTEX_WAIT that slept D seconds (500e-6)
 *
 * With procs=2 two processes run the loop at once on one object, each
 * incrementing a shared counter inside, as the libmp figures do. */
#include <pthread.h>
#include <semaphore.h>

#include "bench.h"

typedef struct {
    pthread_mutex_t mutex; /* robust, process-shared */
    sem_t sem;             /* process-shared, value 1 */
    long counter;          /* the critical section's work */
} shared_sync;

static int mutex_op(void *ctx)
{
    shared_sync *s = ctx;
    int rc = pthread_mutex_lock(&s->mutex);
    if (rc == EOWNERDEAD)
        pthread_mutex_consistent(&s->mutex);
    else if (rc != 0)
        return rc;
    s->counter++;
    return pthread_mutex_unlock(&s->mutex);
}

static int sem_op(void *ctx)
{
    shared_sync *s = ctx;
    while (sem_wait(&s->sem) != 0)
        if (errno != EINTR)
            return errno;
    s->counter++;
    return sem_post(&s->sem);
}

/* The futex ping-pong: one shared word says whose turn it is. Each side
 * hands the turn over, then waits for it to come back: a short spin (the
 * other process may be running on the other core), then FUTEX_WAIT. The
 * hand-over makes a FUTEX_WAKE only when the other side said it sleeps, so
 * this is the best a wake-up between two processes can do: a libmp event
 * or condition that spins before sleeping is compared with the same. */
enum { TURN_PARENT, TURN_CHILD, TURN_STOP };
static long spin_max = 100; /* pause loops before sleeping (spin=N) */

typedef struct {
    _Atomic uint32_t turn;        /* TURN_*: who may go on */
    _Atomic uint32_t sleeping[2]; /* set by a side about to FUTEX_WAIT */
} pingpong_word;

static void hand_over(pingpong_word *w, uint32_t to)
{
    atomic_store(&w->turn, to);
    if (atomic_exchange(&w->sleeping[to == TURN_STOP ? TURN_CHILD : to], 0))
        bench_futex_wake(&w->turn, 1);
}

/* await_turn returns once the turn is `me` or TURN_STOP. */
static uint32_t await_turn(pingpong_word *w, uint32_t me)
{
    uint32_t t;
    for (long spin = 0; spin < spin_max; spin++) {
        if ((t = atomic_load(&w->turn)) == me || t == TURN_STOP)
            return t;
        bench_relax();
    }
    for (;;) {
        atomic_store(&w->sleeping[me], 1);
        if ((t = atomic_load(&w->turn)) == me || t == TURN_STOP)
            return t;
        bench_futex_wait(&w->turn, t);
    }
}

static double pingpong(double seconds)
{
    pingpong_word *w = bench_shared(4096);
    pid_t pid = bench_fork_peer();
    if (pid < 0)
        bench_die("fork", -errno);
    if (pid == 0) {
        while (await_turn(w, TURN_CHILD) != TURN_STOP)
            hand_over(w, TURN_PARENT);
        _exit(0);
    }
    long n = 0;
    double t0 = bench_now(), t1 = t0;
    for (;;) {
        hand_over(w, TURN_CHILD);
        await_turn(w, TURN_PARENT);
        n++;
        if ((n & 15) == 0 && (t1 = bench_now()) - t0 >= seconds)
            break;
    }
    hand_over(w, TURN_STOP);
    bench_reap(pid);
    return (t1 - t0) / (double)n / 2 * 1e6;
}

/* The floor of a sleeper's wake-up after a wait as long as a task's: the
 * child sleeps `delay` (the task), stamps the time and hands the turn over
 * with a FUTEX_WAKE; the parent, asleep in FUTEX_WAIT all that while (no
 * spin: its CPU has gone idle, as a pool's waiter's has), takes the sample
 * when it returns. What bench_pool's wake figure measures, with nothing
 * but the kernel in between. */
static double wake(double seconds, double delay)
{
    enum { MAX_SAMPLES = 100000 };
    static double lat[MAX_SAMPLES];
    struct {
        pingpong_word turn;
        double stamp;
    } *w = bench_shared(4096);
    spin_max = 0; /* asleep in the kernel, never spinning */
    pid_t pid = bench_fork_peer();
    if (pid < 0)
        bench_die("fork", -errno);
    if (pid == 0) {
        while (await_turn(&w->turn, TURN_CHILD) != TURN_STOP) {
            usleep((useconds_t)(delay * 1e6));
            w->stamp = bench_now();
            hand_over(&w->turn, TURN_PARENT);
        }
        _exit(0);
    }
    long n = 0;
    double t0 = bench_now();
    do {
        hand_over(&w->turn, TURN_CHILD);
        await_turn(&w->turn, TURN_PARENT);
        lat[n++] = (bench_now() - w->stamp) * 1e6;
    } while (n < MAX_SAMPLES && bench_now() - t0 < seconds);
    hand_over(&w->turn, TURN_STOP);
    bench_reap(pid);
    return bench_median(lat, (size_t)n);
}

int main(int argc, char **argv)
{
    const char *mode = bench_mode(argc, argv);
    const char *fig = bench_arg(argc, argv, "fig", mode);
    int procs = (int)bench_argl(argc, argv, "procs", 1);
    double seconds = bench_argf(argc, argv, "seconds", 0.2);
    shared_sync *s = bench_shared(sizeof *s);
    pthread_mutexattr_t ma;

    spin_max = bench_argl(argc, argv, "spin", 100);
    if (procs < 1 || procs > 64)
        bench_die("procs", -EINVAL);
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&s->mutex, &ma);
    sem_init(&s->sem, 1, 1);

    if (strcmp(mode, "mutex") == 0)
        bench_result(fig, "floor", bench_ops(procs, seconds, mutex_op, s), "ops/s");
    else if (strcmp(mode, "sem") == 0)
        bench_result(fig, "floor", bench_ops(procs, seconds, sem_op, s), "ops/s");
    else if (strcmp(mode, "pingpong") == 0)
        bench_result(fig, "floor", pingpong(seconds), "us");
    else if (strcmp(mode, "wake") == 0)
        bench_result(fig, "floor", wake(seconds, bench_argf(argc, argv, "delay", 500e-6)), "us");
    else {
        fprintf(stderr, "usage: %s mutex|sem|pingpong|wake [key=value...]\n", argv[0]);
        return 2;
    }
    return 0;
}
