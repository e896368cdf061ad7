/* supervisor.c - the pool's supervisor process: forks the workers, fails
 * the chunk of a worker that dies or overruns task_timeout, replaces
 * workers, and gives up (MP_EBROKEN) when workers cannot even start.
 *
 * Why a supervisor process. Something must notice a dead worker, fail the
 * chunk it held and fork its replacement. A thread in the user's process
 * could watch pidfds, but it would have to fork replacements from a helper
 * thread while the user's threads may hold locks (malloc, stdio, their own)
 * that the child then finds held forever. A small supervisor process,
 * forked once from the thread that calls mp_pool_new, is single-threaded
 * for its whole life: every worker, first or replacement, is forked from
 * it, which is always safe, and the user's process gets no thread at all
 * unless callbacks are used. The supervisor only polls pidfds and takes the
 * pool lock; it runs no user code. If it is killed, its workers die with it
 * (PR_SET_PDEATHSIG) and waiters find it dead through the wait layer's
 * liveness check and fail the pending work (mp__pool_check_alive), so
 * nothing hangs. It watches the creating process with a pidfd too (not
 * PR_SET_PDEATHSIG, which fires when the creating *thread* exits) and
 * takes the workers down when that process ends.
 *
 * Time limits. Each worker stamps the start of its chunk in its slot; the
 * supervisor's poll timeout is the earliest running chunk's limit (or one
 * whole limit when none runs: a chunk that starts meanwhile has its limit
 * no earlier). A chunk past it fails with MP__CH_TIMEDOUT and its worker
 * is killed and replaced; the results it made are freed once it is dead.
 *
 * The Linux-only calls live in os/pidfd.c and os/pdeath.c. Without pidfds
 * (before Linux 5.3, or on a POSIX port) the same loop works by polling
 * every MP__SUP_RETRY_SECONDS: every round reaps with waitid(WNOHANG) and
 * compares getppid() with the creator. */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mp/error.h"
#include "os/clock.h"
#include "os/futex.h"
#include "os/log.h"
#include "os/pdeath.h"
#include "os/pidfd.h"
#include "pool/pool.h"
#include "sync/wait.h"

/* What the supervisor keeps: one pollfd per worker place (pidfd, or -1),
 * plus the creator's pidfd last. Allocated by the creator before the fork
 * so the supervisor never needs malloc. */
struct sup {
    mp_pool *p;
    struct pollfd *fds;         /* nworkers + 1 */
    sigset_t user_mask;         /* the creator's signal mask, restored in workers */
    struct sigaction user_chld; /* the creator's SIGCHLD action, restored in workers */
    bool no_pidfd;              /* kernel without pidfd_open: poll with a timeout */
    uint32_t early;             /* workers in a row that died before their initializer ended */
    uint32_t inits_seen;        /* p->inits at the last early death */
};

/* The forked worker's first steps, then its life (worker.c). */
static _Noreturn void worker_start(struct sup *sv, int idx, pid_t sup_pid)
{
    mp_pool *p = sv->p;
    if (!mp__die_with_parent(sup_pid))
        _exit(0);
    /* The supervisor's descriptors are not ours to keep. */
    for (int i = 0; i <= p->nworkers; i++)
        if (sv->fds[i].fd >= 0)
            close(sv->fds[i].fd);
    sigaction(SIGCHLD, &sv->user_chld, NULL);
    sigprocmask(SIG_SETMASK, &sv->user_mask, NULL);
    mp__pool_worker_main(p, idx);
}

/* Fork the worker for place idx. Returns 0 or -errno (the supervisor
 * retries later). */
static int spawn(struct sup *sv, int idx)
{
    mp_pool *p = sv->p;
    struct mp__pool_slot *s = &p->slots[idx];
    atomic_store(&s->sleep, MP__W_ACTIVE);
    atomic_store(&s->inited, 0);
    atomic_store(&s->run_since, 0);
    pid_t me = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0)
        worker_start(sv, idx, me);
    atomic_fetch_add(&p->forks, 1);
    int fd = sv->no_pidfd ? -1 : mp__pidfd_open(pid);
    sv->fds[idx].fd = fd < 0 ? -1 : fd;
    sv->fds[idx].events = POLLIN;
    mp__pool_lock(p, NULL);
    s->pid = pid;
    s->started++;
    bool term = atomic_load(&p->state) == MP__POOL_TERMINATE;
    mp__pool_unlock(p);
    if (term) /* terminate ran before it could see this pid */
        kill(pid, SIGKILL);
    return 0;
}

