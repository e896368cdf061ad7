/* mp_leakcheck.c - runs one test program and fails it if it leaves
 * something behind: descriptors still open when it exits, children it
 * never reaped, processes that outlive it, entries in /dev/shm.
 *
 *   mp_leakcheck [--no-ptrace] [--grace SECONDS] -- program [args...]
 *
 * How each is seen:
 * - Descriptors and zombies: the program runs traced (PTRACE_TRACEME) with
 *   PTRACE_O_TRACEEXIT, so it stops at its exit after the atexit handlers
 *   ran but before the kernel closed its files; /proc/PID/fd then lists
 *   what it never closed, /proc/PID/task/PID/children what it never
 *   reaped. Only the main thread is traced (no fork or clone tracing), so
 *   the program and its children run as usual. --no-ptrace skips this
 *   check: LeakSanitizer attaches to every thread with ptrace at exit and
 *   cannot if we already trace one, so sanitizer builds use it.
 * - Strays: this wrapper is a child subreaper, so whatever the program
 *   forked and left running is re-parented here instead of to init; all
 *   must be gone within the grace time (daemon children are killed when
 *   their parent exits, in a few milliseconds). Survivors are listed,
 *   SIGKILLed and fail the test.
 * - /dev/shm: when allowed (root, or user namespaces), the program gets a
 *   private mount namespace with a fresh, empty tmpfs on /dev/shm, so
 *   tests running in parallel cannot disturb each other's count and any
 *   entry left there is the program's. Otherwise the entries before and
 *   after are compared.
 *
 * Exit status: the program's own when it failed (128 + signal if killed),
 * else 1 when something leaked, else 0. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../proc.h"

#define MAX_NAMES 256

static int leaks;

static void leak(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void leak(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "mp_leakcheck: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    leaks++;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- /dev/shm ----------------------------------------------------------- */

struct names {
    int n;
    char *v[MAX_NAMES];
};

static void list_dir(const char *path, struct names *out)
{
    out->n = 0;
    DIR *d = opendir(path);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && out->n < MAX_NAMES)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            out->v[out->n++] = strdup(e->d_name);
    closedir(d);
}

static void names_free(struct names *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->v[i]);
    s->n = 0;
}

static bool has_name(const struct names *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->v[i], name) == 0)
            return true;
    return false;
}

/* private_shm gives this process (and so the program) its own empty
 * /dev/shm. Returns false when the system does not allow it. */
static bool private_shm(void)
{
    if (unshare(CLONE_NEWNS) != 0)
        return false;
    /* Keep our mounts from propagating back to the host's namespace. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        return false;
    return mount("mp_leakcheck", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") == 0;
}

/* ---- the traced program at its exit ----------------------------------- */

/* check_at_exit looks at the program stopped at its exit: descriptors
 * beyond the ones it was started with, and children left as zombies. */
static void check_at_exit(pid_t pid, const struct names *fds_at_start)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    struct names fds;
    list_dir(path, &fds);
    for (int i = 0; i < fds.n; i++) {
        if (has_name(fds_at_start, fds.v[i]))
            continue;
        char link[80], target[256] = "?";
        snprintf(link, sizeof link, "/proc/%d/fd/%s", (int)pid, fds.v[i]);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n >= 0)
            target[n] = '\0';
        leak("descriptor %s (%s) still open at exit", fds.v[i], target);
    }
    names_free(&fds);
    pid_t kids[256];
    int nk = mpt_proc_children(pid, kids, 0, 256);
    for (int i = 0; i < nk; i++) {
        char comm[64] = "?";
        char st = mpt_proc_state_name(kids[i], comm, sizeof comm);
        if (st == 'Z')
            leak("child %d (%s) never reaped (zombie at exit)", (int)kids[i], comm);
    }
}

/* run_traced follows the program until it exits, stopping once at its
 * exit to look around; signals it receives are passed on unchanged.
 * Returns its wait status. */
static int run_traced(pid_t pid, const struct names *fds_at_start)
{
    int st;
    if (waitpid(pid, &st, 0) < 0 || !WIFSTOPPED(st))
        return st; /* never got to exec */
    ptrace(PTRACE_SETOPTIONS, pid, 0, PTRACE_O_TRACEEXIT | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL);
    ptrace(PTRACE_CONT, pid, 0, 0);
    for (;;) {
        if (waitpid(pid, &st, 0) < 0) {
            if (errno == EINTR)
                continue;
            return 0;
        }
        if (WIFEXITED(st) || WIFSIGNALED(st))
            return st;
        if (!WIFSTOPPED(st))
            continue;
        int event = st >> 16;
        int sig = WSTOPSIG(st);
        if (event == PTRACE_EVENT_EXIT) {
            check_at_exit(pid, fds_at_start);
            sig = 0;
        } else if (event != 0) {
            sig = 0; /* exec */
        }
        ptrace(PTRACE_CONT, pid, 0, (void *)(long)sig);
    }
}

