/* test_process.c - mp_process: lifecycle, exit codes, names, exit-time
 * cleanup, daemon death with the parent, leaks and bad input. */
/* ctest-timeout: 240 */
#include "mp_test.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/stat.h>

extern char **environ;

/* ---- targets ---------------------------------------------------------- */

static int ret_arg(void *arg)
{
    return *(int *)arg;
}

static int sleep_arg(void *arg)
{
    usleep((useconds_t)(*(double *)arg * 1e6));
    return 0;
}

static int kill_self(void *arg)
{
    raise(*(int *)arg);
    return 0;
}

static int pause_forever(void *arg)
{
    (void)arg;
    for (;;)
        pause();
    return 0;
}

/* Runs until told: returns once a byte comes on the descriptor at arg. */
static int wait_told(void *arg)
{
    char c;
    return read(*(int *)arg, &c, 1) == 1 ? 0 : 1;
}

static void say_str(int fd, const char *s)
{
    size_t len = strlen(s);
    ssize_t n = write(fd, s, len);
    (void)n;
}

static char *read_all(int fd, char *buf, size_t cap)
{
    size_t got = 0;
    ssize_t n;
    while (got + 1 < cap && (n = read(fd, buf + got, cap - 1 - got)) > 0)
        got += (size_t)n;
    buf[got] = '\0';
    return buf;
}

static mp_process *start(mp_target_fn fn, void *arg, const mp_process_opts *opts)
{
    mp_process *p = mp_process_new(fn, arg, opts);
    assert_non_null(p);
    assert_int_equal(mp_process_start(p), 0);
    return p;
}

static int exitcode_of(mp_process *p)
{
    int code = 12345;
    assert_int_equal(mp_process_exitcode(p, &code), 0);
    return code;
}

/* ---- exit codes, join, terminate -------------------------------------- */

static void test_process_exit_code_is_target_return(void **state)
{
    (void)state;
    int zero = 0, seven = 7;
    mp_process *a = start(ret_arg, &zero, NULL);
    mp_process *b = start(ret_arg, &seven, NULL);
    assert_int_equal(mp_process_join(a, MP_FOREVER), 0);
    assert_int_equal(mp_process_join(b, MP_FOREVER), 0);
    assert_int_equal(exitcode_of(a), 0);
    assert_int_equal(exitcode_of(b), 7);
    assert_false(mp_process_is_alive(a));
    /* joining again is fine */
    assert_int_equal(mp_process_join(a, 0), 0);
    mp_process_free(a);
    mp_process_free(b);
}

static void test_process_exit_code_is_minus_signal(void **state)
{
    (void)state;
    int sig = SIGKILL;
    mp_process *a = start(kill_self, &sig, NULL);
    assert_int_equal(mp_process_join(a, 5), 0);
    assert_int_equal(exitcode_of(a), -9);
    mp_process_free(a);

    mp_process *b = start(pause_forever, NULL, NULL);
    assert_int_equal(mp_process_kill(b), 0);
    assert_int_equal(mp_process_join(b, 5), 0);
    assert_int_equal(exitcode_of(b), -SIGKILL);
    mp_process_free(b);
}

static void test_process_terminate_then_join(void **state)
{
    (void)state;
    mp_process *p = start(pause_forever, NULL, NULL);
    assert_true(mp_process_is_alive(p));
    int code;
    assert_int_equal(mp_process_exitcode(p, &code), MP_ESTATE);
    assert_int_equal(mp_process_terminate(p), 0);
    assert_int_equal(mp_process_join(p, 5), 0);
    assert_false(mp_process_is_alive(p));
    assert_int_equal(exitcode_of(p), -15);
    /* terminate/kill of a finished process: no-op */
    assert_int_equal(mp_process_terminate(p), 0);
    assert_int_equal(mp_process_kill(p), 0);
    mp_process_free(p);
}

