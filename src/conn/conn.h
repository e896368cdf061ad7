/* conn.h - what the listener needs from the connection layer (src/pipe.c). */
#ifndef MP_INTERNAL_CONN_H
#define MP_INTERNAL_CONN_H

#include <stdbool.h>

#include "mp/pipe.h"

/* mp__conn_new wraps an open descriptor in a connection that owns it
 * (closes it when closed). sock says whether fd is a stream socket (sent
 * with MSG_NOSIGNAL, read with MSG_DONTWAIT) or a pipe end. Returns NULL
 * with errno ENOMEM; fd is then still the caller's. */
mp_conn *mp__conn_new(int fd, bool readable, bool writable, bool sock);

#endif
