/* mp_test.h - what every libmp test file shares: cmocka, a fixture that
 * lets no test leave a process to the next, and helpers for children that
 * report by exit status and for waiting on events with a timeout. */
#ifndef MP_TEST_H
#define MP_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mp.h"
#include "proc.h"

/* ---- timing on a shared machine ---------------------------------------- */

/* How late (seconds) an event may come after it is due and still pass.
 * The suite must pass on a shared 2-core machine beside 16 busy loops
 * (scripts/load.sh 16 -- ...): there a woken process may wait several
 * scheduler periods for a CPU, and a sanitizer build runs several times
 * slower. So an upper bound is what is due plus MPT_SLACK, while a lower
 * bound stays strict (a timeout never ends early). Precise timing is
 * measured in bench/ and tests/stress, never asserted here. */
#define MPT_SLACK 2.0

/* How often (microseconds) the mpt_wait* helpers look for what they wait
 * for when nothing can wake them (a child's state in /proc, an atomic in
 * shared memory). They see an event within one interval: short beside any
 * time a test measures, long enough that the looking costs nothing. */
#define MPT_POLL_US 1000

/* How long (seconds) mpt_wait lets a child run before it kills it as hung:
 * longer than any child of a test works or waits, on a loaded machine too
 * (a 4x4 queue stress producer: over 30 s beside 16 busy loops), shorter
 * than CTest's limit for the files with long children, so that a hung
 * child fails its own test and not every test after it. */
#define MPT_CHILD_LIMIT 120.0

/* How long (seconds) the fixture waits for the processes it killed to be
 * gone. SIGKILL ends a process at once unless it sleeps uninterruptibly
 * (D state, a page fault on a busy disk): that is the wait. */
#define MPT_REAP_LIMIT 10.0

/* Seconds on the monotonic clock, for timing checks with slack. */
static inline double mpt_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* mpt_until asks done(arg) every MPT_POLL_US until it says true (true) or
 * `seconds` have passed (false). done is asked once more at the end, so a
 * late look never turns an event into a time-out. */
static inline bool mpt_until(bool (*done)(void *), void *arg, double seconds)
{
    double end = mpt_now() + seconds;
    while (!done(arg)) {
        if (mpt_now() > end)
            return done(arg);
        usleep(MPT_POLL_US);
    }
    return true;
}

/* ---- children ----------------------------------------------------------- */

/* In a child that is to die of a fault at an exact point (a buffer it
 * cannot touch, a page made read-only): it dies of the signal itself,
 * not of a handler a sanitizer installed. */
static inline void mpt_die_on_fault(void)
{
    signal(SIGSEGV, SIG_DFL);
    signal(SIGBUS, SIG_DFL);
}

/* Fork a child that runs fn(arg) and _exit()s with its return value; never
 * lets the child return into cmocka. Returns the child's pid. */
static inline pid_t mpt_fork(int (*fn)(void *), void *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        _exit(fn(arg));
    return pid;
}

/* mpt_wait's result for a child that was still running after
 * MPT_CHILD_LIMIT seconds (no exit status or signal gives it). */
#define MPT_HUNG (-2)

/* Wait for child pid and return its exit status, or 128 + the signal that
 * ended it. Signals to the caller do not end the wait. A child still
 * running after MPT_CHILD_LIMIT seconds is named on stderr, killed and
 * reaped: MPT_HUNG. -1 when pid is no child to wait for (ECHILD: reaped
 * already, or SIGCHLD ignored; or a failed fork's -1, which must not wait
 * for whichever child ends first). */
static inline int mpt_wait(pid_t pid)
{
    if (pid <= 0)
        return -1;
    double end = mpt_now() + MPT_CHILD_LIMIT;
    int st;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR)
            return -1;
        if (mpt_now() > end) {
            fprintf(stderr, "mpt_wait: child %d still running after %.0f s: killed\n", (int)pid,
                    MPT_CHILD_LIMIT);
            kill(pid, SIGKILL);
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
            return MPT_HUNG;
        }
        usleep(MPT_POLL_US);
    }
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    return 128 + WTERMSIG(st);
}

