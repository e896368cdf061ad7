/* thread.c - cached thread and process ids, refreshed after fork. */
#include "os/thread.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

__thread pid_t mp__tls_tid;
__thread unsigned mp__tls_tid_gen; /* 0 never matches: first use refreshes */
/* pid: threads may fill it at once, with the same value. */
struct mp__fork_state mp__fork = {.gen = 1};
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* Runs in the child of every fork, in the forking thread. */
static void after_fork_child(void)
{
    mp__fork.gen++;
    atomic_store_explicit(&mp__fork.pid, 0, memory_order_relaxed);
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
    return mp__fork.gen;
}

pid_t mp__tid_refresh(void)
{
    mp__tls_tid = (pid_t)syscall(SYS_gettid);
    mp__tls_tid_gen = mp__fork.gen;
    return mp__tls_tid;
}

pid_t mp__pid(void)
{
    pid_t pid = atomic_load_explicit(&mp__fork.pid, memory_order_relaxed);
    if (pid == 0) {
        pid = getpid();
        atomic_store_explicit(&mp__fork.pid, pid, memory_order_relaxed);
    }
    return pid;
}

/* Register the fork handlers when the library is loaded, whichever of its
 * objects a static link pulled in. */
__attribute__((constructor)) static void thread_at_load(void)
{
    mp__thread_init();
}