/* Fail the pool for good: workers cannot start. Everything queued fails
 * with MP_EBROKEN, and so will what comes later (mp__pool_sweep_broken). */
static void set_broken(mp_pool *p)
{
    mp__log(MP_LOG_WARN,
            "pool: %d workers in a row died before their initializer returned; no more forks, "
            "its work fails with MP_EBROKEN",
            MP__EARLY_DEATHS_PER_PLACE * p->nworkers);
    mp__pool_lock(p, NULL);
    atomic_store(&p->broken, MP__BROKEN_START);
    mp__pool_fail_all(p, MP__CH_BROKEN);
    mp__pool_unlock(p);
}

/* A worker ended: forget its pid (before reaping, so nobody can signal a
 * recycled pid), fail the chunk it held, count a death before the
 * initializer ended, then reap it. */
static void worker_ended(struct sup *sv, pid_t pid)
{
    mp_pool *p = sv->p;
    struct mp_async *j = NULL;
    bool done = false, inited = true;
    const char *why = "";
    int idx = -1;
    mp__pool_lock(p, NULL);
    for (int i = 0; i < p->nworkers; i++) {
        struct mp__pool_slot *s = &p->slots[i];
        if (s->pid != pid)
            continue;
        idx = i;
        s->pid = 0;
        mp__pool_spinner_gone(p, i);
        inited = atomic_load(&s->inited) != 0;
        uint32_t c = s->chunk;
        j = mp__pool_fail_claim(p, i, MP__CH_DIED, &done);
        if (j != NULL)
            why = atomic_load(&j->chunk_st[c]) == MP__CH_DIED ? " while running a task, which "
                                                                "fails with MP_EWORKERDIED"
                  : atomic_load(&j->chunk_st[c]) == MP__CH_TIMEDOUT
                      ? " after its task ran past task_timeout"
                      : "";
        break;
    }
    mp__pool_unlock(p);
    if (j != NULL)
        mp__pool_release(&(struct mp__claim){.job = j}, done);
    if (idx >= 0 && sv->fds[idx].fd >= 0) {
        close(sv->fds[idx].fd);
        sv->fds[idx].fd = -1;
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    mp__log(*why ? MP_LOG_WARN : MP_LOG_INFO,
            "pool worker %d (pid %d) %s%s; replaced unless the pool is closing", idx, (int)pid,
            mp__exit_describe(mp__exitcode(st)).s, why);
    if (idx < 0 || inited)
        return;
    /* A run of early deaths ends when any worker gets through. */
    uint32_t inits = atomic_load(&p->inits);
    if (inits != sv->inits_seen) {
        sv->inits_seen = inits;
        sv->early = 0;
    }
    if (++sv->early >= MP__EARLY_DEATHS_PER_PLACE * (uint32_t)p->nworkers &&
        atomic_load(&p->broken) == MP__BROKEN_NO)
        set_broken(p);
}

/* Reap every ended worker; waitid(WNOWAIT) names it before it is reaped. */
static void reap_workers(struct sup *sv)
{
    for (;;) {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0)
            return;
        worker_ended(sv, si.si_pid);
    }
}

/* Milliseconds until the earliest running chunk reaches the time limit
 * (rounded up), or one whole limit when no chunk runs. */
static int limit_ms(mp_pool *p)
{
    double now = mp__now(), first = INFINITY;
    for (int i = 0; i < p->nworkers; i++) {
        uint64_t since = atomic_load(&p->slots[i].run_since);
        if (since != 0 && (double)since * 1e-9 + p->task_timeout < first)
            first = (double)since * 1e-9 + p->task_timeout;
    }
    double left = isinf(first) ? p->task_timeout : first - now;
    if (left <= 0)
        return 0;
    return left > INT32_MAX / 1000 ? INT32_MAX : (int)ceil(left * 1000);
}