/* mpt_python returns the path of the interpreter that `name` starts
 * ("python3", "python3.12", a path), as it reports it (sys.executable),
 * or NULL when there is none. Asked once per name. The tests start that
 * path, not `name`: a pyenv shim on PATH is a shell script that spends
 * seconds of a loaded machine before the interpreter even starts. */
static inline const char *mpt_python(const char *name)
{
    static struct {
        char name[64];
        char path[512]; /* "" when there is none */
    } known[8];
    static int nknown;
    for (int i = 0; i < nknown; i++)
        if (strcmp(known[i].name, name) == 0)
            return known[i].path[0] != '\0' ? known[i].path : NULL;
    if (nknown == 8)
        return NULL; /* the tests ask about 4 names at most */
    char *path = known[nknown].path;
    snprintf(known[nknown++].name, sizeof known[0].name, "%s", name);
    int p[2];
    if (pipe(p) != 0)
        return NULL;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], STDOUT_FILENO);
        close(p[0]);
        close(p[1]);
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC); /* "command not found"... */
        if (null >= 0)
            dup2(null, STDERR_FILENO);
        execlp(name, name, "-c", "import sys; print(sys.executable)", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    size_t len = 0;
    for (;;) {
        ssize_t r = read(p[0], path + len, sizeof known[0].path - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || (len += (size_t)r) + 1 >= sizeof known[0].path)
            break;
    }
    close(p[0]);
    path[len] = '\0';
    path[strcspn(path, "\n")] = '\0';
    if (pid < 0 || mpt_wait(pid) != 0 || path[0] != '/')
        path[0] = '\0';
    return path[0] != '\0' ? path : NULL;
}

/* Number of open file descriptors of this process. */
static inline int mpt_count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

/* ---- what another process or thread is doing, from /proc ---------------- */

/* mpt_proc_sleeps returns how many times task tid has gone to sleep so far
 * (its voluntary context switches), or -1 once it is gone. */
static inline long mpt_proc_sleeps(pid_t tid)
{
    char path[64], line[128];
    snprintf(path, sizeof path, "/proc/%d/status", (int)tid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    long n = -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "voluntary_ctxt_switches: %ld", &n) == 1)
            break;
    fclose(f);
    return n;
}

/* mpt_own_sleeps returns how many times the calling thread has gone to
 * sleep so far: the same count before and after a call means the call
 * never slept (preemption on a busy machine does not count). */
static inline long mpt_own_sleeps(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_THREAD, &ru) != 0)
        return -1;
    return ru.ru_nvcsw;
}

/* mpt_assert_never_sleeps(stmt) runs stmt, a call that must not wait (a
 * try, a look with no time given), and asserts that the thread did not go
 * to sleep in it. A system call may still block for a moment inside the
 * kernel on a busy machine (an open of /proc, an allocation), which is
 * no wait of libmp's, so stmt gets three tries and one clean one is
 * enough: a call that waits sleeps in every try. stmt must be safe to
 * repeat. */
#define mpt_assert_never_sleeps(stmt)                                                              \
    do {                                                                                           \
        bool mpt__clean = false;                                                                   \
        for (int mpt__try = 0; mpt__try < 3 && !mpt__clean; mpt__try++) {                          \
            long mpt__before = mpt_own_sleeps();                                                   \
            stmt;                                                                                  \
            mpt__clean = mpt_own_sleeps() == mpt__before;                                          \
        }                                                                                          \
        assert_true(mpt__clean);                                                                   \
    } while (0)

static inline bool mpt__ended(char state)
{
    return state == 'Z' || state == 'X' || state == '?';
}

struct mpt__sleeper {
    pid_t tid;
    long after; /* sleeps seen when the wait began; -1: any sleep will do */
};

static inline bool mpt__asleep(void *arg)
{
    struct mpt__sleeper *s = arg;
    char st = mpt_proc_state(s->tid);
    if (mpt__ended(st))
        return true; /* nothing more to wait for; the caller looks again */
    return st == 'S' && (s->after < 0 || mpt_proc_sleeps(s->tid) > s->after);
}

/* mpt_wait_asleep waits up to `seconds` until task tid sleeps in the
 * kernel (state S: blocked in a futex, a poll, a read...). The way to know
 * that a peer has reached a blocking call, where no event can say so:
 * started before it, the peer had nothing else to sleep on. False on
 * time-out, or when tid ended instead. */
