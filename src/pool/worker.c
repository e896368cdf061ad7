/* pool_proc.c - the pool's processes: the supervisor and the workers.
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
 * (PR_SET_PDEATHSIG) and waiters find it dead in their periodic liveness
 * check and fail the pending work (mp__pool_check_alive), so nothing hangs.
 * It watches the creating process with a pidfd too (not PR_SET_PDEATHSIG,
 * which fires when the creating *thread* exits) and takes the workers down
 * when that process ends.
 *
 * The Linux-only calls live in internal/pidfd.c and internal/pdeath.c.
 * Without pidfds (before Linux 5.3, or on a POSIX port) the same loop
 * works by polling with a 50 ms timeout: every round reaps with
 * waitid(WNOHANG) and compares getppid() with the creator.
 *
 * Workers run chunks: claim under the pool lock, run unlocked, commit under
 * the lock. An idle worker spins briefly, then sleeps on its own futex; a
 * submitter wakes only the workers that sleep. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "os/clock.h"
#include "os/futex.h"
#include "os/log.h"
#include "pool/pool.h"
#include "os/pdeath.h"
#include "os/pidfd.h"
#include "os/alive.h"
#include "os/thread.h"
#include "mp/error.h"

/* What the supervisor keeps: one pollfd per worker place (pidfd, or -1),
 * plus the creator's pidfd last. Allocated by the creator before the fork
 * so the supervisor never needs malloc. */
struct sup {
    mp_pool *p;
    struct pollfd *fds;         /* nworkers + 1 */
    sigset_t user_mask;         /* the creator's signal mask, restored in workers */
    struct sigaction user_chld; /* the creator's SIGCHLD action, restored in workers */
    bool no_pidfd;              /* kernel without pidfd_open: poll with a timeout */
};

/* Claim up to want idle workers (spinning or sleeping) for new work: each
 * is marked active and its wake word bumped. Returns how many of them
 * sleep in the kernel and need a futex wake, with their slots in wake[]
 * (at most MP__WAKE_MAX). Called with the lock held. */
int mp__pool_claim_sleepers(mp_pool *p, uint32_t want, int *wake)
{
    int n = 0;
    for (int i = 0; i < p->nworkers && want > 0 && n < MP__WAKE_MAX; i++) {
        struct mp__pool_slot *s = &p->slots[i];
        if (atomic_load_explicit(&s->sleep, memory_order_relaxed) == MP__W_ACTIVE)
            continue;
        uint32_t old = atomic_exchange(&s->sleep, MP__W_ACTIVE);
        if (old == MP__W_ACTIVE)
            continue;
        atomic_fetch_add(&s->wake, 1);
        want--;
        if (old == MP__W_SLEEPING)
            wake[n++] = i;
    }
    return n;
}

/* The futex wakes for claimed sleepers, after the lock is released. */
void mp__pool_wake_slots(mp_pool *p, const int *wake, int n)
{
    for (int i = 0; i < n; i++)
        mp__futex_wake(&p->slots[wake[i]].wake, 1);
}

/* Wait until chunk c's arguments are copied in (the submitter copies a
 * big job after queueing it, pool_submit.c job_copy_in). True when they
 * are; false if the submitter died before copying them: nobody is left to
 * want the results, and the chunk just fails. */
static bool chunk_wait_ready(struct mp_async *j, uint32_t c)
{
    for (int k = 0; k < 256; k++) {
        if (atomic_load_explicit(&j->ready, memory_order_acquire) > c)
            return true;
        mp__pool_spin_step(k);
    }
    uint32_t seen = atomic_load(&j->ready);
    for (;;) {
        atomic_fetch_add(&j->ready_waiters, 1);
        uint32_t r = atomic_load(&j->ready);
        if (r <= c) {
            mp__deadline slice;
            mp__deadline_init(&slice, MP__CHECK_SECONDS);
            int rc = mp__futex_wait(&j->ready, r, &slice);
            r = atomic_load(&j->ready);
            /* A copy that made no progress in a whole slice: is the
             * submitter still there? */
            if (rc == MP_ETIMEDOUT && r == seen && r <= c && !mp__tid_alive(j->owner)) {
                atomic_fetch_sub(&j->ready_waiters, 1);
                return false;
            }
            seen = r;
        }
        atomic_fetch_sub(&j->ready_waiters, 1);
        if (r > c)
            return true; /* r came from a seq_cst load: it orders like acquire */
    }
}

/* Run one chunk. Results go straight into the job's slots; a failing item
 * records its code, after the chunk's codes were cleared (status[] is
 * read only for chunks marked failed, so successful chunks never touch
 * it). When results overwrite the arguments in place (job_new), the task
 * writes into a zeroed buffer of ours, so it never sees its argument
 * change under it, and the slot takes the result afterwards. A chunk runs
 * at most once (a dead worker's chunk fails), so no argument is needed
 * again once its item has run. */