/* Fail and kill every worker whose chunk has run past the time limit. The
 * claim stays in the slot until the worker is reaped, since a worker that
 * is still alive may be writing the results its claim owns. */
static void check_limits(mp_pool *p)
{
    double now = mp__now();
    for (int i = 0; i < p->nworkers; i++) {
        struct mp__pool_slot *s = &p->slots[i];
        uint64_t since = atomic_load(&s->run_since);
        if (since == 0 || (double)since * 1e-9 + p->task_timeout > now)
            continue;
        struct mp_async *j = NULL;
        bool done = false;
        mp__pool_lock(p, NULL);
        /* Still the same chunk, still running? */
        if (s->pid > 0 && s->job != NULL && atomic_load(&s->run_since) == since &&
            atomic_load(&s->job->chunk_st[s->chunk]) == (MP__CH_CLAIMED | (uint32_t)i)) {
            j = s->job;
            done = mp__pool_finish(p, j, s->chunk, MP__CH_TIMEDOUT);
            kill(s->pid, SIGKILL);
            mp__log(MP_LOG_WARN,
                    "pool worker %d (pid %d): a chunk ran past task_timeout (%g s); "
                    "killed, its items fail with MP_ETIMEDOUT",
                    i, (int)s->pid, p->task_timeout);
        }
        mp__pool_unlock(p);
        /* The claim's reference, held in the slot, keeps j. */
        if (j != NULL && done)
            mp__job_completed_wake(j);
        else if (j != NULL)
            mp__job_chunk_wake(j);
    }
}

/* SIGKILL the live workers; the caller holds the pool lock, so no slot's
 * pid can be forgotten and recycled meanwhile. */
static void kill_workers(mp_pool *p)
{
    for (int i = 0; i < p->nworkers; i++)
        if (p->slots[i].pid > 0)
            kill(p->slots[i].pid, SIGKILL);
}

static _Noreturn void sup_exit(mp_pool *p)
{
    /* Work submitted after the last worker left would wait for nobody:
     * it fails now, and later submitters find the supervisor gone. */
    mp__pool_lock(p, NULL);
    uint32_t b = atomic_load(&p->broken);
    mp__pool_fail_all(p, b == MP__BROKEN_START ? MP__CH_BROKEN : MP__CH_CLOSED);
    atomic_store(&p->sup_state, MP__SUP_EXITED);
    mp__pool_unlock(p);
    mp__futex_wake(&p->sup_state, INT32_MAX);
    _exit(0);
}

/* Terminate everything: the creating process is gone. */
static _Noreturn void parent_gone(mp_pool *p)
{
    mp__pool_lock(p, NULL);
    atomic_store(&p->state, MP__POOL_TERMINATE);
    kill_workers(p);
    mp__pool_unlock(p);
    while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
        ;
    sup_exit(p);
}

/* The supervisor's loop: keep every place filled while the pool runs (or
 * is closed with work left), fail the chunks of dead and overrunning
 * workers, and leave once the pool is closed or terminated and the last
 * worker is gone. */