static void test_process_join_times_out_on_running_child(void **state)
{
    (void)state;
    mp_process *p = start(pause_forever, NULL, NULL); /* running until terminated */
    double t0 = mpt_now();
    assert_int_equal(mp_process_join(p, 0.2), MP_ETIMEDOUT);
    double el = mpt_now() - t0;
    assert_true(el >= 0.19 && el < 0.2 + MPT_SLACK);
    /* No time given: looks, never sleeps (preemption is no sleep). */
    t0 = mpt_now();
    mpt_assert_never_sleeps({
        assert_int_equal(mp_process_join(p, 0), MP_ETIMEDOUT);
        assert_int_equal(mp_process_join(p, -1), MP_ETIMEDOUT);
        assert_true(mp_process_is_alive(p));
    });
    assert_true(mpt_now() - t0 < MPT_SLACK);
    assert_int_equal(mp_process_terminate(p), 0);
    assert_int_equal(mp_process_join(p, MP_FOREVER), 0);
    mp_process_free(p);
}

static void test_process_join_waits_for_the_end(void **state)
{
    (void)state;
    double secs = 0.3;
    /* Timed from before the start: the child's 0.3 s begin after it. */
    double t0 = mpt_now();
    mp_process *p = start(sleep_arg, &secs, NULL);
    assert_int_equal(mp_process_join(p, 5), 0);
    double el = mpt_now() - t0;
    assert_true(el >= 0.29 && el < 0.3 + MPT_SLACK);
    assert_int_equal(exitcode_of(p), 0);
    mp_process_free(p);
}

/* ---- sentinel ---------------------------------------------------------- */

static void test_process_sentinel_is_readable_once_ended(void **state)
{
    (void)state;
    int go[2];
    assert_int_equal(pipe(go), 0);
    mp_process *p = mp_process_new(wait_told, &go[0], NULL);
    assert_int_equal(mp_process_sentinel(p), -1);
    assert_int_equal(mp_process_start(p), 0);
    int fd = mp_process_sentinel(p);
    assert_true(fd >= 0);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 0), 0); /* running until told */
    assert_int_equal(write(go[1], "g", 1), 1);
    assert_int_equal(poll(&pfd, 1, 5000), 1);
    close(go[0]);
    close(go[1]);
    assert_int_equal(mp_process_join(p, 0), 0);
    /* stays valid and readable until free */
    assert_int_equal(mp_process_sentinel(p), fd);
    assert_int_equal(poll(&pfd, 1, 0), 1);
    mp_process_free(p);
}

/* ---- names, current and parent ---------------------------------------- */

/* The child reports through a pipe: its own name and repr, its parent's,
 * and the names of two children it makes. */
static int grandchild_noop(void *arg)
{
    (void)arg;
    return 0;
}

static int report_names(void *arg)
{
    int fd = *(int *)arg;
    char buf[512], r1[96], r2[96];
    mp_process *me = mp_current_process(), *par = mp_parent_process();
    if (par == NULL)
        return 10;
    mp_process_repr(me, r1, sizeof r1);
    mp_process_repr(par, r2, sizeof r2);
    mp_process *g1 = mp_process_new(grandchild_noop, NULL, NULL);
    mp_process *named = mp_process_new(grandchild_noop, NULL, &(mp_process_opts){"x", false});
    mp_process *g3 = mp_process_new(grandchild_noop, NULL, NULL);
    if (g1 == NULL || named == NULL || g3 == NULL)
        return 11;
    if (mp_process_start(g1) != 0 || mp_process_join(g1, 5) != 0)
        return 12;
    if (mp_process_join(me, 0) != MP_ESTATE)
        return 13; /* joining yourself */
    if (mp_process_pid(me) != getpid() || mp_process_pid(par) != getppid())
        return 14;
    if (!mp_process_is_alive(par) || !mp_process_is_alive(me))
        return 15;
    if (mp_process_sentinel(par) < 0 || mp_process_join(par, 0) != MP_ETIMEDOUT)
        return 16;
    snprintf(buf, sizeof buf, "%s|%s|%s|%s|%s|%s|%s", mp_process_name(me), r1, mp_process_name(par),
             r2, mp_process_name(g1), mp_process_name(named), mp_process_name(g3));
    say_str(fd, buf);
    return 0;
}

