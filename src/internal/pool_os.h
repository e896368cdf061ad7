/* pool_os.h - the Linux-only calls the pool needs, in one place.
 *
 * A POSIX port replaces pool_os.c: pidfds become a periodic waitpid(-1,
 * WNOHANG) sweep (the supervisor already sweeps that way on every wake-up,
 * and polls with a timeout when it has no pidfds), PR_SET_PDEATHSIG becomes
 * a getppid() check on the same timer, and sched_getaffinity becomes
 * sysconf(_SC_NPROCESSORS_ONLN). */
#ifndef MP_INTERNAL_POOL_OS_H
#define MP_INTERNAL_POOL_OS_H

#include <sys/types.h>

/* mp__pool_pidfd_open returns a descriptor that polls readable once the
 * process pid has ended (O_CLOEXEC), or -1 with errno set (ENOSYS on
 * kernels before 5.3: the caller then polls with a timeout). */
int mp__pool_pidfd_open(pid_t pid);

/* mp__pool_die_with_parent asks the kernel to SIGKILL the caller when its
 * parent dies, then closes the race with a parent that died before the
 * request: returns -1 if getppid() is no longer expected_parent. Call it
 * only in children of single-threaded parents: the kernel ties the signal
 * to the parent *thread*. */
int mp__pool_die_with_parent(pid_t expected_parent);

/* mp__pool_cpu_count returns the CPUs this process may run on (at least 1). */
int mp__pool_cpu_count(void);

#endif
