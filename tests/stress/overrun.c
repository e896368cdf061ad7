/* overrun.c - how late do 20 ms timeouts come back on a loaded machine?
 *
 * A figure, not a test: for each blocking call of libmp, 200 calls with a
 * 20 ms timeout that must time out (the lock is held elsewhere, the queue
 * is empty, ...), made while busy loops load every CPU, and the overrun
 * (return time minus the timeout) reported as p50, p99 and max. The loads
 * are this program's children, started first and killed at the end.
 *
 *   overrun [--loads N] [--calls N] [--timeout SECONDS] [--only NAME]
 *
 * Target (README.md, "Reliability"): p99 overrun under 50 ms with 16 busy
 * loops on 2 cores. */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mp.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The objects the calls wait on, set up so that every call times out. */
static struct {
    mp_lock *held;        /* held by a child for the whole run */
    mp_semaphore *zero;   /* value 0 */
    mp_event *unset;      /* never set */
    mp_condition *cond;   /* never notified */
    mp_barrier *barrier;  /* 2 parties, only one ever comes */
    mp_queue *empty;      /* nothing is ever put */
    mp_queue *full;       /* maxsize 1, holding one message */
    mp_conn *rx, *tx;     /* a pipe nobody writes to */
    mp_process *sleeper;  /* a child that outlives the run */
    mp_pool *pool;        /* one worker, busy with a task that blocks */
    mp_async *blocked;    /* that task */
    mp_async *waitset[8]; /* it and 7 more queued behind it (wait_any) */
    mp_pool *closed;      /* closed, with a blocked task left (join_timeout) */
} o;

static int call_lock(double t)
{
    return mp_lock_acquire(o.held, t);
}
static int call_semaphore(double t)
{
    return mp_semaphore_acquire(o.zero, t);
}
static int call_event(double t)
{
    return mp_event_wait(o.unset, t);
}
static int call_condition(double t)
{
    mp_condition_acquire(o.cond, MP_FOREVER);
    int rc = mp_condition_wait(o.cond, t);
    mp_condition_release(o.cond);
    return rc;
}
static int call_barrier(double t)
{
    int rc = mp_barrier_wait(o.barrier, t);
    mp_barrier_reset(o.barrier);
    return rc == MP_EBROKEN ? MP_ETIMEDOUT : rc;
}
static int call_queue_get(double t)
{
    char b[16];
    size_t len;
    int rc = mp_queue_get(o.empty, b, sizeof b, &len, t);
    return rc == MP_EEMPTY ? MP_ETIMEDOUT : rc;
}
static int call_queue_put(double t)
{
    int rc = mp_queue_put(o.full, "x", 1, t);
    return rc == MP_EFULL ? MP_ETIMEDOUT : rc;
}
static int call_pipe_recv(double t)
{
    char b[16];
    size_t len;
    return mp_conn_recv(o.rx, b, sizeof b, &len, t);
}
static int call_process_join(double t)
{
    return mp_process_join(o.sleeper, t);
}
static int call_pool_get(double t)
{
    return mp_async_get(o.blocked, NULL, t);
}
static int call_pool_wait_any(double t)
{
    size_t i;
    return mp_async_wait_any(o.waitset, 8, t, &i);
}
static int call_pool_join(double t)
{
    return mp_pool_join_timeout(o.closed, t);
}

static const struct {
    const char *name;
    int (*call)(double timeout);
} calls[] = {
    {"lock_acquire", call_lock},
    {"semaphore_acquire", call_semaphore},
    {"event_wait", call_event},
    {"condition_wait", call_condition},
    {"barrier_wait", call_barrier},
    {"queue_get", call_queue_get},
    {"queue_put", call_queue_put},
    {"conn_recv", call_pipe_recv},
    {"process_join", call_process_join},
    {"async_get", call_pool_get},
    {"async_wait_any", call_pool_wait_any},
    {"pool_join_timeout", call_pool_join},
};

static _Noreturn void pause_forever(void)
{
    for (;;)
        pause();
}

static int hold_lock(void *arg)
{
    (void)arg;
    mp_lock_acquire(o.held, MP_FOREVER);
    pause_forever();
}

static int sleep_forever(void *arg)
{
    (void)arg;
    pause_forever();
}

/* A task that blocks until the run ends (the event is never set). */
static int task_block(const void *arg, void *result)
{
    (void)arg;
    (void)result;
    mp_event_wait(o.unset, MP_FOREVER);
    return 0;
}

static void die(const char *what)
{
    fprintf(stderr, "overrun: %s failed: %s\n", what, strerror(errno));
    exit(2);
}