static void test_process_names_count_per_process(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    mp_process *p = mp_process_new(report_names, &fds[1], NULL);
    assert_non_null(p);
    /* the number of the next unnamed object, named ones included */
    const char *name = mp_process_name(p);
    assert_int_equal(strncmp(name, "Process-", 8), 0);
    int n = atoi(name + 8);
    assert_true(n >= 1);
    mp_process *named = mp_process_new(ret_arg, NULL, &(mp_process_opts){"worker", false});
    mp_process *next = mp_process_new(ret_arg, NULL, NULL);
    assert_string_equal(mp_process_name(named), "worker");
    char want[64];
    snprintf(want, sizeof want, "Process-%d", n + 2);
    assert_string_equal(mp_process_name(next), want);

    assert_int_equal(mp_process_start(p), 0);
    assert_int_equal(mp_process_join(p, 10), 0);
    assert_int_equal(exitcode_of(p), 0);
    close(fds[1]);
    char got[512], expect[512];
    read_all(fds[0], got, sizeof got);
    close(fds[0]);
    snprintf(expect, sizeof expect,
             "Process-%d|<Process(Process-%d, started)>|MainProcess|"
             "<_ParentProcess(MainProcess, unknown)>|Process-%d:1|x|Process-%d:3",
             n, n, n, n);
    assert_string_equal(got, expect);
    mp_process_free(p);
    mp_process_free(named);
    mp_process_free(next);
}

static void test_process_main_process_and_no_parent(void **state)
{
    (void)state;
    mp_process *me = mp_current_process();
    assert_non_null(me);
    assert_string_equal(mp_process_name(me), "MainProcess");
    assert_int_equal(mp_process_pid(me), getpid());
    assert_true(mp_process_is_alive(me));
    assert_false(mp_process_daemon(me));
    assert_null(mp_parent_process());
    char buf[64];
    assert_int_equal(mp_process_repr(me, buf, sizeof buf),
                     (int)strlen("<_MainProcess(MainProcess, started)>"));
    assert_string_equal(buf, "<_MainProcess(MainProcess, started)>");
    assert_int_equal(mp_process_join(me, 0), MP_ESTATE);
    assert_int_equal(mp_process_start(me), MP_ESTATE);
    assert_int_equal(mp_process_terminate(me), MP_ESTATE);
    assert_int_equal(mp_process_set_daemon(me, true), MP_ESTATE);
    int code;
    assert_int_equal(mp_process_exitcode(me, &code), MP_ESTATE);
    mp_process_free(me); /* ignored */
    assert_string_equal(mp_process_name(mp_current_process()), "MainProcess");
}

/* ---- repr --------------------------------------------------------------- */

static void expect_repr(mp_process *p, const char *want)
{
    char buf[128];
    int n = mp_process_repr(p, buf, sizeof buf);
    assert_string_equal(buf, want);
    assert_int_equal(n, (int)strlen(want));
}

static void test_process_repr_at_each_stage(void **state)
{
    (void)state;
    int one = 1;
    mp_process *p = mp_process_new(ret_arg, &one, NULL);
    char want[96];
    const char *name = mp_process_name(p);
    snprintf(want, sizeof want, "<Process(%s, initial)>", name);
    expect_repr(p, want);
    assert_int_equal(mp_process_start(p), 0);
    assert_int_equal(mp_process_join(p, 5), 0);
    snprintf(want, sizeof want, "<Process(%s, stopped[1])>", name);
    expect_repr(p, want);
    mp_process_free(p);

    int zero = 0;
    p = start(ret_arg, &zero, NULL);
    assert_int_equal(mp_process_join(p, 5), 0);
    snprintf(want, sizeof want, "<Process(%s, stopped)>", mp_process_name(p));
    expect_repr(p, want);
    mp_process_free(p);

    p = start(pause_forever, NULL, NULL);
    snprintf(want, sizeof want, "<Process(%s, started)>", mp_process_name(p));
    expect_repr(p, want);
    mp_process_terminate(p);
    assert_int_equal(mp_process_join(p, 5), 0);
    snprintf(want, sizeof want, "<Process(%s, stopped[SIGTERM])>", mp_process_name(p));
    expect_repr(p, want);
    mp_process_free(p);

    p = start(pause_forever, NULL, &(mp_process_opts){"p1", true});
    expect_repr(p, "<Process(p1, started daemon)>");
    mp_process_kill(p);
    assert_int_equal(mp_process_join(p, 5), 0);
    expect_repr(p, "<Process(p1, stopped[SIGKILL] daemon)>");

    /* snprintf-style truncation */
    char small[8];
    memset(small, 'Z', sizeof small);
    int full = mp_process_repr(p, small, sizeof small);
    assert_int_equal(full, (int)strlen("<Process(p1, stopped[SIGKILL] daemon)>"));
    assert_string_equal(small, "<Proces");
    assert_int_equal(mp_process_repr(p, NULL, 0), full);
    mp_process_free(p);
}

