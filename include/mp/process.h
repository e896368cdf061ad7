/* mp/process.h - processes with Python's multiprocessing.Process lifecycle.
 *
 * A process object is created in one process (its creator) and only the
 * creator may start, join, signal or poll it, as in Python. The child is
 * made with fork(2) from the calling thread: it runs target(arg) and leaves
 * with _exit(target's return value), after terminating its own daemon
 * children, joining its other children and flushing stdout and stderr
 * (other FILE streams the target wrote must be closed or flushed by it, as
 * before any _exit). It never runs the atexit handlers it inherited,
 * unless the target itself calls exit(): return from the target instead. */
#ifndef MP_PROCESS_H
#define MP_PROCESS_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mp_process mp_process;
typedef int (*mp_target_fn)(void *arg); /* return value = exit code */

typedef struct {
    const char *name; /* NULL -> "Process-N", N counting from 1 */
    bool daemon;      /* killed when the parent exits, however it exits */
} mp_process_opts;

/* mp_process_new makes a process object that will run target(arg) in a
 * child once started; opts may be NULL (no name, not a daemon). The name
 * is copied. Every new object takes the next number N of the calling
 * process, named or not; the default name is "Process-N" in the main
 * program and "Process-<parent's numbers>:N" in a child ("Process-1:2").
 * Returns NULL with errno EINVAL when target is NULL, ENOMEM when out of
 * memory. Release it with mp_process_free. */
MP_EXTERN mp_process *mp_process_new(mp_target_fn target, void *arg, const mp_process_opts *opts);

/* mp_process_start flushes every stdio output stream (so nothing buffered
 * is printed twice) and forks the child, from the calling thread. Returns
 * 0; MP_ESTATE when p was already started, was made by another process, is
 * the calling process, or the caller is itself a daemon (a daemon may not
 * have children); -errno when fork fails (EAGAIN, ENOMEM; nothing changed).
 * A daemon child gets SIGKILL when the thread that started it ends, however
 * it ends (PR_SET_PDEATHSIG): start daemons from a thread that lives as
 * long as they should, normally the main thread. */
MP_EXTERN int mp_process_start(mp_process *p);

/* mp_process_join waits until the child has ended and collects its exit
 * status, or until timeout seconds have passed (MP_FOREVER: no limit; 0:
 * just check). Returns 0 once the child has ended (also when it already
 * had), MP_ETIMEDOUT while it still runs, MP_ESTATE before start, for the
 * calling process itself, or from a process other than the creator,
 * MP_EINVAL for NULL or a NaN timeout. It waits on the child's pidfd and
 * survives signals. On mp_parent_process() it waits for the parent to end
 * (0 or MP_ETIMEDOUT), as Python does. */
MP_EXTERN int mp_process_join(mp_process *p, double timeout);

/* mp_process_is_alive tells whether the child was started and has not
 * ended; it never blocks (an ended child is reaped here). True for
 * mp_current_process(); for mp_parent_process(), whether the parent still
 * runs. False for NULL, before start, and from a process other than the
 * creator. */
MP_EXTERN bool mp_process_is_alive(mp_process *p);

/* mp_process_terminate sends SIGTERM to the child (through its pidfd, so
 * never to a process that reused its pid). Returns 0, also when the child
 * has already ended; MP_ESTATE before start, for the calling process or
 * from another process than the creator; MP_EINVAL for NULL. */
MP_EXTERN int mp_process_terminate(mp_process *p);

/* mp_process_kill is mp_process_terminate with SIGKILL. */
MP_EXTERN int mp_process_kill(mp_process *p);

/* mp_process_exitcode stores the child's exit code in *code: its exit
 * status (the low 8 bits of the target's return value), or -N when signal
 * N killed it. It collects an ended child's status without blocking.
 * Returns 0; MP_ESTATE while the child has not ended (or was not started);
 * MP_EINVAL when p or code is NULL. If the status was taken by someone
 * else (SIGCHLD set to SIG_IGN, a waitpid(-1) elsewhere), the code is 255. */
MP_EXTERN int mp_process_exitcode(mp_process *p, int *code);

/* mp_process_pid returns the child's process id, 0 before start or for
 * NULL; the caller's own pid for mp_current_process(). */
MP_EXTERN pid_t mp_process_pid(const mp_process *p);

/* mp_process_name returns the name, owned by p (NULL for NULL). */
MP_EXTERN const char *mp_process_name(const mp_process *p);

/* mp_process_daemon tells whether p is a daemon (false for NULL). */
MP_EXTERN bool mp_process_daemon(const mp_process *p);

/* mp_process_set_daemon sets the daemon flag before start. Returns 0;
 * MP_ESTATE once started (or for the calling/main/parent process);
 * MP_EINVAL for NULL. */
MP_EXTERN int mp_process_set_daemon(mp_process *p, bool daemon);

/* mp_process_sentinel returns a file descriptor that becomes readable once
 * the process has ended (its pidfd, close-on-exec), for poll(2) or
 * mp_wait-style multiplexing; -1 before start, and for a parent that has
 * already ended. The fd belongs to p: it stays open, and readable once the
 * child ended, until mp_process_free; do not close it. MP_EINVAL for NULL. */
MP_EXTERN int mp_process_sentinel(mp_process *p);

/* mp_process_repr writes Python's repr of p into buf, snprintf-style: it
 * writes at most cap bytes, NUL-terminated when cap > 0, and returns the
 * full length (so a return >= cap means it was cut). buf may be NULL when
 * cap is 0. MP_EINVAL for a NULL p, or a NULL buf with cap > 0. Forms:
 * "<Process(Process-1, initial)>", "<Process(p1, started daemon)>",
 * "<Process(Process-1, stopped)>", "<Process(Process-1, stopped[1])>",
 * "<Process(Process-1, stopped[SIGTERM])>"; the main program is
 * "<_MainProcess(MainProcess, started)>"; the parent seen from a child is
 * "<_ParentProcess(name, unknown)>"; another process's object "unknown". */
MP_EXTERN int mp_process_repr(mp_process *p, char *buf, size_t cap);

/* mp_process_free releases p and its pidfd, in the creator; an ended child
 * is reaped first, so no zombie stays. A running child is not stopped: it
 * stays tracked, and is reaped by mp_active_children, the next start, or
 * the exit-time join/terminate (which still treats it by its daemon flag).
 * NULL, mp_current_process() and mp_parent_process() are ignored. */
MP_EXTERN void mp_process_free(mp_process *p);

/* mp_current_process returns the calling process's object: the static
 * "MainProcess" object in the main program, the child's own object (a
 * copy; do not free it) in a child started by libmp. Never NULL. */
MP_EXTERN mp_process *mp_current_process(void);

/* mp_parent_process returns NULL in the main program; in a child, an
 * object describing the parent (its name and pid; is_alive, join and
 * sentinel work on it). Owned by the library. */
MP_EXTERN mp_process *mp_parent_process(void);

/* mp_active_children reaps the children of the calling process that have
 * ended and returns how many still run; the first cap of them are stored in
 * out (out may be NULL when cap is 0). Children whose objects were freed
 * are reaped but never listed or counted. The pointers are the objects of
 * mp_process_new. */
MP_EXTERN size_t mp_active_children(mp_process **out, size_t cap);

/* mp_cpu_count returns the number of CPUs the calling process may run on
 * (its affinity mask, which containers and taskset narrow), at least 1. */
MP_EXTERN int mp_cpu_count(void);

#ifdef __cplusplus
}
#endif
#endif /* MP_PROCESS_H */
