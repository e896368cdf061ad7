/* mp/pipe.h - framed connections (Python's Pipe and Connection). */
#ifndef MP_PIPE_H
#define MP_PIPE_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mp_conn mp_conn;

MP_EXTERN int mp_pipe(mp_conn **c1, mp_conn **c2, bool duplex);
MP_EXTERN int mp_conn_send(mp_conn *c, const void *msg, size_t len);
MP_EXTERN int mp_conn_recv(mp_conn *c, void *buf, size_t cap, size_t *len, double timeout);
MP_EXTERN int mp_conn_recv_alloc(mp_conn *c, void **msg, size_t *len, double timeout);
MP_EXTERN int mp_conn_send_str(mp_conn *c, const char *s);
MP_EXTERN int mp_conn_recv_str(mp_conn *c, char **s, double timeout);
MP_EXTERN int mp_conn_poll(mp_conn *c, double timeout);
MP_EXTERN int mp_conn_fileno(const mp_conn *c);
MP_EXTERN int mp_conn_close(mp_conn *c);
MP_EXTERN void mp_conn_free(mp_conn *c);
MP_EXTERN int mp_wait(mp_conn *const *conns, size_t n, double timeout, bool *ready);

#ifdef __cplusplus
}
#endif
#endif /* MP_PIPE_H */