/* ---- stdio ---------------------------------------------------------------- */

static int print_child(void *arg)
{
    (void)arg;
    printf("child line\n"); /* left in the buffer: the exit path flushes it */
    return 0;
}

static void test_process_start_flushes_stdout_first(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    dup2(fds[1], STDOUT_FILENO);
    close(fds[1]);
    static char vbuf[4096];
    setvbuf(stdout, vbuf, _IOFBF, sizeof vbuf);
    printf("pending line\n"); /* buffered, not yet written */
    mp_process *p = mp_process_new(print_child, NULL, NULL);
    int rc = mp_process_start(p);
    int jr = mp_process_join(p, 5);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    setvbuf(stdout, NULL, _IOLBF, 0);
    assert_int_equal(rc, 0);
    assert_int_equal(jr, 0);
    char got[256];
    read_all(fds[0], got, sizeof got);
    close(fds[0]);
    assert_string_equal(got, "pending line\nchild line\n");
    mp_process_free(p);
}

/* ---- children of children ------------------------------------------------- */

/* A child that starts a slow non-daemon child and a daemon, then returns:
 * its exit path must join the first and terminate the second. */

static int slow_say(void *arg)
{
    usleep(300 * 1000);
    say_str(*(int *)arg, "grandchild done\n");
    return 0;
}

static int daemon_report_pid(void *arg)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%d\n", (int)getpid());
    say_str(*(int *)arg, buf);
    for (;;)
        pause();
    return 0;
}

/* The daemon reports its pid on fds[0] (the test's pipe) and says it is
 * ready on fds[1]. */
static int daemon_report_ready(void *arg)
{
    int *fds = arg;
    char buf[32];
    snprintf(buf, sizeof buf, "%d\n", (int)getpid());
    say_str(fds[0], buf);
    say_str(fds[1], "r");
    for (;;)
        pause();
    return 0;
}

static int leave_children_behind(void *arg)
{
    int fd = *(int *)arg, ready[2];
    if (pipe(ready) < 0)
        return 19;
    mp_process *slow = mp_process_new(slow_say, &fd, NULL);
    if (slow == NULL || mp_process_start(slow) != 0)
        return 20;
    int dfds[2] = {fd, ready[1]};
    mp_process *d = mp_process_new(daemon_report_ready, dfds, &(mp_process_opts){NULL, true});
    if (d == NULL || mp_process_start(d) != 0)
        return 21;
    char c;
    if (read(ready[0], &c, 1) != 1)
        return 22;
    return 3; /* no join */
}

static void test_process_child_exit_joins_and_terminates_its_children(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    double t0 = mpt_now();
    mp_process *p = start(leave_children_behind, &fds[1], NULL);
    assert_int_equal(mp_process_join(p, 10), 0);
    assert_true(mpt_now() - t0 >= 0.28);
    assert_int_equal(exitcode_of(p), 3);
    close(fds[1]);
    char got[256];
    read_all(fds[0], got, sizeof got); /* EOF: every writer is gone */
    close(fds[0]);
    /* EOF means the daemon is gone too; it printed its pid first */
    char *done = strstr(got, "grandchild done\n");
    assert_non_null(done);
    memmove(done, done + strlen("grandchild done\n"),
            strlen(done) - strlen("grandchild done\n") + 1);
    pid_t dpid = (pid_t)atoi(got);
    assert_true(dpid > 0);
    assert_int_equal(kill(dpid, 0), -1); /* reaped by its parent, not a zombie */
    assert_int_equal(errno, ESRCH);
    mp_process_free(p);
}

static int daemon_tries_to_start(void *arg)
{
    (void)arg;
    mp_process *c = mp_process_new(grandchild_noop, NULL, NULL);
    if (c == NULL)
        return 30;
    int rc = mp_process_start(c);
    mp_process_free(c);
    return rc == MP_ESTATE ? 0 : 31;
}

