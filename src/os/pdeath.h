/* pdeath.h - make the calling process die with its parent. Linux only. */
#ifndef MP_INTERNAL_PDEATH_H
#define MP_INTERNAL_PDEATH_H

#include <stdbool.h>
#include <sys/types.h>

/* mp__die_with_parent asks the kernel to SIGKILL the caller when the thread
 * that forked it ends, then checks that the parent (whose pid was parent)
 * has not already died in between. Returns false when it has: the caller
 * should _exit at once. Returns true as well when the kernel refused the
 * request (nothing better can be done). */
bool mp__die_with_parent(pid_t parent);

#endif
