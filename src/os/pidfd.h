/* pidfd.h - process file descriptors: wait for and signal one process
 * without pid-reuse races. Linux only (5.3+). */
#ifndef MP_INTERNAL_PIDFD_H
#define MP_INTERNAL_PIDFD_H

#include <sys/types.h>

#include "os/clock.h"

/* mp__pidfd_open returns a close-on-exec descriptor that refers to the
 * process pid and becomes readable once it has ended, or -errno (-ENOSYS
 * before Linux 5.3, -ESRCH if there is no such process). */
int mp__pidfd_open(pid_t pid);

/* mp__pidfd_send_signal sends sig to the process behind fd: 0, -ESRCH once
 * it has been reaped, or another -errno. */
int mp__pidfd_send_signal(int fd, int sig);

/* mp__pidfd_wait waits until fd is readable (the process ended) or the
 * deadline passes: 0 or MP_ETIMEDOUT. Restarts after EINTR without
 * stretching the deadline. */
int mp__pidfd_wait(int fd, const mp__deadline *d);

#endif
