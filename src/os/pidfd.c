/* pidfd.c - pidfd_open, pidfd_send_signal and waiting on a pidfd.
 *
 * Linux only. The POSIX fallback is a pipe whose write end only the child
 * holds (EOF = the child ended; Python's fork sentinel) for waiting, and
 * kill(pid, sig) for signalling, which is safe only while the child is not
 * yet reaped. */
#include "os/pidfd.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mp/error.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

/* Raw system calls: glibc wrappers appeared only in 2.36. */
int mp__pidfd_open(pid_t pid)
{
    long fd = syscall(SYS_pidfd_open, pid, 0);
    return fd < 0 ? -errno : (int)fd;
}

int mp__pidfd_send_signal(int fd, int sig)
{
    return syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) < 0 ? -errno : 0;
}

int mp__pidfd_wait(int fd, const mp__deadline *d)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    for (;;) {
        int rc = poll(&pfd, 1, mp__deadline_ms(d));
        if (rc > 0)
            return 0;
        if (rc == 0) {
            /* poll rounds up to whole milliseconds; it never returns early,
             * so a 0 means the deadline has passed. */
            return MP_ETIMEDOUT;
        }
        if (errno != EINTR)
            return -errno;
    }
}