static void test_process_daemon_cannot_have_children(void **state)
{
    (void)state;
    mp_process *p = start(daemon_tries_to_start, NULL, &(mp_process_opts){NULL, true});
    assert_true(mp_process_daemon(p));
    assert_int_equal(mp_process_join(p, 5), 0);
    assert_int_equal(exitcode_of(p), 0);
    mp_process_free(p);
}

/* ---- a daemon dies with a parent killed outright ------------------------- */

static int start_daemon_then_wait(void *arg)
{
    int fd = *(int *)arg;
    mp_process *d = mp_process_new(daemon_report_pid, &fd, &(mp_process_opts){NULL, true});
    if (d == NULL || mp_process_start(d) != 0)
        return 40;
    for (;;)
        pause();
    return 0;
}

/* Runs in a forked copy of the test (the subreaper setting must not leak
 * into the runner): the intermediate child is SIGKILLed, its daemon is
 * reparented to us, and must die of SIGKILL at once (within MPT_SLACK). */
static int daemon_death_scenario(void *arg)
{
    (void)arg;
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
        return 50;
    int fds[2];
    if (pipe(fds) < 0)
        return 51;
    mp_process *mid = mp_process_new(start_daemon_then_wait, &fds[1], NULL);
    if (mid == NULL || mp_process_start(mid) != 0)
        return 52;
    close(fds[1]);
    struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
    if (poll(&pfd, 1, 5000) != 1)
        return 59;
    char buf[32] = {0};
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    if (n <= 0)
        return 53;
    pid_t gpid = (pid_t)atoi(buf);
    if (gpid <= 0 || kill(gpid, 0) != 0)
        return 54;
    if (mp_process_kill(mid) != 0 || mp_process_join(mid, 5) != 0)
        return 55;
    double t0 = mpt_now();
    for (;;) {
        int st;
        pid_t r = waitpid(gpid, &st, WNOHANG);
        if (r == gpid)
            return WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL ? 0 : 56;
        if (r < 0)
            return 57;
        if (mpt_now() - t0 > MPT_SLACK)
            return 58;
        usleep(MPT_POLL_US);
    }
}

static void test_process_daemon_dies_with_killed_parent(void **state)
{
    (void)state;
    assert_int_equal(mpt_wait(mpt_fork(daemon_death_scenario, NULL)), 0);
}

/* ---- the main program's exit ------------------------------------------- */

static int run_helper(const char *mode, const char *file, double *elapsed)
{
    char prog[512];
    snprintf(prog, sizeof prog, "%s/process_exit", MP_TEST_HELPERS);
    char *argv[] = {prog, (char *)mode, (char *)file, NULL};
    pid_t pid;
    double t0 = mpt_now();
    if (posix_spawn(&pid, prog, NULL, NULL, argv, environ) != 0)
        return -1;
    int rc = mpt_wait(pid);
    *elapsed = mpt_now() - t0;
    return rc;
}

static void temp_path(char *buf, size_t cap, const char *tag)
{
    snprintf(buf, cap, "/tmp/mp_test_process_%s_%d", tag, (int)getpid());
    unlink(buf);
}

static void test_process_main_exit_waits_for_nondaemon_child(void **state)
{
    (void)state;
    char file[128], got[128];
    temp_path(file, sizeof file, "nondaemon");
    double el;
    assert_int_equal(run_helper("nondaemon", file, &el), 0);
    assert_true(el >= 0.45);
    int fd = open(file, O_RDONLY);
    assert_true(fd >= 0);
    read_all(fd, got, sizeof got);
    close(fd);
    unlink(file);
    /* the child finished before the program's exit; the child never ran
     * the program's atexit handler */
    assert_string_equal(got, "child\natexit\n");
}

static void test_process_main_exit_terminates_daemon_child(void **state)
{
    (void)state;
    char file[128], got[128];
    temp_path(file, sizeof file, "daemon");
    double el;
    assert_int_equal(run_helper("daemon", file, &el), 0);
    assert_true(el < 10);
    int fd = open(file, O_RDONLY);
    assert_true(fd >= 0);
    read_all(fd, got, sizeof got);
    close(fd);
    unlink(file);
    pid_t dpid = (pid_t)atoi(got);
    assert_true(dpid > 0);
    /* the helper reaped it before leaving: it is gone, not even a zombie */
    assert_int_equal(kill(dpid, 0), -1);
    assert_int_equal(errno, ESRCH);
}

