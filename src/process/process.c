/* process.c - mp_process: Python's multiprocessing.Process on fork(2). */
#include "mp/process.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "os/clock.h"
#include "os/log.h"
#include "os/pdeath.h"
#include "os/pidfd.h"
#include "os/thread.h"
#include "sync/lock.h"
#include "sync/wait.h"
#include "mp/error.h"

/* What a process object stands for. */
enum { KIND_CHILD, KIND_MAIN, KIND_PARENT };

/* A process object lives in the memory of the process that created it (a
 * forked child holds a private copy). Started objects are also entries of
 * this process's children registry, which outlives mp_process_free: a
 * child whose object was freed while it ran stays tracked until it is
 * reaped, so the exit-time terminate/join still sees it. */
struct mp_process {
    struct mp_process *prev, *next; /* registry links, while registered */
    mp_target_fn target;            /* run in the child */
    void *arg;                      /* target's argument */
    const char *name;               /* "Process-1:2" or the user's name */
    const char *ident;              /* "1:2": the counters from the main program down */
    pid_t creator;                  /* the only process that may start/join it */
    pid_t pid;                      /* 0 until forked */
    int pidfd;                      /* -1 until forked; closed by free */
    int status;                     /* exit code once reaped: >= 0, or -signal */
    unsigned char kind;             /* KIND_* */
    bool daemon;                    /* terminated at the creator's exit; dies with it */
    bool started;                   /* start was called (and did not fail) */
    bool reaped;                    /* status is known (parent object: it is gone) */
    bool registered;                /* linked into the registry */
    bool freed;                     /* the user freed it while it ran */
    char buf[];                     /* storage for ident and name */
};

/* Seconds a daemon child has after its SIGTERM at exit before it gets
 * SIGKILL: enough for a handler to clean up, short enough that a daemon
 * ignoring SIGTERM does not hold up its parent's exit for long. */
#define EXIT_TERM_GRACE 1.0

static mp_process main_proc = {
    .name = "MainProcess", .ident = "", .pidfd = -1, .kind = KIND_MAIN, .started = true};
static mp_process parent_proc = {.ident = "", .pidfd = -1, .kind = KIND_PARENT};

static mp_process *current = &main_proc; /* mp_current_process() */
static mp_process *parent;               /* mp_parent_process(): NULL in the main program */
static atomic_uint counter;              /* numbers handed out by this process */

/* Guards the registry and every started object's pid/status fields. Never
 * held across fork: the atfork handlers take it around every fork so a
 * child never inherits it locked. */
static mp__lock reg_lock; /* libmp's futex lock, used here in private memory */
static mp_process *children; /* started objects whose pidfd is still open */
static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;

/* mp__pid() must be refreshed in every forked child, whoever forks: its
 * atfork handler is registered here too, in case nothing else in a static
 * link did (registering twice is harmless: pthread_once). */
__attribute__((constructor)) static void process_at_load(void)
{
    mp__thread_init();
}

static void lock(void)
{
    (void)mp__lock_hold(&reg_lock); /* a holder of this process cannot die alone */
}

static void unlock(void)
{
    (void)mp__lock_release(&reg_lock);
}

static void reg_add(mp_process *p)
{
    p->prev = NULL;
    p->next = children;
    if (children != NULL)
        children->prev = p;
    children = p;
    p->registered = true;
}

static void reg_del(mp_process *p)
{
    if (!p->registered)
        return;
    if (p->prev != NULL)
        p->prev->next = p->next;
    else
        children = p->next;
    if (p->next != NULL)
        p->next->prev = p->prev;
    p->registered = false;
}

/* Drops a registered object for good: unlinks it, closes its pidfd and
 * frees it. Lock held. */
static void destroy_locked(mp_process *p)
{
    reg_del(p);
    if (p->pidfd >= 0)
        close(p->pidfd);
    free(p);
}

/* Collects the exit status if the child has ended, without blocking.
 * Returns true once the status is known. Lock held: that, and the reaped
 * flag, make sure a pid is waited for once, so it cannot be reused under
 * us. */