static _Noreturn void supervisor_main(struct sup *sv)
{
    mp_pool *p = sv->p;
    int n = p->nworkers;
    pid_t creator = p->creator;
    /* With SIGCHLD ignored the kernel would reap the workers itself and
     * we could not tell which chunk died: take the default back. */
    sigaction(SIGCHLD, &(struct sigaction){.sa_handler = SIG_DFL}, &sv->user_chld);
    int cfd = mp__pidfd_open(creator);
    if (cfd < 0)
        cfd = -1;
    if (getppid() != creator)
        parent_gone(p); /* the creator died before we could watch it */
    sv->no_pidfd = cfd < 0;
    sv->fds[n].fd = cfd;
    sv->fds[n].events = POLLIN;
    for (int i = 0; i < n; i++)
        sv->fds[i].fd = -1;
    p->sup_pid = getpid();

    for (int i = 0; i < n; i++) {
        int rc = spawn(sv, i);
        if (rc < 0) {
            /* Startup failed: take down what started, report, leave. */
            mp__pool_lock(p, NULL);
            atomic_store(&p->state, MP__POOL_TERMINATE);
            kill_workers(p);
            mp__pool_unlock(p);
            for (int k = 0; k < i; k++)
                while (waitpid(-1, NULL, 0) < 0 && errno == EINTR)
                    ;
            atomic_store(&p->sup_err, rc);
            sup_exit(p);
        }
    }
    atomic_store(&p->sup_state, MP__SUP_RUNNING);
    mp__futex_wake(&p->sup_state, INT32_MAX);

    bool retry = false;
    for (;;) {
        bool broken = atomic_load(&p->broken) != MP__BROKEN_NO;
        /* Hook for the cluster: slots past the workers' (its dispatcher)
         * commit and the pool closes with no descriptor to wake us, and
         * there may be no worker at all. */
        bool others = p->nslots > n;
        int timeout = (sv->no_pidfd || retry || broken || others)
                          ? (int)(MP__SUP_RETRY_SECONDS * 1000)
                          : -1;
        if (p->task_timeout > 0) {
            int ms = limit_ms(p);
            if (timeout < 0 || ms < timeout)
                timeout = ms;
        }
        (void)poll(sv->fds, (nfds_t)n + 1, timeout); /* EINTR: look anyway */
        if (getppid() != creator || (cfd >= 0 && (sv->fds[n].revents & POLLIN)))
            parent_gone(p);
        reap_workers(sv);
        if (p->task_timeout > 0)
            check_limits(p);

        mp__pool_lock(p, NULL);
        uint32_t state = atomic_load(&p->state);
        broken = atomic_load(&p->broken) != MP__BROKEN_NO;
        if (broken)
            mp__pool_fail_all(p, MP__CH_BROKEN); /* work submitted since the last look */
        bool refill = !broken && (state == MP__POOL_RUN ||
                                  (state == MP__POOL_CLOSE && mp__pool_work_visible(p)));
        int live = 0;
        for (int i = 0; i < n; i++)
            live += p->slots[i].pid > 0;
        /* A closed pool's work claimed by another kind of claimer (the
         * cluster's dispatcher) is still running; terminate waits for
         * nobody (its chunks failed already). */
        int others_busy = 0;
        for (int i = n; state == MP__POOL_CLOSE && i < p->nslots; i++)
            others_busy += p->slots[i].job != NULL;
        if (state == MP__POOL_TERMINATE)
            kill_workers(p);
        mp__pool_unlock(p);

        retry = false;
        if (refill)
            for (int i = 0; i < n; i++)
                if (p->slots[i].pid == 0) {
                    if (spawn(sv, i) < 0)
                        retry = true;
                    else
                        live++;
                }
        if (live == 0 && others_busy == 0 && state != MP__POOL_RUN && !refill)
            sup_exit(p);
    }
}

int mp__pool_start_supervisor(mp_pool *p)
{
    struct sup sv = {.p = p};
    sv.fds = calloc((size_t)p->nworkers + 1, sizeof *sv.fds);
    if (sv.fds == NULL)
        return -ENOMEM;
    /* Buffered output would otherwise be inherited and printed again by
     * every worker that flushes at exit. */
    fflush(NULL);
    /* The supervisor runs with every signal blocked: a handler of the
     * user's program must never run there. Workers get the mask back. */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &sv.user_mask);
    pid_t pid = fork();
    if (pid == 0)
        supervisor_main(&sv);
    int err = pid < 0 ? -errno : 0;
    pthread_sigmask(SIG_SETMASK, &sv.user_mask, NULL);
    free(sv.fds);
    if (err != 0)
        return err;
    p->sup_pid = pid;

    /* Wait for the workers to be forked; a supervisor that died on the
     * way is reaped and reported. */
    mp__deadline forever = {.forever = true};
    for (;;) {
        uint32_t s = atomic_load(&p->sup_state);
        if (s != MP__SUP_STARTING)
            break;
        if (mp__wait(&p->sup_state, s, &forever, mp__alive_tid, (void *)(intptr_t)pid) ==
            MP_EOWNERDEAD) {
            while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
            return -EAGAIN;
        }
    }
    err = atomic_load(&p->sup_err);
    if (err != 0) {
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        return err;
    }
    return 0;
}