/* ---- registry, free, active children ------------------------------------ */

static bool two_active(void *out)
{
    return mp_active_children(out, 4) == 2;
}

static void test_process_active_children_lists_live_ones(void **state)
{
    (void)state;
    assert_int_equal(mp_active_children(NULL, 0), 0);
    mp_process *a = start(pause_forever, NULL, NULL);
    mp_process *b = start(pause_forever, NULL, NULL);
    mp_process *c = start(pause_forever, NULL, NULL);
    mp_process *out[4] = {NULL};
    assert_int_equal(mp_active_children(NULL, 0), 3);
    assert_int_equal(mp_active_children(out, 2), 3);
    assert_non_null(out[0]);
    assert_non_null(out[1]);
    assert_null(out[2]);
    mp_process_kill(b);
    /* active_children reaps b without a join */
    assert_true(mpt_until(two_active, out, 5));
    assert_int_equal(mp_active_children(out, 4), 2);
    assert_true((out[0] == a && out[1] == c) || (out[0] == c && out[1] == a));
    assert_false(mp_process_is_alive(b));
    assert_int_equal(exitcode_of(b), -SIGKILL);
    mp_process_kill(a);
    mp_process_kill(c);
    mp_process_join(a, 5);
    mp_process_join(c, 5);
    assert_int_equal(mp_active_children(NULL, 0), 0);
    mp_process_free(a);
    mp_process_free(b);
    mp_process_free(c);
    assert_int_equal(mpt_count_zombies(), 0);
}

/* Says "told\n" on fds[0] once a byte comes on fds[1]. */
static int say_when_told(void *arg)
{
    int *fds = arg;
    char c;
    if (read(fds[1], &c, 1) != 1)
        return 1;
    say_str(fds[0], "told\n");
    return 0;
}

/* True once the registry has reaped the freed child: the fds of this
 * process are back to the count at arg. */
static bool reaped_to(void *arg)
{
    mp_active_children(NULL, 0);
    return mpt_count_fds() == *(int *)arg;
}

static void test_process_free_does_not_kill_running_child(void **state)
{
    (void)state;
    int out[2], go[2];
    assert_int_equal(pipe(out), 0);
    assert_int_equal(pipe(go), 0);
    int fds_before = mpt_count_fds();
    /* Runs until told, which is only after the free. */
    mp_process *p = start(say_when_told, (int[]){out[1], go[0]}, NULL);
    mp_process_free(p);
    assert_int_equal(mp_active_children(NULL, 0), 0); /* freed ones are not listed */
    assert_int_equal(write(go[1], "g", 1), 1);
    close(out[1]);
    close(go[0]);
    close(go[1]);
    char got[64];
    read_all(out[0], got, sizeof got); /* EOF once the child exits */
    close(out[0]);
    assert_string_equal(got, "told\n"); /* it was still running */
    /* the registry still reaps it (EOF came before the child finished
     * exiting, so give it time): no zombie, no pidfd left */
    int want = fds_before - 4;
    assert_true(mpt_until(reaped_to, &want, 5));
    assert_int_equal(mpt_count_zombies(), 0);
    assert_int_equal(mpt_count_fds(), want);
}

static void test_process_many_cycles_leak_nothing(void **state)
{
    (void)state;
    int fds = mpt_count_fds();
    int zero = 0;
    for (int i = 0; i < 200; i++) {
        mp_process *p = mp_process_new(ret_arg, &zero, NULL);
        assert_non_null(p);
        assert_int_equal(mp_process_start(p), 0);
        assert_int_equal(mp_process_join(p, MP_FOREVER), 0);
        mp_process_free(p);
    }
    /* finished but never joined: free reaps */
    for (int i = 0; i < 20; i++) {
        mp_process *p = start(ret_arg, &zero, NULL);
        while (waitid(P_PID, (id_t)mp_process_pid(p), &(siginfo_t){0}, WEXITED | WNOWAIT) < 0)
            ;
        mp_process_free(p);
    }
    assert_int_equal(mpt_count_fds(), fds);
    assert_int_equal(mpt_count_zombies(), 0);
}

/* ---- state errors and bad input ----------------------------------------- */

