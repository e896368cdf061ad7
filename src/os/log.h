/* log.h - libmp's event lines on stderr (mp/log.h), for internal code.
 *
 *     mp__log(MP_LOG_WARN, "lock %p: taken over from dead thread %d", l, tid);
 *
 * When the level is off, the macro is one relaxed load of a flag and a
 * compare, and its arguments are not evaluated, so it may sit on hot
 * paths. When on, the line is formatted on the stack and written with one
 * write(2): no stdio, no lock, no malloc, so it is fit for a forked child
 * and for code that runs while other threads hold stdio's or malloc's
 * locks (though not formally async-signal-safe: vsnprintf is used). */
#ifndef MP_OS_LOG_H
#define MP_OS_LOG_H

#include <stdatomic.h>
#include <sys/wait.h>

#include "mp/log.h"

/* The lowest level that is written; MP_LOG_OFF when logging is off. */
extern _Atomic int mp__log_threshold;

/* mp__log_on tells whether events of this level are written now. */
#define mp__log_on(level)                                                                          \
    __builtin_expect(                                                                              \
        (int)(level) >= atomic_load_explicit(&mp__log_threshold, memory_order_relaxed), 0)

/* mp__log writes one line "libmp[PID NAME] LEVEL: message" when level is
 * on; see mp__log_emit. */
#define mp__log(level, ...)                                                                        \
    do {                                                                                           \
        if (mp__log_on(level))                                                                     \
            mp__log_emit((level), __VA_ARGS__);                                                    \
    } while (0)

/* mp__log_emit formats and writes one line, whatever the level; lines
 * longer than the buffer are cut and end in "...". Errors of write(2)
 * are ignored: logging never fails a call. */
void mp__log_emit(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* mp__log_set_name names the calling process in the lines it writes from
 * now on (process.c calls it in each new mp_process child). The string
 * must live as long as the process. A process forked from there without
 * calling it again writes "fork of NAME". */
void mp__log_set_name(const char *name);

/* An exit, in words: "exited with code 3", "killed by signal 9 (SIGKILL)". */
typedef struct {
    char s[48];
} mp__exit_text;

/* mp__exit_describe puts an exit in words; code is Python's exitcode: the
 * exit status when >= 0, minus the signal number when killed by a signal.
 * Used as mp__exit_describe(code).s inside a log call's arguments. */
mp__exit_text mp__exit_describe(int code);

/* mp__exitcode turns a waitpid(2) status into Python's exitcode. */
static inline int mp__exitcode(int wstatus)
{
    return WIFSIGNALED(wstatus) ? -WTERMSIG(wstatus) : WEXITSTATUS(wstatus);
}

/* mp__signal_name returns "SIGTERM" for SIGTERM and so on, or NULL for a
 * number it does not know. */
const char *mp__signal_name(int sig);

#endif