static inline bool mpt_wait_asleep(pid_t tid, double seconds)
{
    struct mpt__sleeper s = {tid, -1};
    return mpt_until(mpt__asleep, &s, seconds) && !mpt__ended(mpt_proc_state(tid));
}

/* mpt_wait_asleep_after waits up to `seconds` until task tid sleeps in
 * the kernel, having gone to sleep more than `sleeps` times (a count
 * taken with mpt_proc_sleeps): it ran after that count was taken (woken by
 * an event, a signal, or the periodic look of the wait layer,
 * MP__WAIT_SLICE) and went back to waiting. False on time-out, or when
 * tid ended instead. */
static inline bool mpt_wait_asleep_after(pid_t tid, long sleeps, double seconds)
{
    if (sleeps < 0)
        return false;
    struct mpt__sleeper s = {tid, sleeps};
    return mpt_until(mpt__asleep, &s, seconds) && !mpt__ended(mpt_proc_state(tid));
}

/* mpt_wait_asleep_again is mpt_wait_asleep_after from now: the way to
 * check that nothing happened, as a waiter seen so was not released by
 * what came before the call. */
static inline bool mpt_wait_asleep_again(pid_t tid, double seconds)
{
    return mpt_wait_asleep_after(tid, mpt_proc_sleeps(tid), seconds);
}

struct mpt__settle {
    const pid_t *tids;
    const long *before;
    int n;
};

static inline bool mpt__settled(void *arg)
{
    struct mpt__settle *s = arg;
    for (int i = 0; i < s->n; i++) {
        struct mpt__sleeper one = {s->tids[i], s->before[i]};
        if (!mpt__asleep(&one))
            return false;
    }
    return true;
}

/* mpt_wait_settled waits up to `seconds` until each of the n tasks tids
 * has either ended or, as in mpt_wait_asleep_again, run and gone back to
 * sleep since the call. Returns how many ended (a zombie child counts), or
 * -1 on time-out. After an event meant for k waiters: k ended, the others
 * saw it and still wait. */
static inline int mpt_wait_settled(const pid_t *tids, int n, double seconds)
{
    long before[64];
    if (n > 64)
        return -1;
    for (int i = 0; i < n; i++)
        before[i] = mpt_proc_sleeps(tids[i]); /* -1 if gone: counts as ended */
    struct mpt__settle s = {tids, before, n};
    if (!mpt_until(mpt__settled, &s, seconds))
        return -1;
    int ended = 0;
    for (int i = 0; i < n; i++)
        ended += mpt__ended(mpt_proc_state(tids[i]));
    return ended;
}

/* Number of zombie children of this process. */
static inline int mpt_count_zombies(void)
{
    char path[64];
    int n = 0;
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)getpid(), (int)getpid());
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    int pid;
    while (fscanf(f, "%d", &pid) == 1)
        n += mpt_proc_state(pid) == 'Z';
    fclose(f);
    return n;
}

struct mpt__count {
    _Atomic int *v;
    int n;
};

static inline bool mpt__reached(void *arg)
{
    struct mpt__count *c = arg;
    return atomic_load(c->v) >= c->n;
}

/* Wait up to `seconds` until *v reaches n (children report progress
 * through shared atomics). True once it has, false on time out. */
static inline bool mpt_wait_atomic(_Atomic int *v, int n, double seconds)
{
    struct mpt__count c = {v, n};
    return mpt_until(mpt__reached, &c, seconds);
}

static inline bool mpt__has_zombie(void *arg)
{
    (void)arg;
    return mpt_count_zombies() >= 1;
}

/* mpt_heap_in_use returns the bytes in live shared-heap blocks, in every
 * process of the family (mp_shared_stats). */
static inline size_t mpt_heap_in_use(void)
{
    mp_heap_stats st;
    assert_int_equal(mp_shared_stats(&st), 0);
    return st.in_use;
}

/* Wait up to `seconds` until a child of ours is a zombie (dead, not yet
 * reaped): the way to know a killed child is gone without reaping it. */
static inline bool mpt_wait_zombie(double seconds)
{
    return mpt_until(mpt__has_zombie, NULL, seconds);
}