static void test_process_state_errors(void **state)
{
    (void)state;
    int zero = 0;
    mp_process *p = mp_process_new(ret_arg, &zero, NULL);
    assert_int_equal(mp_process_pid(p), 0);
    assert_false(mp_process_is_alive(p));
    assert_int_equal(mp_process_join(p, 1), MP_ESTATE);
    assert_int_equal(mp_process_terminate(p), MP_ESTATE);
    assert_int_equal(mp_process_kill(p), MP_ESTATE);
    int code;
    assert_int_equal(mp_process_exitcode(p, &code), MP_ESTATE);
    assert_int_equal(mp_process_set_daemon(p, true), 0);
    assert_true(mp_process_daemon(p));
    assert_int_equal(mp_process_set_daemon(p, false), 0);
    assert_int_equal(mp_process_start(p), 0);
    assert_true(mp_process_pid(p) > 0);
    assert_int_equal(mp_process_start(p), MP_ESTATE);
    assert_int_equal(mp_process_set_daemon(p, true), MP_ESTATE);
    assert_false(mp_process_daemon(p));
    assert_int_equal(mp_process_join(p, NAN), MP_EINVAL);
    assert_int_equal(mp_process_join(p, 5), 0);
    mp_process_free(p);
}

static void test_process_bad_input(void **state)
{
    (void)state;
    errno = 0;
    assert_null(mp_process_new(NULL, NULL, NULL));
    assert_int_equal(errno, EINVAL);
    assert_int_equal(mp_process_start(NULL), MP_EINVAL);
    assert_int_equal(mp_process_join(NULL, 1), MP_EINVAL);
    assert_false(mp_process_is_alive(NULL));
    assert_int_equal(mp_process_terminate(NULL), MP_EINVAL);
    assert_int_equal(mp_process_kill(NULL), MP_EINVAL);
    int code;
    assert_int_equal(mp_process_exitcode(NULL, &code), MP_EINVAL);
    assert_int_equal(mp_process_pid(NULL), 0);
    assert_null(mp_process_name(NULL));
    assert_false(mp_process_daemon(NULL));
    assert_int_equal(mp_process_set_daemon(NULL, true), MP_EINVAL);
    assert_int_equal(mp_process_sentinel(NULL), MP_EINVAL);
    char buf[8];
    assert_int_equal(mp_process_repr(NULL, buf, sizeof buf), MP_EINVAL);
    mp_process_free(NULL);
    mp_process *p = mp_process_new(ret_arg, NULL, NULL);
    assert_int_equal(mp_process_exitcode(p, NULL), MP_EINVAL);
    assert_int_equal(mp_process_repr(p, NULL, 4), MP_EINVAL);
    assert_int_equal(mp_process_join(p, NAN), MP_EINVAL);
    /* an empty name counts as no name, as in Python */
    mp_process *q = mp_process_new(ret_arg, NULL, &(mp_process_opts){"", false});
    assert_int_equal(strncmp(mp_process_name(q), "Process-", 8), 0);
    mp_process_free(p);
    mp_process_free(q);
}

/* ---- other processes and threads ------------------------------------------ */

/* In a forked copy of the test, the test's process objects are not its
 * children: they can be looked at but not joined, started or signalled. */
static int copy_is_inert(void *arg)
{
    mp_process *p = arg;
    char buf[96], want[96];
    snprintf(want, sizeof want, "<Process(%s, unknown)>", mp_process_name(p));
    mp_process_repr(p, buf, sizeof buf);
    if (strcmp(buf, want) != 0)
        return 70;
    if (mp_process_join(p, 0) != MP_ESTATE || mp_process_terminate(p) != MP_ESTATE)
        return 71;
    if (mp_process_is_alive(p) || mp_active_children(NULL, 0) != 0)
        return 72;
    if (mp_process_sentinel(p) != -1) /* the fork closed our copy of the pidfd */
        return 73;
    mp_process_free(p);
    return 0;
}

static void test_process_object_copies_in_other_processes_are_inert(void **state)
{
    (void)state;
    mp_process *p = start(pause_forever, NULL, NULL);
    assert_int_equal(mpt_wait(mpt_fork(copy_is_inert, p)), 0);
    assert_true(mp_process_is_alive(p)); /* the copy's free changed nothing here */
    assert_true(mp_process_sentinel(p) >= 0);
    mp_process_kill(p);
    assert_int_equal(mp_process_join(p, 5), 0);
    mp_process_free(p);
}

