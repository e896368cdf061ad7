/* test_log.c - MP_LOG and mp_log_to_stderr: which events are written, in
 * what form, at which level, and nothing at all when logging is off.
 *
 * Each test runs tests/helpers/log_events with MP_LOG set (or not) and
 * reads its stderr to the end (every process of the run has closed it),
 * and its stdout, where the helper names the pids the lines should show. */
/* ctest-timeout: 120 */
#include "mp_test.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>

extern char **environ;

/* The helper never runs longer than this unless something hangs. */
#define RUN_LIMIT_SECONDS 60.0

/* The longest line libmp writes, newline included (os/log.c). */
#define LINE_MAX_BYTES 512

struct run {
    char out[16384]; /* the helper's stdout */
    char err[65536]; /* its stderr: the log lines */
    size_t out_len, err_len;
    int status; /* exit status, or 128 + signal; -1 if it could not run */
};

/* Reads what is there on fd into buf; returns false at end of file. */
static bool drain(int fd, char *buf, size_t cap, size_t *len)
{
    char tmp[4096];
    ssize_t n = read(fd, tmp, sizeof tmp);
    if (n < 0 && errno == EINTR)
        return true;
    if (n <= 0)
        return false;
    size_t room = cap - 1 - *len;
    size_t k = (size_t)n < room ? (size_t)n : room;
    memcpy(buf + *len, tmp, k);
    *len += k;
    buf[*len] = '\0';
    return true;
}

/* Runs "log_events MODE" with MP_LOG=level (NULL: MP_LOG unset) and
 * collects its output until every process holding its pipes is gone. */
static void run_helper(const char *mode, const char *level, struct run *r)
{
    memset(r, 0, sizeof *r);
    r->status = -1;
    char prog[4096], env_log[64];
    snprintf(prog, sizeof prog, "%s/log_events", MP_TEST_HELPERS);
    char *argv[] = {prog, (char *)mode, NULL};
    size_t n = 0;
    while (environ[n] != NULL)
        n++;
    char **envp = calloc(n + 2, sizeof *envp);
    assert_non_null(envp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "MP_LOG=", 7) != 0)
            envp[k++] = environ[i];
    if (level != NULL) {
        snprintf(env_log, sizeof env_log, "MP_LOG=%s", level);
        envp[k++] = env_log;
    }
    envp[k] = NULL;

    int out[2], err[2];
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    assert_int_equal(pipe2(err, O_CLOEXEC), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, err[1], STDERR_FILENO);
    pid_t pid;
    int rc = posix_spawn(&pid, prog, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    free(envp);
    close(out[1]);
    close(err[1]);
    assert_int_equal(rc, 0);

    struct pollfd fds[2] = {{.fd = out[0], .events = POLLIN}, {.fd = err[0], .events = POLLIN}};
    double end = mpt_now() + RUN_LIMIT_SECONDS;
    while (fds[0].fd >= 0 || fds[1].fd >= 0) {
        int left = (int)((end - mpt_now()) * 1000);
        if (left <= 0)
            break;
        if (poll(fds, 2, left) < 0)
            continue;
        if (fds[0].revents && !drain(out[0], r->out, sizeof r->out, &r->out_len))
            fds[0].fd = -1;
        if (fds[1].revents && !drain(err[0], r->err, sizeof r->err, &r->err_len))
            fds[1].fd = -1;
    }
    bool hung = fds[0].fd >= 0 || fds[1].fd >= 0;
    if (hung)
        kill(pid, SIGKILL);
    r->status = mpt_wait(pid);
    close(out[0]);
    close(err[0]);
    if (hung)
        fail_msg("log_events %s did not finish in %.0f s; stderr:\n%s", mode, RUN_LIMIT_SECONDS,
                 r->err);
}

/* The pid the helper printed for name ("NAME PID" on stdout). */
static int pid_of(const struct run *r, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = r->out; *p != '\0';) {
        int pid;
        if (strncmp(p, name, len) == 0 && p[len] == ' ' && sscanf(p + len + 1, "%d", &pid) == 1)
            return pid;
        p = strchr(p, '\n');
        if (p == NULL)
            break;
        p++;
    }
    fail_msg("log_events printed no pid for %s; stdout:\n%s", name, r->out);
    return -1;
}