static bool try_reap_locked(mp_process *p)
{
    if (p->reaped)
        return true;
    if (p->pid <= 0)
        return false;
    int st;
    pid_t r;
    do
        r = waitpid(p->pid, &st, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return false;
    if (r > 0) {
        p->status = mp__exitcode(st);
        mp__log(MP_LOG_INFO, "%s (pid %d) %s", p->name, (int)p->pid,
                mp__exit_describe(p->status).s);
    } else {
        p->status = 255; /* ECHILD: someone else took the status (SIGCHLD ignored) */
        mp__log(MP_LOG_INFO, "%s (pid %d) ended; its exit status was collected elsewhere", p->name,
                (int)p->pid);
    }
    p->reaped = true;
    return true;
}

/* reap_done is mp__poll's question for a child without a pidfd: has it
 * ended (and been reaped)? */
static bool reap_done(void *arg)
{
    mp_process *p = arg;
    lock();
    bool done = try_reap_locked(p);
    unlock();
    return done;
}

/* Waits until the child has ended and reaps it, or the deadline passes:
 * 0 or MP_ETIMEDOUT. A registry entry whose object the user freed is
 * destroyed once reaped (p is then gone). The pidfd is polled first, so a
 * join costs a poll and one waitpid. */
static int wait_reap(mp_process *p, const mp__deadline *d)
{
    bool check = p->pidfd < 0;
    for (;;) {
        lock();
        bool done = check ? try_reap_locked(p) : p->reaped;
        if (done && p->freed)
            destroy_locked(p);
        unlock();
        if (done)
            return 0;
        int rc = p->pidfd >= 0 ? mp__pidfd_wait(p->pidfd, d) : -ENOSYS;
        if (rc == MP_ETIMEDOUT)
            return rc;
        check = true;
        if (rc != 0) {
            /* No usable pidfd (Linux < 5.3): look at the status now and
             * then, through the wait layer's polling wait. */
            if (mp__poll(reap_done, p, d) != 0)
                return MP_ETIMEDOUT;
        }
    }
}

static int send_signal(mp_process *p, int sig)
{
    int rc = 0;
    lock();
    if (!p->reaped) {
        /* The lock keeps the pid from being reaped (and reused) meanwhile. */
        rc = p->pidfd >= 0 ? mp__pidfd_send_signal(p->pidfd, sig)
                           : (kill(p->pid, sig) < 0 ? -errno : 0);
        if (rc == -ESRCH)
            rc = 0;
    }
    unlock();
    return rc;
}

/* The first registry entry that has not been reaped and whose daemon flag
 * is daemon, or NULL. Lock held. */
static mp_process *first_running_locked(bool daemon)
{
    for (mp_process *q = children; q != NULL; q = q->next)
        if (!q->reaped && q->daemon == daemon)
            return q;
    return NULL;
}

/* Python's util._exit_function: when a process leaves (main program's exit,
 * or a child's target returning), its daemon children get SIGTERM and every
 * child is joined. Beyond Python, a daemon that is still there a second
 * after its SIGTERM gets SIGKILL, so a daemon ignoring SIGTERM cannot hang
 * the exit. */
static void exit_children(void)
{
    lock();
    if (first_running_locked(false) == NULL && first_running_locked(true) == NULL) {
        unlock(); /* the common case: nothing to wait for, no clock read */
        return;
    }
    for (mp_process *q = children; q != NULL; q = q->next) {
        if (q->reaped || !q->daemon)
            continue;
        mp__log(MP_LOG_INFO, "at exit: terminating daemon %s (pid %d)", q->name, (int)q->pid);
        if (q->pidfd >= 0)
            mp__pidfd_send_signal(q->pidfd, SIGTERM);
        else
            kill(q->pid, SIGTERM);
    }
    unlock();
    mp__deadline forever, grace;
    mp__deadline_init(&forever, MP_FOREVER);
    mp__deadline_init(&grace, EXIT_TERM_GRACE);
    for (int daemon = 0; daemon <= 1; daemon++) {
        for (;;) {
            lock();
            mp_process *q = first_running_locked(daemon);
            unlock();
            if (q == NULL)
                break;
            if (daemon && wait_reap(q, &grace) == 0)
                continue;
            if (daemon) {
                mp__log(MP_LOG_WARN,
                        "at exit: daemon %s (pid %d) outlived SIGTERM by %g s: SIGKILL", q->name,
                        (int)q->pid, EXIT_TERM_GRACE);
                send_signal(q, SIGKILL);
            } else {
                mp__log(MP_LOG_DEBUG, "at exit: joining %s (pid %d)", q->name, (int)q->pid);
            }
            wait_reap(q, &forever);
        }
    }
}

/* Python's _cleanup, run by start: reaps children that have ended so they
 * do not linger as zombies (those whose object was freed are dropped). A
 * waitid(WNOWAIT) probe skips the scan, and its system calls, when no
 * child at all is waiting to be reaped. */
static void reap_finished(void)
{
    lock();
    mp_process *q = first_running_locked(false);
    if (q == NULL)
        q = first_running_locked(true);
    unlock();
    if (q == NULL)
        return;
    siginfo_t si = {0};
    if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0)
        return;
    mp_active_children(NULL, 0);
}