static uint32_t run_chunk(struct mp_async *j, uint32_t c)
{
    size_t lo = (size_t)c * j->chunksize;
    size_t hi = lo + j->chunksize < j->n ? lo + j->chunksize : j->n;
    const char *arg = j->arg_size ? j->args + lo * j->arg_size : NULL;
    char *res = j->result_size ? j->results + lo * j->result_size : NULL;
    bool in_place = res != NULL && (const char *)res == arg;
    _Alignas(16) char tmp[MP__IN_PLACE_MAX];
    bool failed = false;
    for (size_t i = lo; i < hi; i++) {
        int rc;
        if (in_place) {
            memset(tmp, 0, j->result_size);
            rc = j->fn(arg, tmp);
            memcpy(res, tmp, j->result_size);
        } else {
            rc = j->fn(arg, res);
        }
        if (rc != 0) {
            if (!failed) {
                memset(&j->status[lo], 0, (hi - lo) * sizeof *j->status);
                failed = true;
            }
            j->status[i] = rc;
        }
        if (arg != NULL)
            arg += j->arg_size;
        if (res != NULL)
            res += j->result_size;
    }
    return failed ? MP__CH_FAILED : MP__CH_OK;
}

/* Idle: spin a little (a submitter in a loop refills the queue within
 * microseconds, and a spinning worker needs no system call to wake), then
 * sleep on the slot's futex until a submitter claims us. Called with the
 * lock held; returns with it held. */
static void worker_idle(mp_pool *p, struct mp__pool_slot *s)
{
    uint32_t w = atomic_load(&s->wake);
    atomic_store(&s->sleep, MP__W_SPINNING);
    mp__pool_unlock(p);
    double until = mp__now() + MP__SPIN_SECONDS;
    bool woken = false;
    for (int k = 0; !woken; k++) {
        woken = atomic_load_explicit(&s->wake, memory_order_acquire) != w;
        if ((k & 63) == 63 && mp__now() > until)
            break;
        mp__pool_spin_step(k);
    }
    uint32_t expect = MP__W_SPINNING;
    if (!woken && atomic_compare_exchange_strong(&s->sleep, &expect, MP__W_SLEEPING)) {
        mp__deadline forever;
        mp__deadline_init(&forever, INFINITY);
        while (atomic_load(&s->wake) == w)
            mp__futex_wait(&s->wake, w, &forever);
    }
    mp__pool_lock(p);
    atomic_store(&s->sleep, MP__W_ACTIVE);
}

/* A worker's life: initializer, then chunks until the pool closes (and the
 * queue is empty), terminates, or maxtasksperchild chunks are done. Never
 * returns: stdio is flushed and the process leaves with _exit, so no
 * atexit handler of the user's program runs twice. */
static _Noreturn void worker_main(struct sup *sv, int idx, pid_t sup_pid)
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
    if (p->initializer != NULL)
        p->initializer(p->initarg);

    struct mp__pool_slot *s = &p->slots[idx];
    size_t done = 0;
    int wake[1];
    mp__pool_lock(p);
    for (;;) {
        if (p->state == MP__POOL_TERMINATE)
            break;
        struct mp_async *j = p->head;
        if (j == NULL) {
            if (p->state == MP__POOL_CLOSE)
                break;
            worker_idle(p, s);
            continue;
        }
        /* Claim: record it first (so a death from here on fails the
         * chunk), then advance the job, then unlink a fully claimed job
         * (tail before head, so a half-done unlink leaves a valid list). */
        uint32_t c = j->next_chunk;
        atomic_fetch_add(&j->refs, 1);
        s->chunk = c;
        s->job = j;
        j->next_chunk = c + 1;
        if (c + 1 == j->nchunks) {
            if (j->next == NULL)
                p->tail = NULL;
            p->head = j->next;
        }
        /* More work and a sleeping peer: pass the wake-up on. */
        int nw = p->head != NULL ? mp__pool_claim_sleepers(p, 1, wake) : 0;
        mp__pool_unlock(p);
        mp__pool_wake_slots(p, wake, nw);

        uint32_t st = chunk_wait_ready(j, c) ? run_chunk(j, c) : MP__CH_DIED;

        mp__pool_lock(p);
        bool complete = mp__pool_chunk_finish(j, c, st);
        s->job = NULL;
        if (complete) {
            mp__pool_unlock(p);
            mp__pool_job_completed(j);
            mp__pool_job_unref(j);
            mp__pool_lock(p);
        } else {
            mp__pool_job_unref(j);
        }
        if (p->maxtasks != 0 && ++done >= p->maxtasks)
            break; /* the supervisor forks a fresh worker in this place */
    }
    mp__pool_unlock(p);
    fflush(NULL);
    _exit(0);
}

/* Fork the worker for place idx. Returns 0 or -errno (the supervisor
 * retries later). */