/* How many whole lines of text equal line (given without its newline). */
static int count_lines(const char *text, const char *line)
{
    int n = 0;
    size_t len = strlen(line);
    for (const char *p = text; *p != '\0';) {
        const char *nl = strchr(p, '\n');
        size_t l = nl != NULL ? (size_t)(nl - p) : strlen(p);
        if (l == len && memcmp(p, line, len) == 0)
            n++;
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    return n;
}

/* Asserts that stderr holds exactly one line equal to the formatted one. */
static void expect_line(const struct run *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void expect_line(const struct run *r, const char *fmt, ...)
{
    char want[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(want, sizeof want, fmt, ap);
    va_end(ap);
    if (count_lines(r->err, want) != 1)
        fail_msg("want once: \"%s\"\nstderr was:\n%s", want, r->err);
}

static void test_log_debug_reports_pool_worker_replacement(void **state)
{
    (void)state;
    struct run r;
    run_helper("pool", "debug", &r);
    assert_int_equal(r.status, 0); /* MP_EWORKERDIED, then a task on the new worker */
    int main_pid = pid_of(&r, "main");
    /* Written by the pool's supervisor: a process libmp forked, not an
     * mp_process, so its name is the creator's with "fork of". */
    const char *want = " while running a task, which fails with MP_EWORKERDIED; replaced unless "
                       "the pool is closing\n";
    const char *hit = strstr(r.err, want);
    if (hit == NULL)
        fail_msg("no worker replacement line in:\n%s", r.err);
    const char *bol = hit;
    while (bol > r.err && bol[-1] != '\n')
        bol--;
    int sup_pid = 0, worker_pid = 0, used = 0;
    int got = sscanf(bol, "libmp[%d fork of MainProcess] warn: pool worker 0 (pid %d) %n", &sup_pid,
                     &worker_pid, &used);
    if (got != 2 || used == 0)
        fail_msg("malformed line: %.*s", (int)(hit - bol), bol);
    assert_true(sup_pid > 0 && sup_pid != main_pid);
    assert_true(worker_pid > 0 && worker_pid != sup_pid && worker_pid != main_pid);
    assert_true(strncmp(bol + used, "killed by signal 9 (SIGKILL)", 28) == 0);
}

static void test_log_off_prints_nothing(void **state)
{
    (void)state;
    static const char *const modes[] = {"process", "lock", "pool", "longname"};
    static const char *const levels[] = {NULL, "off", ""};
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        for (size_t l = 0; l < sizeof levels / sizeof levels[0]; l++) {
            struct run r;
            run_helper(modes[m], levels[l], &r);
            assert_int_equal(r.status, 0);
            if (r.err_len != 0)
                fail_msg("log_events %s with MP_LOG %s%s wrote:\n%s", modes[m],
                         levels[l] ? "=" : "unset", levels[l] ? levels[l] : "", r.err);
        }
    }
}

static void test_log_info_reports_process_start_exit_and_daemons(void **state)
{
    (void)state;
    struct run r;
    run_helper("process", "info", &r);
    assert_int_equal(r.status, 0);
    int m = pid_of(&r, "main"), c = pid_of(&r, "child"), g = pid_of(&r, "grandchild");
    int s = pid_of(&r, "sleeper");
    expect_line(&r, "libmp[%d MainProcess] info: started child (pid %d)", m, c);
    /* The child's own lines carry its name. */
    expect_line(&r, "libmp[%d child] info: started grandchild (pid %d)", c, g);
    expect_line(&r, "libmp[%d child] info: grandchild (pid %d) exited with code 0", c, g);
    expect_line(&r, "libmp[%d MainProcess] info: child (pid %d) exited with code 3", m, c);
    expect_line(&r, "libmp[%d MainProcess] info: started sleeper (pid %d), a daemon", m, s);
    expect_line(&r, "libmp[%d MainProcess] info: at exit: terminating daemon sleeper (pid %d)", m,
                s);
    expect_line(&r, "libmp[%d MainProcess] info: sleeper (pid %d) killed by signal 15 (SIGTERM)", m,
                s);
    assert_int_equal(count_lines(r.err, ""), 0);
    assert_null(strstr(r.err, "] debug: "));
}

static void test_log_warn_reports_lock_and_condition_takeovers(void **state)
{
    (void)state;
    struct run r;
    run_helper("lock", "warn", &r);
    assert_int_equal(r.status, 0);
    int m = pid_of(&r, "main");
    void *lock = NULL, *cond = NULL;
    const char *p = strstr(r.out, "lock ");
    assert_non_null(p);
    assert_int_equal(sscanf(p, "lock %p", &lock), 1);
    p = strstr(r.out, "condition ");
    assert_non_null(p);
    assert_int_equal(sscanf(p, "condition %p", &cond), 1);
    /* The two holders' pids, in the order they died. */
    int h1 = 0, h2 = 0;
    p = strstr(r.out, "holder ");
    assert_non_null(p);
    assert_int_equal(sscanf(p, "holder %d", &h1), 1);
    p = strstr(p + 1, "holder ");
    assert_non_null(p);
    assert_int_equal(sscanf(p, "holder %d", &h2), 1);
    expect_line(&r,
                "libmp[%d MainProcess] warn: lock %p: taken over from thread %d, which died "
                "holding it",
                m, lock, h1);
    /* The condition's lock is its own rlock, inside the condition. */
    const char *hit = strstr(r.err, "which died holding it\n");
    assert_non_null(hit);
    hit = strstr(hit + 1, "which died holding it\n");
    assert_non_null(hit);
    const char *bol = hit;
    while (bol > r.err && bol[-1] != '\n')
        bol--;
    void *cond_lock = NULL;
    int pid = 0, tid = 0;
    assert_int_equal(sscanf(bol, "libmp[%d MainProcess] warn: lock %p: taken over from thread %d",
                            &pid, &cond_lock, &tid),
                     3);
    assert_int_equal(pid, m);
    assert_int_equal(tid, h2);
    expect_line(&r,
                "libmp[%d MainProcess] warn: condition %p: its lock %p was taken over from a "
                "dead holder",
                m, cond, cond_lock);
    /* warn shows no info lines (the holders' start and exit). */
    assert_null(strstr(r.err, "] info: "));
    assert_int_equal(count_lines(r.err, ""), 0);
}

static void test_log_to_stderr_switches_logging_in_code(void **state)
{
    (void)state;
    struct run r;
    run_helper("api", NULL, &r); /* checks MP_EINVAL and mp_log_get_level itself */
    assert_int_equal(r.status, 0);
    int m = pid_of(&r, "main"), v = pid_of(&r, "viaapi"), vc = pid_of(&r, "viaapi-child");
    expect_line(&r, "libmp[%d MainProcess] info: started viaapi (pid %d)", m, v);
    /* A child forked after the call logs too, under its own name. */
    expect_line(&r, "libmp[%d viaapi] info: started viaapi-child (pid %d)", v, vc);
    expect_line(&r, "libmp[%d MainProcess] info: viaapi (pid %d) exited with code 0", m, v);
    /* Turned off again before "quiet" started. */
    assert_null(strstr(r.err, "quiet"));
}

static void test_log_bad_level_is_reported_and_stays_off(void **state)
{
    (void)state;
    struct run r;
    run_helper("process", "loud", &r);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.err, "libmp: MP_LOG=loud is not a level (debug, info, warn, off); "
                               "logging stays off\n");
}

static void test_log_long_line_is_cut_in_one_write(void **state)
{
    (void)state;
    struct run r;
    run_helper("longname", "info", &r);
    assert_int_equal(r.status, 0);
    int lines = 0;
    for (const char *p = r.err; *p != '\0'; lines++) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        size_t len = (size_t)(nl - p) + 1;
        assert_true(len <= LINE_MAX_BYTES);
        /* The name alone is longer than a line: each line is cut. */
        assert_int_equal(len, LINE_MAX_BYTES);
        assert_memory_equal(nl - 3, "...", 3);
        assert_true(strncmp(p, "libmp[", 6) == 0);
        p = nl + 1;
    }
    assert_int_equal(lines, 2); /* started, exited */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        mpt_test(test_log_debug_reports_pool_worker_replacement),
        mpt_test(test_log_off_prints_nothing),
        mpt_test(test_log_info_reports_process_start_exit_and_daemons),
        mpt_test(test_log_warn_reports_lock_and_condition_takeovers),
        mpt_test(test_log_to_stderr_switches_logging_in_code),
        mpt_test(test_log_bad_level_is_reported_and_stays_off),
        mpt_test(test_log_long_line_is_cut_in_one_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