/* Runs in the parent before every fork, and after it in both processes:
 * the registry lock is held across the fork so the child's copy is in a
 * known state, then the child forgets the parent's children (they are not
 * its own) and closes their pidfds. */
static void atfork_prepare(void)
{
    lock();
}

static void atfork_parent(void)
{
    unlock();
}

static void atfork_child(void)
{
    mp_process *q = children;
    while (q != NULL) {
        mp_process *next = q->next;
        if (q->pidfd >= 0)
            close(q->pidfd);
        q->pidfd = -1;
        q->registered = false;
        q->prev = q->next = NULL;
        if (q->freed)
            free(q);
        q = next;
    }
    children = NULL;
    unlock();
}

/* A child's last calls, _exit and __fpending, are to functions its parent
 * never calls. Through the lazily bound PLT of a program (or of libmp.so)
 * each child would look them up anew, since a child's binding never
 * reaches its parent's memory: a dozen page faults in every child, about
 * 20 us each on a VM, which made a short child a third slower than a
 * bare fork. So __fpending is called once here, in the parent, and _exit
 * is called through its address, which a position-independent program
 * binds when it loads. */
static void (*child_exit)(int);

static void install_hooks(void)
{
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
    atexit(exit_children);
    child_exit = _exit;
    (void)__fpending(stdout);
}

/* The forked child: becomes p, runs the target, leaves like Python's
 * _bootstrap (children cleaned up, stdio flushed) through _exit, so the
 * parent's atexit handlers never run here. */
static _Noreturn void child_main(mp_process *p, pid_t ppid, const char *pname)
{
    if (p->daemon && !mp__die_with_parent(ppid))
        _exit(1);
    if (parent_proc.pidfd >= 0)
        close(parent_proc.pidfd); /* our grandparent's, inherited */
    /* Every page written here is copied (fork is copy-on-write), which is
     * most of a short child's cost: so no malloc, and no write into p. The
     * parent's name stays where it is (free leaves that object alone). */
    parent_proc = (mp_process){.name = pname,
                               .ident = "",
                               .creator = mp__pid(),
                               .pid = ppid,
                               .pidfd = -1,
                               .kind = KIND_PARENT};
    parent = &parent_proc;
    current = p;
    counter = 0;
    mp__log_set_name(p->name);
    int code = p->target(p->arg);
    exit_children();
    /* Python flushes sys.stdout and sys.stderr. Locking a stream writes to
     * its page, so look first; other streams were empty at the fork (start
     * flushed them) and what the target left in them is dropped, as _exit
     * does. */
    if (__fpending(stdout) > 0)
        fflush(stdout);
    if (__fpending(stderr) > 0)
        fflush(stderr);
    child_exit(code);
    _exit(code); /* not reached */
}

mp_process *mp_process_new(mp_target_fn target, void *arg, const mp_process_opts *opts)
{
    if (target == NULL) {
        errno = EINVAL;
        return NULL;
    }
    const char *prefix = current->ident;
    const char *uname =
        opts != NULL && opts->name != NULL && opts->name[0] != '\0' ? opts->name : NULL;
    size_t ilen = strlen(prefix) + 12; /* ":" + up to 10 digits + NUL */
    size_t nlen = uname != NULL ? strlen(uname) + 1 : sizeof "Process-" + ilen;
    mp_process *p = calloc(1, sizeof *p + ilen + nlen);
    if (p == NULL)
        return NULL;
    /* Python numbers every object, named or not: ident is the creator's
     * ident, ":" and the number ("3", "1:2"), the default name "Process-"
     * and the ident. (No snprintf: its deep stack frame is one more page
     * for a forking parent to copy at every start.) */
    unsigned n = atomic_fetch_add(&counter, 1) + 1;
    char *ident = p->buf, *name = p->buf + ilen;
    char digits[12], *d = digits + sizeof digits;
    *--d = '\0';
    do
        *--d = (char)('0' + n % 10);
    while ((n /= 10) != 0);
    size_t plen = strlen(prefix);
    memcpy(ident, prefix, plen);
    if (plen > 0)
        ident[plen++] = ':';
    size_t dlen = (size_t)(digits + sizeof digits - d); /* its NUL included */
    memcpy(ident + plen, d, dlen);
    if (uname != NULL) {
        memcpy(name, uname, nlen);
    } else {
        memcpy(name, "Process-", 8);
        memcpy(name + 8, ident, plen + dlen);
    }
    p->ident = ident;
    p->name = name;
    p->target = target;
    p->arg = arg;
    p->creator = mp__pid();
    p->pidfd = -1;
    p->kind = KIND_CHILD;
    p->daemon = opts != NULL && opts->daemon;
    return p;
}