static int spawn(struct sup *sv, int idx)
{
    mp_pool *p = sv->p;
    struct mp__pool_slot *s = &p->slots[idx];
    atomic_store(&s->sleep, MP__W_ACTIVE);
    pid_t me = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0)
        worker_main(sv, idx, me);
    int fd = sv->no_pidfd ? -1 : mp__pidfd_open(pid);
    sv->fds[idx].fd = fd < 0 ? -1 : fd;
    sv->fds[idx].events = POLLIN;
    mp__pool_lock(p);
    s->pid = pid;
    s->started++;
    bool term = p->state == MP__POOL_TERMINATE;
    mp__pool_unlock(p);
    if (term) /* terminate ran before it could see this pid */
        kill(pid, SIGKILL);
    return 0;
}

/* A worker ended: forget its pid (before reaping, so nobody can signal a
 * recycled pid), fail the chunk it held, then reap it. */
static void worker_ended(struct sup *sv, pid_t pid)
{
    mp_pool *p = sv->p;
    struct mp_async *j = NULL;
    bool complete = false;
    int idx = -1;
    mp__pool_lock(p);
    for (int i = 0; i < p->nworkers; i++) {
        struct mp__pool_slot *s = &p->slots[i];
        if (s->pid != pid)
            continue;
        idx = i;
        s->pid = 0;
        j = s->job;
        if (j != NULL) {
            complete = mp__pool_chunk_finish(j, s->chunk, MP__CH_DIED);
            s->job = NULL;
        }
        break;
    }
    mp__pool_unlock(p);
    if (j != NULL) {
        if (complete)
            mp__pool_job_completed(j);
        mp__pool_job_unref(j); /* the dead worker's claim */
    }
    if (idx >= 0 && sv->fds[idx].fd >= 0) {
        close(sv->fds[idx].fd);
        sv->fds[idx].fd = -1;
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    mp__log(j != NULL ? MP_LOG_WARN : MP_LOG_INFO,
            "pool worker %d (pid %d) %s%s; replaced unless the pool is closing", idx, (int)pid,
            mp__exit_describe(mp__exitcode(st)).s,
            j != NULL ? " while running a task, which fails with MP_EWORKERDIED" : "");
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

/* SIGKILL the live workers of the first n slots; the caller holds the
 * pool lock, so no slot's pid can be forgotten and recycled meanwhile. */
static void kill_slots(mp_pool *p, int n)
{
    for (int i = 0; i < n; i++)
        if (p->slots[i].pid > 0)
            kill(p->slots[i].pid, SIGKILL);
}

static _Noreturn void sup_exit(mp_pool *p)
{
    atomic_store(&p->sup_state, MP__SUP_EXITED);
    mp__futex_wake(&p->sup_state, INT32_MAX);
    _exit(0);
}

/* The supervisor's loop: keep every place filled while the pool runs (or
 * is closed with work left), fail the chunks of dead workers, and leave
 * once the pool is closed or terminated and the last worker is gone. */
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
        goto out_parent_gone; /* the creator died before we could watch it */
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
            mp__pool_lock(p);
            p->state = MP__POOL_TERMINATE;
            kill_slots(p, i);
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
        /* Without pidfds (or after a failed fork) look again every 50 ms. */
        int timeout = (sv->no_pidfd || retry) ? 50 : -1;
        (void)poll(sv->fds, (nfds_t)n + 1, timeout); /* EINTR: look anyway */
        if (getppid() != creator || (cfd >= 0 && (sv->fds[n].revents & POLLIN)))
            goto out_parent_gone;
        reap_workers(sv);

        mp__pool_lock(p);
        uint32_t state = p->state;
        bool refill = state == MP__POOL_RUN || (state == MP__POOL_CLOSE && p->head != NULL);
        int live = 0;
        for (int i = 0; i < n; i++)
            live += p->slots[i].pid > 0;
        if (state == MP__POOL_TERMINATE)
            kill_slots(p, n);
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
        if (live == 0 && state != MP__POOL_RUN && !refill)
            sup_exit(p);
    }

out_parent_gone:
    /* The creating process ended (however): the pool ends with it. */
    mp__pool_lock(p);
    p->state = MP__POOL_TERMINATE;
    kill_slots(p, n);
    mp__pool_unlock(p);
    while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
        ;
    sup_exit(p);
}

/* Fork the supervisor from the calling thread and wait until it has forked
 * the workers. Returns 0 or -errno. */
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
    for (;;) {
        uint32_t s = atomic_load(&p->sup_state);
        if (s != MP__SUP_STARTING)
            break;
        mp__deadline d;
        mp__deadline_init(&d, 0.1);
        if (mp__futex_wait(&p->sup_state, s, &d) == MP_ETIMEDOUT &&
            waitpid(pid, NULL, WNOHANG) == pid)
            return -EAGAIN;
    }
    err = atomic_load(&p->sup_err);
    if (err != 0) {
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        return err;
    }
    return 0;
}