/* ---- signals ------------------------------------------------------------- */

/* The SIGALRM count behind mpt_alarms_*. A static inside a function, so
 * a test file that never uses alarms gets no unused-variable warning. */
static inline volatile sig_atomic_t *mpt__alarms(void)
{
    static volatile sig_atomic_t n;
    return &n;
}

static inline void mpt__on_alarm(int sig)
{
    (void)sig;
    (*mpt__alarms())++;
}

/* Send this process SIGALRM every `usec` microseconds, caught by a handler
 * installed without SA_RESTART, so that every blocking call in between is
 * interrupted with EINTR. Resets mpt_alarms_count() to 0. The fixture
 * stops them after the test, should it fail before mpt_alarms_stop. */
static inline void mpt_alarms_start(long usec)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = mpt__on_alarm;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    *mpt__alarms() = 0;
    struct itimerval it = {{usec / 1000000, usec % 1000000}, {usec / 1000000, usec % 1000000}};
    setitimer(ITIMER_REAL, &it, NULL);
}

/* Stop the alarms of mpt_alarms_start and restore SIGALRM's default. */
static inline void mpt_alarms_stop(void)
{
    struct itimerval off;
    memset(&off, 0, sizeof off);
    setitimer(ITIMER_REAL, &off, NULL);
    signal(SIGALRM, SIG_DFL);
}

/* How many alarms arrived since the last mpt_alarms_start. */
static inline int mpt_alarms_count(void)
{
    return *mpt__alarms();
}

/* ---- the fixture: each test starts and ends with no process of its own --- */

/* What a test may change in the process and must not pass on: the
 * dispositions of the classic signals (SIGCHLD ignored would make every
 * later wait fail), the signal mask and the interval timer (alarms every
 * 50 ms would interrupt every later test). */
struct mpt__process_state {
    struct sigaction act[32]; /* signals 1..31; 0 unused */
    sigset_t mask;
    struct itimerval timer;
};

static inline struct mpt__process_state *mpt__saved(void)
{
    static struct mpt__process_state s;
    return &s;
}

static inline void mpt__save_process_state(void)
{
    struct mpt__process_state *s = mpt__saved();
    for (int sig = 1; sig < 32; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, NULL, &s->act[sig]);
    sigprocmask(SIG_BLOCK, NULL, &s->mask);
    getitimer(ITIMER_REAL, &s->timer);
}

