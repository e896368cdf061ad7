/* log.c - libmp's event lines on stderr: the MP_LOG switch, the line
 * format, one write(2) per line (mp/log.h, os/log.h). */
#include "os/log.h"

#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mp/error.h"
#include "os/thread.h"

_Atomic int mp__log_threshold = MP_LOG_OFF;

/* Who writes: the name process.c gave this process, and the pid it was
 * given in. In a process forked since (a pool's supervisor and workers),
 * the pid differs and the line says "fork of NAME". */
static const char *_Atomic log_name = "MainProcess";
static _Atomic pid_t log_name_pid;

/* A line longer than this is cut (and ends in "..."): one write(2) of at
 * most PIPE_BUF bytes is never split by the kernel on a pipe, so lines of
 * several processes never mix there. */
#define LINE_MAX_BYTES 512

static const char *level_name(int level)
{
    if (level >= MP_LOG_WARN)
        return "warn";
    if (level >= MP_LOG_INFO)
        return "info";
    return "debug";
}

void mp__log_emit(int level, const char *fmt, ...)
{
    char line[LINE_MAX_BYTES];
    const char *name = atomic_load_explicit(&log_name, memory_order_relaxed);
    bool forked = atomic_load_explicit(&log_name_pid, memory_order_relaxed) != mp__pid();
    int n = snprintf(line, sizeof line, "libmp[%d %s%s] %s: ", (int)mp__pid(),
                     forked ? "fork of " : "", name, level_name(level));
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + len, sizeof line - len, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    len += (size_t)m;
    if (len > sizeof line - 1) { /* cut: the newline takes the NUL's place */
        len = sizeof line - 1;
        memcpy(line + len - 3, "...", 3);
    }
    line[len++] = '\n';
    /* One write: a line is never interleaved with another process's. */
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

void mp__log_set_name(const char *name)
{
    atomic_store_explicit(&log_name, name, memory_order_relaxed);
    atomic_store_explicit(&log_name_pid, mp__pid(), memory_order_relaxed);
}

static bool valid_level(int level)
{
    return level == MP_LOG_DEBUG || level == MP_LOG_INFO || level == MP_LOG_WARN ||
           level == MP_LOG_OFF;
}

int mp_log_to_stderr(mp_log_level level)
{
    if (!valid_level((int)level))
        return MP_EINVAL;
    atomic_store_explicit(&mp__log_threshold, (int)level, memory_order_relaxed);
    return 0;
}

mp_log_level mp_log_get_level(void)
{
    return (mp_log_level)atomic_load_explicit(&mp__log_threshold, memory_order_relaxed);
}

/* Reads MP_LOG once, when libmp is loaded. A value that names no level
 * leaves logging off and says so on stderr (the user asked for output). */
__attribute__((constructor)) static void log_at_load(void)
{
    atomic_store_explicit(&log_name_pid, getpid(), memory_order_relaxed);
    const char *env = getenv("MP_LOG");
    if (env == NULL || env[0] == '\0')
        return;
    static const struct {
        const char *word;
        int level;
    } words[] = {
        {"debug", MP_LOG_DEBUG},  {"info", MP_LOG_INFO}, {"warn", MP_LOG_WARN},
        {"warning", MP_LOG_WARN}, {"off", MP_LOG_OFF},   {"none", MP_LOG_OFF},
    };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        if (strcasecmp(env, words[i].word) == 0) {
            atomic_store_explicit(&mp__log_threshold, words[i].level, memory_order_relaxed);
            return;
        }
    }
    char line[LINE_MAX_BYTES];
    int n = snprintf(line, sizeof line,
                     "libmp: MP_LOG=%.64s is not a level (debug, info, warn, off); logging "
                     "stays off\n",
                     env);
    if (n > 0 && (size_t)n < sizeof line) {
        ssize_t w = write(STDERR_FILENO, line, (size_t)n);
        (void)w;
    }
}

mp__exit_text mp__exit_describe(int code)
{
    mp__exit_text t;
    const char *sig = code < 0 ? mp__signal_name(-code) : NULL;
    if (code >= 0)
        snprintf(t.s, sizeof t.s, "exited with code %d", code);
    else if (sig != NULL)
        snprintf(t.s, sizeof t.s, "killed by signal %d (%s)", -code, sig);
    else
        snprintf(t.s, sizeof t.s, "killed by signal %d", -code);
    return t;
}

const char *mp__signal_name(int sig)
{
    static const char *const names[] = {
        [SIGHUP] = "SIGHUP",       [SIGINT] = "SIGINT",   [SIGQUIT] = "SIGQUIT",
        [SIGILL] = "SIGILL",       [SIGTRAP] = "SIGTRAP", [SIGABRT] = "SIGABRT",
        [SIGBUS] = "SIGBUS",       [SIGFPE] = "SIGFPE",   [SIGKILL] = "SIGKILL",
        [SIGUSR1] = "SIGUSR1",     [SIGSEGV] = "SIGSEGV", [SIGUSR2] = "SIGUSR2",
        [SIGPIPE] = "SIGPIPE",     [SIGALRM] = "SIGALRM", [SIGTERM] = "SIGTERM",
        [SIGCHLD] = "SIGCHLD",     [SIGCONT] = "SIGCONT", [SIGSTOP] = "SIGSTOP",
        [SIGTSTP] = "SIGTSTP",     [SIGTTIN] = "SIGTTIN", [SIGTTOU] = "SIGTTOU",
        [SIGURG] = "SIGURG",       [SIGXCPU] = "SIGXCPU", [SIGXFSZ] = "SIGXFSZ",
        [SIGVTALRM] = "SIGVTALRM", [SIGPROF] = "SIGPROF", [SIGWINCH] = "SIGWINCH",
        [SIGIO] = "SIGIO",         [SIGSYS] = "SIGSYS",
    };
    if (sig > 0 && (size_t)sig < sizeof names / sizeof names[0])
        return names[sig];
    return NULL;
}