int mp_process_start(mp_process *p)
{
    if (p == NULL)
        return MP_EINVAL;
    if (p->kind != KIND_CHILD || p == current || p->creator != mp__pid() || current->daemon)
        return MP_ESTATE;
    pthread_once(&hooks_once, install_hooks);
    lock();
    bool again = p->started;
    p->started = true; /* claimed: a second start in another thread fails */
    unlock();
    if (again)
        return MP_ESTATE;
    reap_finished();
    /* Whatever sits in a stdio buffer now would be printed by both
     * processes. */
    fflush(NULL);
    pid_t me = mp__pid();
    const char *myname = current->name;
    pid_t pid = fork();
    if (pid == 0)
        child_main(p, me, myname);
    if (pid < 0) {
        int err = errno;
        lock();
        p->started = false;
        unlock();
        return -err;
    }
    int fd = mp__pidfd_open(pid);
    lock();
    p->pid = pid;
    p->pidfd = fd >= 0 ? fd : -1;
    reg_add(p);
    unlock();
    mp__log(MP_LOG_INFO, "started %s (pid %d)%s", p->name, (int)pid, p->daemon ? ", a daemon" : "");
    return 0;
}

/* The parent object's pidfd, opened on first use (the start path stays
 * free of it). -1 once the parent is known to be gone. Lock held. */
static int parent_pidfd_locked(mp_process *pp)
{
    if (pp->pidfd < 0 && !pp->reaped) {
        int fd = mp__pidfd_open(pp->pid);
        /* Our parent cannot be reaped before us being reparented, so if
         * getppid still names it after the open, the fd is the parent's and
         * not a newcomer's with a reused pid. */
        if (fd >= 0 && pp->creator == mp__pid() && getppid() != pp->pid) {
            close(fd);
            fd = -ESRCH;
        }
        if (fd >= 0)
            pp->pidfd = fd;
        else if (fd == -ESRCH)
            pp->reaped = true;
        else
            return fd;
    }
    return pp->reaped ? -1 : pp->pidfd;
}

/* Whether p is a child this process started (and not the caller itself):
 * the only kind it may join or signal, as in Python. */
static bool own_started_child(mp_process *p)
{
    if (p->kind != KIND_CHILD || p == current || p->creator != mp__pid())
        return false;
    lock();
    bool ready = p->started && p->pid > 0;
    unlock();
    return ready;
}

int mp_process_join(mp_process *p, double timeout)
{
    mp__deadline d;
    if (p == NULL || mp__deadline_init(&d, timeout) != 0)
        return MP_EINVAL;
    if (p->kind == KIND_PARENT) {
        /* Python's _ParentProcess.join: wait for the parent to end. */
        lock();
        int fd = parent_pidfd_locked(p);
        unlock();
        return fd < -1 ? fd : fd < 0 ? 0 : mp__pidfd_wait(fd, &d);
    }
    if (!own_started_child(p))
        return MP_ESTATE;
    return wait_reap(p, &d);
}

bool mp_process_is_alive(mp_process *p)
{
    if (p == NULL)
        return false;
    if (p == current)
        return true;
    if (p->kind == KIND_PARENT) {
        lock();
        int fd = parent_pidfd_locked(p);
        unlock();
        if (fd < 0)
            return false;
        mp__deadline now;
        mp__deadline_init(&now, 0);
        return mp__pidfd_wait(fd, &now) == MP_ETIMEDOUT;
    }
    if (p->kind != KIND_CHILD || p->creator != mp__pid())
        return false;
    lock();
    bool alive = p->started && p->pid > 0 && !try_reap_locked(p);
    unlock();
    return alive;
}

static int signal_child(mp_process *p, int sig)
{
    if (p == NULL)
        return MP_EINVAL;
    if (!own_started_child(p))
        return MP_ESTATE;
    return send_signal(p, sig);
}

int mp_process_terminate(mp_process *p)
{
    return signal_child(p, SIGTERM);
}

int mp_process_kill(mp_process *p)
{
    return signal_child(p, SIGKILL);
}

