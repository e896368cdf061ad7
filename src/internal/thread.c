/* thread.c - cached thread/process ids and liveness checks. */
#include "thread.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static __thread pid_t tls_tid;
static __thread unsigned tls_tid_gen;
static pid_t cached_pid;
static unsigned fork_gen = 1;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* Runs in the child of every fork, in the forking thread. */
static void after_fork_child(void)
{
    fork_gen++;
    cached_pid = 0;
}

static void register_handlers(void)
{
    pthread_atfork(NULL, NULL, after_fork_child);
}

void mp__thread_init(void)
{
    pthread_once(&init_once, register_handlers);
}

unsigned mp__fork_generation(void)
{
    return fork_gen;
}

pid_t mp__tid(void)
{
    /* A thread's cached id is stale once the process forked: the child's
     * forking thread has a new id. The generation check catches that. */
    if (tls_tid == 0 || tls_tid_gen != fork_gen) {
        tls_tid = (pid_t)syscall(SYS_gettid);
        tls_tid_gen = fork_gen;
    }
    return tls_tid;
}

pid_t mp__pid(void)
{
    pid_t pid = cached_pid;
    if (pid == 0) {
        pid = getpid();
        cached_pid = pid;
    }
    return pid;
}

bool mp__tid_alive(pid_t tid)
{
    if (tid <= 0)
        return false;
    if (kill(tid, 0) < 0 && errno == ESRCH)
        return false;
    /* kill() succeeds on a zombie: read its state from /proc. */
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno != ENOENT;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return true;
    buf[n] = '\0';
    /* "pid (comm) S ...": the comm may hold ')' so take the last one. */
    char *close_paren = strrchr(buf, ')');
    if (close_paren == NULL || close_paren[1] == '\0' || close_paren[2] == '\0')
        return true;
    char state = close_paren[2];
    return state != 'Z' && state != 'X' && state != 'x';
}

/* Register the fork handlers when the library is loaded, whichever of its
 * objects a static link pulled in. */
__attribute__((constructor)) static void thread_at_load(void)
{
    mp__thread_init();
}