int main(int argc, char **argv)
{
    int loads = 16, ncalls = 200;
    double timeout = 0.020;
    const char *only = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--loads") == 0)
            loads = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--calls") == 0)
            ncalls = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--timeout") == 0)
            timeout = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--only") == 0)
            only = argv[i + 1];
    }
    if (ncalls < 1 || loads < 0 || loads > 256 || !(timeout > 0)) {
        fprintf(stderr, "usage: overrun [--loads N] [--calls N] [--timeout S] [--only NAME]\n");
        return 2;
    }

    if (!(o.held = mp_lock_new()) || !(o.zero = mp_semaphore_new(0)) ||
        !(o.unset = mp_event_new()) || !(o.cond = mp_condition_new(NULL)) ||
        !(o.barrier = mp_barrier_new(2)) || !(o.empty = mp_queue_new(0)) ||
        !(o.full = mp_queue_new(1)))
        die("setup");
    if (mp_queue_put(o.full, "x", 1, 0) != 0 || mp_pipe(&o.rx, &o.tx, false) != 0)
        die("setup");
    mp_process *holder = mp_process_new(hold_lock, NULL, &(mp_process_opts){.daemon = true});
    o.sleeper = mp_process_new(sleep_forever, NULL, &(mp_process_opts){.daemon = true});
    if (!holder || !o.sleeper || mp_process_start(holder) != 0 || mp_process_start(o.sleeper) != 0)
        die("processes");
    /* The holder has the lock once a try fails. */
    while (mp_lock_acquire(o.held, 0) == 0)
        mp_lock_release(o.held);
    if (!(o.pool = mp_pool_new(1)) ||
        !(o.blocked = mp_pool_apply_async(o.pool, task_block, NULL, 0, 0, NULL)))
        die("pool");
    o.waitset[0] = o.blocked;
    for (int i = 1; i < 8; i++)
        if (!(o.waitset[i] = mp_pool_apply_async(o.pool, task_block, NULL, 0, 0, NULL)))
            die("pool");
    mp_async *left;
    if (!(o.closed = mp_pool_new(1)) ||
        !(left = mp_pool_apply_async(o.closed, task_block, NULL, 0, 0, NULL)) ||
        mp_pool_close(o.closed) != 0)
        die("pool");
    mp_async_free(left);

    /* The load: busy loops, started last so setting up is not slowed. */
    pid_t busy[256];
    for (int i = 0; i < loads; i++) {
        if ((busy[i] = fork()) < 0)
            die("fork");
        if (busy[i] == 0) {
            volatile unsigned long spin = 0;
            for (;;)
                spin++;
        }
    }

    printf("overrun of %.0f ms timeouts, %d calls each, %d busy loops on %d CPUs (ms)\n",
           timeout * 1e3, ncalls, loads, mp_cpu_count());
    printf("%-18s %8s %8s %8s %8s\n", "call", "p50", "p99", "max", "wrong");
    double *over = malloc(sizeof(double) * (size_t)ncalls);
    int status = 0;
    for (size_t c = 0; c < sizeof calls / sizeof calls[0]; c++) {
        if (only != NULL && strcmp(only, calls[c].name) != 0)
            continue;
        int wrong = 0;
        for (int i = 0; i < ncalls; i++) {
            double t0 = now();
            int rc = calls[c].call(timeout);
            over[i] = now() - t0 - timeout;
            wrong += rc != MP_ETIMEDOUT;
        }
        qsort(over, (size_t)ncalls, sizeof *over, cmp_double);
        double p50 = over[ncalls / 2],
               p99 = over[(ncalls * 99) / 100 < ncalls ? (ncalls * 99) / 100 : ncalls - 1];
        printf("%-18s %8.2f %8.2f %8.2f %8d\n", calls[c].name, p50 * 1e3, p99 * 1e3,
               over[ncalls - 1] * 1e3, wrong);
        fflush(stdout);
        if (wrong)
            status = 1;
    }
    free(over);

    for (int i = 0; i < loads; i++)
        kill(busy[i], SIGKILL);
    for (int i = 0; i < loads; i++)
        waitpid(busy[i], NULL, 0);
    mp_event_set(o.unset);
    for (int i = 0; i < 8; i++)
        mp_async_free(o.waitset[i]);
    mp_pool_terminate(o.pool);
    mp_pool_free(o.pool);
    mp_pool_join(o.closed);
    mp_pool_free(o.closed);
    mp_process_kill(holder);
    mp_process_kill(o.sleeper);
    mp_process_join(holder, MP_FOREVER);
    mp_process_join(o.sleeper, MP_FOREVER);
    mp_process_free(holder);
    mp_process_free(o.sleeper);
    return status;
}