int mp_process_exitcode(mp_process *p, int *code)
{
    /* A query may reap, as Python's poll(): p is not const. */
    if (p == NULL || code == NULL)
        return MP_EINVAL;
    if (p->kind != KIND_CHILD || p == current)
        return MP_ESTATE;
    lock();
    bool known = p->reaped || (p->creator == mp__pid() && try_reap_locked(p));
    int status = p->status;
    unlock();
    if (!known)
        return MP_ESTATE;
    *code = status;
    return 0;
}

pid_t mp_process_pid(const mp_process *p)
{
    if (p == NULL)
        return 0;
    if (p == current)
        return mp__pid();
    return p->pid;
}

const char *mp_process_name(const mp_process *p)
{
    return p != NULL ? p->name : NULL;
}

bool mp_process_daemon(const mp_process *p)
{
    return p != NULL && p->daemon;
}

int mp_process_set_daemon(mp_process *p, bool daemon)
{
    if (p == NULL)
        return MP_EINVAL;
    if (p->kind != KIND_CHILD || p == current)
        return MP_ESTATE;
    lock();
    int rc = p->started ? MP_ESTATE : 0;
    if (rc == 0)
        p->daemon = daemon;
    unlock();
    return rc;
}

int mp_process_sentinel(mp_process *p)
{
    if (p == NULL)
        return MP_EINVAL;
    lock();
    int fd = p->kind == KIND_PARENT ? parent_pidfd_locked(p) : p->pidfd;
    unlock();
    return fd < 0 ? -1 : fd;
}

int mp_process_repr(mp_process *p, char *buf, size_t cap)
{
    if (p == NULL || (buf == NULL && cap > 0))
        return MP_EINVAL;
    static const char *const types[] = {"Process", "_MainProcess", "_ParentProcess"};
    char status[32];
    if (p == current) {
        snprintf(status, sizeof status, "started");
    } else if (p->kind != KIND_CHILD || p->creator != mp__pid()) {
        snprintf(status, sizeof status, "unknown");
    } else {
        lock();
        bool started = p->started, done = started && try_reap_locked(p);
        int code = p->status;
        unlock();
        const char *sig = code < 0 ? mp__signal_name(-code) : NULL;
        if (!started)
            snprintf(status, sizeof status, "initial");
        else if (!done)
            snprintf(status, sizeof status, "started");
        else if (code == 0)
            snprintf(status, sizeof status, "stopped");
        else if (sig != NULL)
            snprintf(status, sizeof status, "stopped[%s]", sig);
        else
            snprintf(status, sizeof status, "stopped[%d]", code);
    }
    return snprintf(buf, cap, "<%s(%s, %s%s)>", types[p->kind], p->name, status,
                    p->daemon ? " daemon" : "");
}

void mp_process_free(mp_process *p)
{
    /* In a child, the parent's own object holds mp_parent_process()'s name. */
    if (p == NULL || p->kind != KIND_CHILD || p == current ||
        (parent != NULL && p->name == parent->name))
        return;
    lock();
    if (!p->registered) {
        /* Never started here, or a forked copy of another process's object
         * (its pidfd was closed in the fork). */
        unlock();
        free(p);
        return;
    }
    if (!try_reap_locked(p)) {
        p->freed = true; /* still running: the registry keeps it */
        unlock();
        return;
    }
    destroy_locked(p);
    unlock();
}

mp_process *mp_current_process(void)
{
    return current;
}

mp_process *mp_parent_process(void)
{
    return parent;
}

size_t mp_active_children(mp_process **out, size_t cap)
{
    if (out == NULL)
        cap = 0;
    size_t n = 0;
    lock();
    mp_process *q = children;
    while (q != NULL) {
        mp_process *next = q->next;
        if (!q->reaped) {
            if (try_reap_locked(q)) {
                if (q->freed)
                    destroy_locked(q);
            } else if (!q->freed) {
                if (n < cap)
                    out[n] = q;
                n++;
            }
        }
        q = next;
    }
    unlock();
    return n;
}

int mp_cpu_count(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        return CPU_COUNT(&set) > 0 ? CPU_COUNT(&set) : 1;
    /* More CPUs than a cpu_set_t holds: grow the set until it fits. */
    for (int ncpu = 2 * CPU_SETSIZE; errno == EINVAL && ncpu <= (1 << 20); ncpu *= 2) {
        cpu_set_t *big = CPU_ALLOC(ncpu);
        if (big == NULL)
            break;
        size_t size = CPU_ALLOC_SIZE(ncpu);
        if (sched_getaffinity(0, size, big) == 0) {
            int c = CPU_COUNT_S(size, big);
            CPU_FREE(big);
            return c > 0 ? c : 1;
        }
        CPU_FREE(big);
    }
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    return c > 0 ? (int)c : 1;
}