static inline void mpt__restore_process_state(void)
{
    struct mpt__process_state *s = mpt__saved();
    setitimer(ITIMER_REAL, &s->timer, NULL);
    for (int sig = 1; sig < 32; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            sigaction(sig, &s->act[sig], NULL);
    sigprocmask(SIG_SETMASK, &s->mask, NULL);
}

/* Room for the processes under one test (the pool tests fork 80 workers). */
#define MPT__MAX_PROCS 1024

/* mpt_descendants lists every process below this one, up to cap of them:
 * its children, theirs, and so on (a pool's supervisor and the
 * supervisor's workers). Returns how many. */
static inline int mpt_descendants(pid_t *out, int cap)
{
    int n = mpt_proc_children(getpid(), out, 0, cap);
    for (int i = 0; i < n; i++)
        n = mpt_proc_children(out[i], out, n, cap);
    return n;
}

/* mpt_end_descendants kills and reaps every process below this one and
 * returns how many there were (0: nothing was there), naming each on
 * stderr, after `what`. A stopped one gets SIGCONT before its SIGKILL.
 * Meanwhile this process is a child subreaper, so that the killed
 * processes' own children come back to it (instead of to init) to be
 * killed and reaped in turn: when it returns, nothing it found runs on.
 * Orphans a test made on purpose before (the workers of a supervisor it
 * killed) went to the nearest subreaper then: tests/stress/mp_leakcheck,
 * which kills and reports any still running when the program exits. */
static inline int mpt_end_descendants(const char *what)
{
    static pid_t now[MPT__MAX_PROCS], seen[MPT__MAX_PROCS];
    int nseen = 0, was = 0;
    prctl(PR_GET_CHILD_SUBREAPER, &was);
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    double end = mpt_now() + MPT_REAP_LIMIT;
    for (;;) {
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
        int n = mpt_descendants(now, MPT__MAX_PROCS);
        if (n == 0)
            break;
        for (int i = 0; i < n; i++) {
            char comm[64] = "?";
            char st = mpt_proc_state_name(now[i], comm, sizeof comm);
            bool known = false;
            for (int k = 0; k < nseen && !known; k++)
                known = seen[k] == now[i];
            if (!known && nseen < MPT__MAX_PROCS) {
                seen[nseen++] = now[i];
                fprintf(stderr, "mp_test: %s: process %d (%s, state %c): killed and reaped\n", what,
                        (int)now[i], comm, st);
            }
            if (st == 'T' || st == 't')
                kill(now[i], SIGCONT);
            if (!mpt__ended(st))
                kill(now[i], SIGKILL);
        }
        if (mpt_now() > end) {
            fprintf(stderr, "mp_test: %s: %d process(es) still there after %.0f s\n", what, n,
                    MPT_REAP_LIMIT);
            break;
        }
        usleep(MPT_POLL_US);
    }
    prctl(PR_SET_CHILD_SUBREAPER, was);
    return nseen;
}

/* A test's own fixture, run inside the shared one (mpt_test_fixture). */
struct mpt_fixture {
    CMFixtureFunction setup;    /* after the shared setup; NULL: none */
    CMFixtureFunction teardown; /* before the shared checks; NULL: none */
};

/* The fixture of the test that runs now (cmocka runs one at a time). */
static inline struct mpt_fixture **mpt__fixture(void)
{
    static struct mpt_fixture *f;
    return &f;
}

/* mpt_setup runs before each test: notes the process state the test may
 * change, checks that no process is left from before (the teardown saw
 * to it; a group setup might not have), then runs the test's own setup,
 * if any (cmocka hands over the struct mpt_fixture as the initial state). */
static inline int mpt_setup(void **state)
{
    struct mpt_fixture *fx = *state;
    *mpt__fixture() = fx;
    *state = NULL;
    mpt__save_process_state();
    if (mpt_end_descendants("left before the test") != 0)
        return -1;
    return fx != NULL && fx->setup != NULL ? fx->setup(state) : 0;
}

/* mpt_teardown runs after each test, passed or failed (cmocka runs it
 * after a failed assert too): puts back the signal state, kills and reaps
 * every process the test left below this one, so that the next test
 * starts clean and one failure stays one failure. The test's own
 * teardown runs first, so what it cleans up is not a leak. A test that left a process fails here
 * even if its asserts passed: it leaked one. */
static inline int mpt_teardown(void **state)
{
    struct mpt_fixture *fx = *mpt__fixture();
    int rc = fx != NULL && fx->teardown != NULL && fx->teardown(state) != 0 ? -1 : 0;
    mpt__restore_process_state();
    if (mpt_end_descendants("left by the test") != 0)
        rc = -1;
    return rc;
}

/* mpt_test(f) registers test f to run between mpt_setup and mpt_teardown;
 * mpt_test_fixture(f, setup, teardown) also runs the test's own setup and
 * teardown (either may be NULL) inside them. Every test in tests/test_*.c
 * is registered so: cmocka's own registering macros are poisoned below,
 * so that no test is added without the shared fixture. */
#define mpt_test(f)                                                                                \
    {                                                                                              \
#f, f, mpt_setup, mpt_teardown, NULL                                                       \
    }
#define mpt_test_fixture(f, setup, teardown)                                                       \
    {                                                                                              \
#f, f, mpt_setup, mpt_teardown, &(struct mpt_fixture)                                      \
        {                                                                                          \
            setup, teardown                                                                        \
        }                                                                                          \
    }
#undef cmocka_unit_test
#undef cmocka_unit_test_setup
#undef cmocka_unit_test_teardown
#undef cmocka_unit_test_setup_teardown
#undef cmocka_unit_test_prestate
#undef cmocka_unit_test_prestate_setup_teardown
#pragma GCC poison cmocka_unit_test cmocka_unit_test_setup cmocka_unit_test_teardown
#pragma GCC poison cmocka_unit_test_setup_teardown cmocka_unit_test_prestate
#pragma GCC poison cmocka_unit_test_prestate_setup_teardown

#endif