/* ---- strays --------------------------------------------------------------- */

/* reap_strays waits up to grace seconds for every re-parented descendant
 * to end, then kills and names those still there. */
static void reap_strays(double grace)
{
    double end = now() + grace;
    for (;;) {
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
        pid_t kids[256];
        int n = mpt_proc_children(getpid(), kids, 0, 256);
        if (n == 0)
            return;
        if (now() > end) {
            for (int i = 0; i < n; i++) {
                char comm[64] = "?";
                mpt_proc_state_name(kids[i], comm, sizeof comm);
                leak("process %d (%s) still running after the program exited", (int)kids[i], comm);
                kill(kids[i], SIGKILL);
            }
            /* Their own children come to us next; take them all down. */
            end = now() + 5;
            while (now() < end) {
                while (waitpid(-1, NULL, WNOHANG) > 0)
                    ;
                n = mpt_proc_children(getpid(), kids, 0, 256);
                if (n == 0)
                    return;
                for (int i = 0; i < n; i++)
                    kill(kids[i], SIGKILL);
                usleep(10000);
            }
            return;
        }
        usleep(5000);
    }
}

/* Signals that end the wrapper (timeout(1), a user's ^C) go to the test
 * first, so that it ends and its leftovers are still collected. */
static volatile pid_t test_pid;

static void forward(int sig)
{
    if (test_pid > 0)
        kill(test_pid, sig);
}

static void usage(void)
{
    fprintf(stderr, "usage: mp_leakcheck [--no-ptrace] [--grace SECONDS] -- program [args...]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    bool use_ptrace = true;
    double grace = 3.0;
    int i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--no-ptrace") == 0)
            use_ptrace = false;
        else if (strcmp(argv[i], "--grace") == 0 && i + 1 < argc)
            grace = strtod(argv[++i], NULL);
        else if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else
            break;
    }
    if (i >= argc)
        usage();
    if (getenv("MP_LEAKCHECK_NO_PTRACE") != NULL)
        use_ptrace = false;

    prctl(PR_SET_CHILD_SUBREAPER, 1);
    bool isolated = private_shm();
    struct names shm_before = {0};
    if (!isolated)
        list_dir("/dev/shm", &shm_before);

    /* The descriptors the program starts with are ours to pass, not its
     * leaks: whatever is open here without close-on-exec. */
    struct names fds_at_start = {0};
    {
        struct names all;
        list_dir("/proc/self/fd", &all);
        for (int k = 0; k < all.n; k++) {
            int fd = atoi(all.v[k]);
            int fl = fcntl(fd, F_GETFD);
            if (fl >= 0 && !(fl & FD_CLOEXEC))
                fds_at_start.v[fds_at_start.n++] = strdup(all.v[k]);
        }
        names_free(&all);
    }

    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("mp_leakcheck: fork");
        return 1;
    }
    if (pid == 0) {
        /* Should the wrapper be SIGKILLed (CTest's timeout), the test goes
         * with it instead of running on unwatched. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (use_ptrace) {
            if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0)
                _exit(127);
            raise(SIGSTOP);
        }
        execvp(argv[i], argv + i);
        fprintf(stderr, "mp_leakcheck: %s: %s\n", argv[i], strerror(errno));
        _exit(127);
    }
    test_pid = pid;
    struct sigaction sa = {.sa_handler = forward};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    int st;
    if (use_ptrace) {
        st = run_traced(pid, &fds_at_start);
    } else {
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
    }
    reap_strays(grace);

    if (isolated) {
        struct names left;
        list_dir("/dev/shm", &left);
        for (int k = 0; k < left.n; k++)
            leak("/dev/shm/%s left behind", left.v[k]);
        names_free(&left);
    } else {
        struct names after;
        list_dir("/dev/shm", &after);
        for (int k = 0; k < after.n; k++)
            if (!has_name(&shm_before, after.v[k]))
                leak("/dev/shm/%s appeared and was left behind", after.v[k]);
        names_free(&after);
        names_free(&shm_before);
    }
    names_free(&fds_at_start);

    int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (code != 0)
        return code;
    if (leaks > 0) {
        fprintf(stderr, "mp_leakcheck: %s left %d thing(s) behind\n", argv[i], leaks);
        return 1;
    }
    return 0;
}
