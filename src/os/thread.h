/* thread.h - who is calling: the kernel thread id and process id, cached. */
#ifndef MP_INTERNAL_THREAD_H
#define MP_INTERNAL_THREAD_H

#include <stdbool.h>
#include <sys/types.h>

/* The per-thread cache behind mp__tid. Initial-exec TLS: one load from
 * the thread pointer, no __tls_get_addr call, even in libmp.so. */
extern __thread pid_t mp__tls_tid __attribute__((tls_model("initial-exec")));
extern __thread unsigned mp__tls_tid_gen __attribute__((tls_model("initial-exec")));
pid_t mp__tid_refresh(void);

/* What the child of every fork rewrites (thread.c), side by side: every
 * page a child writes is copied, so one page for both. */
struct mp__fork_state {
    unsigned gen;      /* forks this process descends from, plus one */
    _Atomic pid_t pid; /* getpid(), cached; 0 until asked */
};
extern struct mp__fork_state mp__fork;

/* mp__tid returns the caller's kernel thread id, cached per thread and
 * refreshed after fork (no system call, no function call on the fast path:
 * every lock operation asks for it). */
static inline pid_t mp__tid(void)
{
    /* A cached id is stale once the process forked: the child's forking
     * thread has a new id, and the fork bumped the generation. */
    if (__builtin_expect(mp__tls_tid_gen == mp__fork.gen, 1))
        return mp__tls_tid;
    return mp__tid_refresh();
}

/* mp__pid returns getpid(), cached and refreshed after fork. */
pid_t mp__pid(void);

/* mp__fork_generation counts the forks this process descends from through
 * libmp-aware fork handlers; it changes in the child of every fork. */
unsigned mp__fork_generation(void);

/* mp__thread_init registers the fork handlers; called once at load. */
void mp__thread_init(void);

#endif
