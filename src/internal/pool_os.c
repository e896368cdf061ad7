/* pool_os.c - pidfd_open, PR_SET_PDEATHSIG and the CPU count (Linux only;
 * see pool_os.h for the POSIX fallback). */
#include "pool_os.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

int mp__pool_pidfd_open(pid_t pid)
{
    /* pidfds are close-on-exec by default. */
    long fd = syscall(SYS_pidfd_open, pid, 0);
    return fd < 0 ? -1 : (int)fd;
}

int mp__pool_die_with_parent(pid_t expected_parent)
{
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) return -1;
    /* The parent may have died between fork and prctl: then nobody will
     * send the signal, and we have been reparented already. */
    return getppid() == expected_parent ? 0 : -1;
}

int mp__pool_cpu_count(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}
