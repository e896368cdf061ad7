/* stop.c - ending a run early on SIGINT, SIGTERM, SIGHUP or SIGPIPE
 * without leaving a temporary file behind.
 *
 * Why this shape. A signal handler may do little: here it only removes the
 * one temporary name its process is writing (unlinkat is async-signal-safe,
 * and the name sits in static storage set before the file is created) and
 * stores the signal in a shared atomic word. The parent then stops walking,
 * the workers drop the file they copy at their next check (every file and
 * every 8 MiB), and the parent, once every task has returned, removes the
 * large files' temporaries and ends itself with the same signal, so the
 * shell sees what it expects (Ctrl-C: status 130). A worker that gets the
 * signal itself (Ctrl-C reaches the whole process group) removes its
 * temporary and dies at once; the pool reports the task as failed and the
 * parent stops too (the worker sets the shared word: any of these signals
 * to any process of the run stops it). Files written as
 * O_TMPFILE have no name to remove: they vanish with their descriptors.
 * Workers die with the parent (the pool's supervisor takes them down), so
 * nothing keeps writing once the parent is gone.
 *
 * A second SIGINT, SIGTERM or SIGHUP while stopping ends the parent at
 * once (the handler is reset after the first), for the impatient. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpcopy.h"

static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};

/* The temporary name this process is writing: set before the file is
 * created, cleared once it is renamed or removed. */
static int tmp_dir = -1;
static char tmp_name[64];
static volatile sig_atomic_t tmp_armed;

void mpc_tmp_arm(int dir, const char *name)
{
    tmp_armed = 0;
    tmp_dir = dir;
    snprintf(tmp_name, sizeof tmp_name, "%s", name);
    tmp_armed = 1; /* the handler reads the name only after this store */
}

void mpc_tmp_disarm(void)
{
    tmp_armed = 0;
}

static void on_signal(int sig)
{
    int saved = errno;
    if (tmp_armed) {
        unlinkat(tmp_dir, tmp_name, 0);
        tmp_armed = 0;
    }
    int none = 0;
    atomic_compare_exchange_strong(&mpc_count->stop, &none, sig);
    if (getpid() != mpc.parent) {
        /* A worker: the run stops (a SIGPIPE from a -v line stops it as
         * it stops cp), and we go now. The signal is blocked until we
         * return; then, with the default action back, it ends us. */
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigaction(sig, &dfl, NULL);
        raise(sig);
        errno = saved;
        return;
    }
    errno = saved;
}

int mpc_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof stop_signals / sizeof stop_signals[0]; i++)
        sigaddset(&sa.sa_mask, stop_signals[i]);
    for (size_t i = 0; i < sizeof stop_signals / sizeof stop_signals[0]; i++) {
        /* SIGPIPE keeps the handler: writing after a first one must not
         * end the parent before it has cleaned up. */
        sa.sa_flags = SA_RESTART | (stop_signals[i] == SIGPIPE ? 0 : SA_RESETHAND);
        struct sigaction old;
        if (sigaction(stop_signals[i], NULL, &old) < 0)
            return -1;
        /* A signal ignored by whoever started us (nohup) stays ignored. */
        if (old.sa_handler == SIG_IGN)
            continue;
        if (sigaction(stop_signals[i], &sa, NULL) < 0)
            return -1;
    }
    return 0;
}

_Noreturn void mpc_stop_exit(void)
{
    int sig = atomic_load(&mpc_count->stop);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(sig, &dfl, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    raise(sig);
    _exit(128 + sig); /* not reached: the default action of sig ends us */
}

/* The test hook MPCOPY_TEST_HOLD="POINT:FIFO": the first process to reach
 * POINT opens FIFO for reading and reads from it, so it waits until the
 * test has opened the other end and closed it again (or written a byte).
 * The test thereby knows where mpcopy is, without a sleep. POINTs:
 * "walked" (the parent, before it submits any work) and "copy" (a worker,
 * with a small file's temporary created, before any data). */
void mpc_hold_at(const char *point)
{
    size_t n = strlen(point);
    if (strncmp(mpc.hold, point, n) != 0 || mpc.hold[n] != ':')
        return;
    if (atomic_exchange(&mpc_count->held, 1) != 0)
        return;
    int fd;
    while ((fd = open(mpc.hold + n + 1, O_RDONLY | O_CLOEXEC)) < 0 && errno == EINTR)
        ;
    if (fd < 0)
        return;
    char c;
    while (read(fd, &c, 1) < 0 && errno == EINTR)
        ;
    close(fd);
}
