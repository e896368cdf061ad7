/* alive.h - is a given thread (or process) still alive?
 *
 * libmp's locks record their holder's kernel thread id, and waiters ask
 * this question when a holder has been silent for a while: a dead holder's
 * lock is taken over (MP_EOWNERDEAD). The one rule: never call a live
 * thread dead, since a wrong "dead" breaks mutual exclusion. So the answer
 * is "dead" only on proof:
 *   - kill(tid, 0) fails with ESRCH: no such task at all;
 *   - a pidfd of tid (a process, or a thread group leader) is readable:
 *     the whole process has ended and is a zombie nobody reaped yet;
 *   - /proc, once checked to be this system's procfs for our pid
 *     namespace, shows the thread as a zombie (a main thread that left
 *     with pthread_exit while its process goes on).
 * Where none of these can tell (no pidfd, /proc missing or a tmpfs over
 * it), the thread counts as alive: a dead holder is then found only once
 * its process is reaped (ESRCH), never wrongly.
 *
 * Limit: kernel ids are reused once the pid space wraps, so a holder that
 * died and whose id went to a new thread looks alive; with ids handed out
 * in order, that takes pid_max new threads in between. */
#ifndef MP_OS_ALIVE_H
#define MP_OS_ALIVE_H

#include <stdbool.h>
#include <sys/types.h>

/* mp__tid_alive tells whether the thread or process with this kernel id
 * may still run (see above): false only when it is known to be dead or a
 * zombie. Linux only; a POSIX port keeps kill(pid, 0) alone. */
bool mp__tid_alive(pid_t tid);

#endif