/* A thread that joins p, and its kernel thread id once it runs. */
struct joiner {
    mp_process *p;
    _Atomic pid_t tid;
};

static void *join_in_thread(void *arg)
{
    struct joiner *j = arg;
    atomic_store(&j->tid, gettid());
    return (void *)(intptr_t)mp_process_join(j->p, 10);
}

static bool tids_known(void *arg)
{
    struct joiner *j = arg;
    return atomic_load(&j[0].tid) != 0 && atomic_load(&j[1].tid) != 0;
}

static void test_process_two_threads_join_one_child(void **state)
{
    (void)state;
    int go[2];
    assert_int_equal(pipe(go), 0);
    mp_process *p = start(wait_told, &go[0], NULL);
    struct joiner j[2] = {{.p = p}, {.p = p}};
    pthread_t t1, t2;
    assert_int_equal(pthread_create(&t1, NULL, join_in_thread, &j[0]), 0);
    assert_int_equal(pthread_create(&t2, NULL, join_in_thread, &j[1]), 0);
    /* Both block in their join before the child may end. */
    assert_true(mpt_until(tids_known, j, 10));
    assert_true(mpt_wait_asleep(j[0].tid, 10));
    assert_true(mpt_wait_asleep(j[1].tid, 10));
    assert_int_equal(write(go[1], "g", 1), 1);
    void *r1, *r2;
    pthread_join(t1, &r1);
    pthread_join(t2, &r2);
    close(go[0]);
    close(go[1]);
    assert_int_equal((intptr_t)r1, 0);
    assert_int_equal((intptr_t)r2, 0);
    assert_int_equal(exitcode_of(p), 0);
    mp_process_free(p);
    assert_int_equal(mpt_count_zombies(), 0);
}

/* ---- cpu count ------------------------------------------------------------ */

static int cpu_count_with_one_cpu(void *arg)
{
    (void)arg;
    /* The CPU it runs on: always allowed (CPU 0 need not be, in a
     * container), and no migration to a CPU that may be busy. */
    int cpu = sched_getcpu();
    if (cpu < 0)
        return 62;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0)
        return 60;
    return mp_cpu_count() == 1 ? 0 : 61;
}

static void test_process_cpu_count_follows_affinity(void **state)
{
    (void)state;
    cpu_set_t set;
    assert_int_equal(sched_getaffinity(0, sizeof set, &set), 0);
    assert_int_equal(mp_cpu_count(), CPU_COUNT(&set));
    assert_true(mp_cpu_count() >= 1);
    mp_process *p = start(cpu_count_with_one_cpu, NULL, NULL);
    assert_int_equal(mp_process_join(p, 30), 0);
    assert_int_equal(exitcode_of(p), 0);
    mp_process_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        mpt_test(test_process_exit_code_is_target_return),
        mpt_test(test_process_exit_code_is_minus_signal),
        mpt_test(test_process_terminate_then_join),
        mpt_test(test_process_join_times_out_on_running_child),
        mpt_test(test_process_join_waits_for_the_end),
        mpt_test(test_process_sentinel_is_readable_once_ended),
        mpt_test(test_process_names_count_per_process),
        mpt_test(test_process_main_process_and_no_parent),
        mpt_test(test_process_repr_at_each_stage),
        mpt_test(test_process_start_flushes_stdout_first),
        mpt_test(test_process_child_exit_joins_and_terminates_its_children),
        mpt_test(test_process_daemon_cannot_have_children),
        mpt_test(test_process_daemon_dies_with_killed_parent),
        mpt_test(test_process_main_exit_waits_for_nondaemon_child),
        mpt_test(test_process_main_exit_terminates_daemon_child),
        mpt_test(test_process_active_children_lists_live_ones),
        mpt_test(test_process_free_does_not_kill_running_child),
        mpt_test(test_process_many_cycles_leak_nothing),
        mpt_test(test_process_state_errors),
        mpt_test(test_process_bad_input),
        mpt_test(test_process_object_copies_in_other_processes_are_inert),
        mpt_test(test_process_two_threads_join_one_child),
        mpt_test(test_process_cpu_count_follows_affinity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
