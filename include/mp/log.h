/* mp/log.h - what libmp is doing, on stderr (Python's
 * multiprocessing.log_to_stderr).
 *
 * Off by default. Turned on by the environment, read once when libmp is
 * loaded:
 *     MP_LOG=debug | info | warn | off
 * or from the program with mp_log_to_stderr(). Each event is one line on
 * stderr (file descriptor 2), written with a single write(2), so lines of
 * several processes do not mix, and a line may be written after fork, in
 * a child, or while another thread holds stdio's locks:
 *
 *     libmp[4242 Process-1] info: started Process-1:1 (pid 4243)
 *     libmp[4242 Process-1] info: Process-1:1 (pid 4243) exited with code 0
 *     libmp[4250 fork of MainProcess] warn: pool worker 1 (pid 4252) killed by
 *         signal 9 (SIGKILL) while running a task, which fails with
 *         MP_EWORKERDIED; replaced unless the pool is closing
 *
 * (one line each; wrapped here). The prefix is the pid and the name of
 * the process that writes it (mp_current_process()'s name); a process
 * forked by libmp itself, not as an mp_process (a pool's supervisor or
 * workers), shows "fork of " and the name of the process it came from.
 *
 * Events, by level:
 *   warn   a lock, rlock or condition taken over from a holder that died
 *          holding it (MP_EOWNERDEAD); a pool worker that died while it
 *          ran a task; a daemon child that ignored SIGTERM and got SIGKILL
 *          at exit; a queue repaired after a process died inside a call
 *   info   a process started, and ended (its exit code, or the signal
 *          that killed it); daemon children terminated at exit; a pool
 *          worker that ended and why
 *   debug  non-daemon children joined at exit
 * A level shows its own events and those listed above it: MP_LOG=info
 * shows info and warn lines.
 *
 * When logging is off, each place that could log costs one load of a
 * flag and a compare: no system call, no function call. The text of the
 * lines is for people, not a stable interface. */
#ifndef MP_LOG_H
#define MP_LOG_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The levels, with Python's logging values (logging.DEBUG is 10, INFO 20,
 * WARNING 30), so a Python user's number works too. */
typedef enum {
    MP_LOG_DEBUG = 10, /* everything below, and the details */
    MP_LOG_INFO = 20,  /* processes starting and ending, workers replaced */
    MP_LOG_WARN = 30,  /* take-overs from the dead, repairs, forced kills */
    MP_LOG_OFF = 100,  /* nothing (the default) */
} mp_log_level;

/* mp_log_to_stderr writes libmp's events of the given level and above to
 * stderr from now on, in this process and in the processes it forks
 * afterwards; MP_LOG_OFF stops it. It overrides MP_LOG. Safe from any
 * thread. Returns 0, or MP_EINVAL (nothing changed) for a value that is
 * not one of the mp_log_level constants. */
MP_EXTERN int mp_log_to_stderr(mp_log_level level);

/* mp_log_get_level returns the level in force: MP_LOG_OFF when nothing is
 * logged. */
MP_EXTERN mp_log_level mp_log_get_level(void);

#ifdef __cplusplus
}
#endif
#endif /* MP_LOG_H */
