/* bench_sync.c - libmp locks, semaphores, events and conditions.
 *
 *   bench_sync lock      fig=F procs=1|2 seconds=T   acquire+release pairs/s
 *   bench_sync semaphore fig=F procs=1|2 seconds=T   acquire+release pairs/s
 *   bench_sync event     fig=F seconds=T             us per wake-up (two-event ping-pong)
 *   bench_sync condition fig=F seconds=T             us per wake-up (condition ping-pong)
 *
 * The loops and protocols are the ones bench/py/bench_sync.py runs, so the
 * CPython column does the same work. */
#include "bench.h"
#include "mp.h"

typedef struct {
    mp_lock *lock;
    mp_semaphore *sem;
    long *counter; /* the critical section's work, in shared memory */
} sync_ctx;

static int lock_op(void *arg)
{
    sync_ctx *s = arg;
    int rc = mp_lock_acquire(s->lock, MP_FOREVER);
    if (rc != 0 && rc != MP_EOWNERDEAD)
        return rc;
    (*s->counter)++;
    return mp_lock_release(s->lock);
}

static int sem_op(void *arg)
{
    sync_ctx *s = arg;
    int rc = mp_semaphore_acquire(s->sem, MP_FOREVER);
    if (rc != 0)
        return rc;
    (*s->counter)++;
    return mp_semaphore_release(s->sem);
}

/* event: the parent sets ping and waits for pong; the child waits for
 * ping, clears it and sets pong. Each trip is two wake-ups. */
static double event_pingpong(double seconds)
{
    mp_event *ping = mp_event_new(), *pong = mp_event_new();
    if (!ping || !pong)
        bench_die("mp_event_new", -errno);
    pid_t pid = bench_fork_peer();
    if (pid < 0)
        bench_die("fork", -errno);
    if (pid == 0) {
        for (;;) {
            if (mp_event_wait(ping, MP_FOREVER) != 0)
                _exit(3);
            mp_event_clear(ping);
            mp_event_set(pong);
        }
    }
    long n = 0;
    double t0 = 0, t1 = 0;
    for (;;) {
        mp_event_set(ping);
        if (mp_event_wait(pong, MP_FOREVER) != 0)
            bench_die("mp_event_wait", -EIO);
        mp_event_clear(pong);
        if (n++ == 0) /* the first trip is untimed: the child is running */
            t0 = t1 = bench_now();
        else if ((n & 15) == 0 && (t1 = bench_now()) - t0 >= seconds)
            break;
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    mp_event_free(ping);
    mp_event_free(pong);
    return (t1 - t0) / (double)(n - 1) / 2 * 1e6;
}

/* condition: turn is 0 for the parent, 1 for the child, 2 to stop; each
 * side flips it, notifies, and waits until it comes back. */
static double condition_pingpong(double seconds)
{
    mp_condition *c = mp_condition_new(NULL);
    volatile int *turn = bench_shared(4096);
    if (!c)
        bench_die("mp_condition_new", -errno);
    pid_t pid = bench_fork_peer();
    if (pid < 0)
        bench_die("fork", -errno);
    if (pid == 0) {
        mp_condition_acquire(c, MP_FOREVER);
        for (;;) {
            while (*turn == 0)
                if (mp_condition_wait(c, MP_FOREVER) != 0)
                    _exit(3);
            if (*turn == 2)
                break;
            *turn = 0;
            mp_condition_notify(c, 1);
        }
        mp_condition_release(c);
        _exit(0);
    }
    long n = 0;
    double t0 = 0, t1 = 0;
    mp_condition_acquire(c, MP_FOREVER);
    for (;;) {
        *turn = 1;
        mp_condition_notify(c, 1);
        while (*turn == 1)
            if (mp_condition_wait(c, MP_FOREVER) != 0)
                bench_die("mp_condition_wait", -EIO);
        if (n++ == 0)
            t0 = t1 = bench_now();
        else if ((n & 15) == 0 && (t1 = bench_now()) - t0 >= seconds)
            break;
    }
    *turn = 2;
    mp_condition_notify(c, 1);
    mp_condition_release(c);
    bench_reap(pid);
    mp_condition_free(c);
    return (t1 - t0) / (double)(n - 1) / 2 * 1e6;
}

int main(int argc, char **argv)
{
    const char *mode = bench_mode(argc, argv);
    const char *fig = bench_arg(argc, argv, "fig", mode);
    int procs = (int)bench_argl(argc, argv, "procs", 1);
    double seconds = bench_argf(argc, argv, "seconds", 0.2);
    sync_ctx s = {.counter = bench_shared(4096)};

    if (procs < 1 || procs > 64)
        bench_die("procs", -EINVAL);
    if (strcmp(mode, "lock") == 0) {
        if (!(s.lock = mp_lock_new()))
            bench_die("mp_lock_new", -errno);
        bench_result(fig, "libmp", bench_ops(procs, seconds, lock_op, &s), "ops/s");
        mp_lock_free(s.lock);
    } else if (strcmp(mode, "semaphore") == 0) {
        if (!(s.sem = mp_semaphore_new(1)))
            bench_die("mp_semaphore_new", -errno);
        bench_result(fig, "libmp", bench_ops(procs, seconds, sem_op, &s), "ops/s");
        mp_semaphore_free(s.sem);
    } else if (strcmp(mode, "event") == 0) {
        bench_result(fig, "libmp", event_pingpong(seconds), "us");
    } else if (strcmp(mode, "condition") == 0) {
        bench_result(fig, "libmp", condition_pingpong(seconds), "us");
    } else {
        fprintf(stderr, "usage: %s lock|semaphore|event|condition [key=value...]\n", argv[0]);
        return 2;
    }
    return 0;
}
