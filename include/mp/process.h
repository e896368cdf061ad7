/* mp/process.h - processes with Python's multiprocessing.Process lifecycle. */
#ifndef MP_PROCESS_H
#define MP_PROCESS_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mp_process mp_process;
typedef int (*mp_target_fn)(void *arg); /* return value = exit code */

typedef struct {
    const char *name; /* NULL -> "Process-N", N counting from 1 */
    bool daemon;      /* killed when the parent exits, however it exits */
} mp_process_opts;

MP_EXTERN mp_process *mp_process_new(mp_target_fn target, void *arg, const mp_process_opts *opts);
MP_EXTERN int mp_process_start(mp_process *p);
MP_EXTERN int mp_process_join(mp_process *p, double timeout);
MP_EXTERN bool mp_process_is_alive(mp_process *p);
MP_EXTERN int mp_process_terminate(mp_process *p);
MP_EXTERN int mp_process_kill(mp_process *p);
MP_EXTERN int mp_process_exitcode(const mp_process *p, int *code);
MP_EXTERN pid_t mp_process_pid(const mp_process *p);
MP_EXTERN const char *mp_process_name(const mp_process *p);
MP_EXTERN bool mp_process_daemon(const mp_process *p);
MP_EXTERN int mp_process_set_daemon(mp_process *p, bool daemon);
MP_EXTERN int mp_process_sentinel(const mp_process *p);
MP_EXTERN int mp_process_repr(const mp_process *p, char *buf, size_t cap);
MP_EXTERN void mp_process_free(mp_process *p);

MP_EXTERN mp_process *mp_current_process(void);
MP_EXTERN mp_process *mp_parent_process(void);
MP_EXTERN size_t mp_active_children(mp_process **out, size_t cap);
MP_EXTERN int mp_cpu_count(void);

#ifdef __cplusplus
}
#endif
#endif /* MP_PROCESS_H */
