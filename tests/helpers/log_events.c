/* log_events.c - makes the events libmp logs happen, for test_log, which
 * runs it with MP_LOG set (or not) and reads its stderr. On stdout it
 * prints "NAME PID" for each process whose pid the lines should name.
 * Exit status 0 when every call returned what it should.
 *
 *   log_events process    "child" starts "grandchild" (exit 0) and exits 3;
 *                         daemon "sleeper" is running when main returns
 *   log_events lock       "holder" dies holding a lock, then one holding a
 *                         condition's lock; main takes both over
 *   log_events pool       a pool task kills its worker (SIGKILL), then
 *                         another task runs on the replacement
 *   log_events api        MP_EINVAL for a bad level; mp_log_to_stderr(INFO)
 *                         then "viaapi" (which starts "viaapi-child");
 *                         mp_log_to_stderr(OFF) then "quiet"
 *   log_events longname   a child whose name is 600 characters long */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mp.h"

static void say(const char *name, pid_t pid)
{
    printf("%s %d\n", name, (int)pid);
    fflush(stdout);
}

static int exit0(void *arg)
{
    (void)arg;
    return 0;
}

/* "child": starts its own child, so its lines carry its name. */
static int child_main(void *arg)
{
    (void)arg;
    mp_process *g = mp_process_new(exit0, NULL, &(mp_process_opts){.name = "grandchild"});
    if (g == NULL || mp_process_start(g) != 0)
        return 10;
    say("grandchild", mp_process_pid(g));
    if (mp_process_join(g, 30) != 0)
        return 11;
    mp_process_free(g);
    return 3;
}

static _Noreturn int sleep_forever(void *arg)
{
    mp_event *started = arg;
    mp_event_set(started);
    for (;;)
        pause();
}

static int run_process(void)
{
    say("main", getpid());
    mp_process *c = mp_process_new(child_main, NULL, &(mp_process_opts){.name = "child"});
    if (c == NULL || mp_process_start(c) != 0)
        return 20;
    say("child", mp_process_pid(c));
    int code = -1;
    if (mp_process_join(c, 30) != 0 || mp_process_exitcode(c, &code) != 0 || code != 3)
        return 21;
    mp_process_free(c);
    mp_event *started = mp_event_new();
    mp_process *d = mp_process_new(sleep_forever, started,
                                   &(mp_process_opts){.name = "sleeper", .daemon = true});
    if (started == NULL || d == NULL || mp_process_start(d) != 0)
        return 22;
    say("sleeper", mp_process_pid(d));
    if (mp_event_wait(started, 30) != 0)
        return 23;
    return 0; /* libmp's exit handler terminates the daemon */
}

static int hold_lock(void *arg)
{
    return mp_lock_acquire(arg, 30) == 0 ? 0 : 1;
}

static int hold_condition(void *arg)
{
    return mp_condition_acquire(arg, 30) == 0 ? 0 : 1;
}

/* Runs fn(arg) in a child named "holder", which ends holding what it took. */
static int die_holding(int (*fn)(void *), void *arg)
{
    mp_process *h = mp_process_new(fn, arg, &(mp_process_opts){.name = "holder"});
    int code = -1;
    if (h == NULL || mp_process_start(h) != 0)
        return 1;
    say("holder", mp_process_pid(h));
    int rc = mp_process_join(h, 30) == 0 && mp_process_exitcode(h, &code) == 0 ? code : 1;
    mp_process_free(h);
    return rc;
}

static int run_lock(void)
{
    say("main", getpid());
    mp_lock *l = mp_lock_new();
    mp_condition *c = mp_condition_new(NULL);
    if (l == NULL || c == NULL)
        return 30;
    printf("lock %p\ncondition %p\n", (void *)l, (void *)c);
    if (die_holding(hold_lock, l) != 0 || mp_lock_acquire(l, 30) != MP_EOWNERDEAD)
        return 31;
    if (die_holding(hold_condition, c) != 0 || mp_condition_acquire(c, 30) != MP_EOWNERDEAD)
        return 32;
    mp_lock_release(l);
    mp_condition_release(c);
    mp_condition_free(c);
    mp_lock_free(l);
    return 0;
}

static int kill_self(const void *arg, void *result)
{
    (void)arg;
    (void)result;
    raise(SIGKILL);
    return 0;
}

static int square(const void *arg, void *result)
{
    *(int *)result = *(const int *)arg * *(const int *)arg;
    return 0;
}

static int run_pool(void)
{
    say("main", getpid());
    mp_pool *p = mp_pool_new(1);
    if (p == NULL)
        return 40;
    int rc = mp_pool_apply(p, kill_self, NULL, 0, NULL, 0);
    int x = 7, y = 0;
    int rc2 = mp_pool_apply(p, square, &x, sizeof x, &y, sizeof y);
    mp_pool_close(p);
    mp_pool_join(p);
    mp_pool_free(p);
    if (rc != MP_EWORKERDIED)
        return 41;
    return rc2 == 0 && y == 49 ? 0 : 42;
}

static int start_named(const char *name, mp_target_fn fn)
{
    mp_process *p = mp_process_new(fn, NULL, &(mp_process_opts){.name = name});
    if (p == NULL || mp_process_start(p) != 0)
        return 1;
    say(name, mp_process_pid(p));
    int rc = mp_process_join(p, 30);
    mp_process_free(p);
    return rc == 0 ? 0 : 1;
}

static int viaapi_main(void *arg)
{
    (void)arg;
    return start_named("viaapi-child", exit0);
}

static int run_api(void)
{
    say("main", getpid());
    if (mp_log_to_stderr((mp_log_level)42) != MP_EINVAL || mp_log_get_level() != MP_LOG_OFF)
        return 50;
    if (mp_log_to_stderr(MP_LOG_INFO) != 0 || mp_log_get_level() != MP_LOG_INFO)
        return 51;
    if (start_named("viaapi", viaapi_main) != 0)
        return 52;
    if (mp_log_to_stderr(MP_LOG_OFF) != 0 || mp_log_get_level() != MP_LOG_OFF)
        return 53;
    return start_named("quiet", exit0) == 0 ? 0 : 54;
}

static int run_longname(void)
{
    static char name[601];
    memset(name, 'x', sizeof name - 1);
    return start_named(name, exit0) == 0 ? 0 : 60;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "process") == 0)
        return run_process();
    if (strcmp(mode, "lock") == 0)
        return run_lock();
    if (strcmp(mode, "pool") == 0)
        return run_pool();
    if (strcmp(mode, "api") == 0)
        return run_api();
    if (strcmp(mode, "longname") == 0)
        return run_longname();
    fprintf(stderr, "usage: log_events process|lock|pool|api|longname\n");
    return 2;
}
