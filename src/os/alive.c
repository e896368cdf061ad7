/* alive.c - liveness of a thread or process by its kernel id, without
 * ever calling a live one dead (see alive.h). */
#include "os/alive.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "os/pidfd.h"
#include "os/thread.h"

/* Whether /proc can be believed, for the fork generation it was asked in:
 * (generation << 2) | 1 yes, | 2 no; 0 not known yet. One atomic word, as
 * any thread may ask. A tmpfs over /proc, or a procfs of another pid
 * namespace, must not make a live thread look dead, so /proc is trusted
 * only when /proc/self/stat names our own pid. */
static _Atomic uint64_t proc_ok;

/* read_stat reads /proc/<path> into buf; returns the bytes read or -1. */
static ssize_t read_stat(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    if (n >= 0)
        buf[n] = '\0';
    return n;
}

static bool proc_trusted(void)
{
    uint64_t gen = mp__fork_generation();
    uint64_t v = atomic_load_explicit(&proc_ok, memory_order_relaxed);
    if (v == 0 || v >> 2 != gen) {
        char buf[64];
        bool ok = read_stat("/proc/self/stat", buf, sizeof buf) > 0 &&
                  strtol(buf, NULL, 10) == (long)mp__pid();
        v = gen << 2 | (ok ? 1u : 2u);
        atomic_store_explicit(&proc_ok, v, memory_order_relaxed);
    }
    return (v & 3) == 1;
}

/* proc_zombie tells whether a trusted /proc shows tid as a zombie (or
 * dead); false whenever it cannot tell. */
static bool proc_zombie(pid_t tid)
{
    if (!proc_trusted())
        return false;
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)tid);
    if (read_stat(path, buf, sizeof buf) <= 0)
        return false;
    /* "tid (comm) S ...": the comm may hold ')' so take the last one. */
    const char *p = strrchr(buf, ')');
    if (p == NULL || p[1] != ' ' || p[2] == '\0')
        return false;
    return p[2] == 'Z' || p[2] == 'X' || p[2] == 'x';
}

/* pidfd_exited tells whether tid is a process that has ended: its pidfd
 * is readable. False when it runs, or when no pidfd can be had (not a
 * thread group leader: EINVAL; an old kernel: ENOSYS). */
static bool pidfd_exited(pid_t tid)
{
    int fd = mp__pidfd_open(tid);
    if (fd < 0)
        return fd == -ESRCH; /* gone between kill() and here */
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n;
    do
        n = poll(&p, 1, 0);
    while (n < 0 && errno == EINTR);
    close(fd);
    return n > 0;
}

bool mp__tid_alive(pid_t tid)
{
    if (tid <= 0)
        return false;
    if (kill(tid, 0) < 0 && errno == ESRCH)
        return false;
    if (pidfd_exited(tid))
        return false;
    return !proc_zombie(tid);
}
