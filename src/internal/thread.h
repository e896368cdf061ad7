/* thread.h - who is calling, and is a given thread still alive. */
#ifndef MP_INTERNAL_THREAD_H
#define MP_INTERNAL_THREAD_H

#include <stdbool.h>
#include <sys/types.h>

/* mp__tid returns the caller's kernel thread id, cached per thread and
 * refreshed after fork (no system call on the fast path). */
pid_t mp__tid(void);

/* mp__pid returns getpid(), cached and refreshed after fork. */
pid_t mp__pid(void);

/* mp__tid_alive tells whether the thread (or process) with this kernel id
 * still runs. A zombie counts as dead: it will never release anything.
 * Linux only (/proc); a port would use kill(pid, 0) alone. */
bool mp__tid_alive(pid_t tid);

/* mp__fork_generation counts the forks this process descends from through
 * libmp-aware fork handlers; it changes in the child of every fork. */
unsigned mp__fork_generation(void);

/* mp__thread_init registers the fork handlers; called once at load. */
void mp__thread_init(void);

#endif
