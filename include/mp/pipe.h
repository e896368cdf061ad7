/* mp/pipe.h - framed connections (Python's Pipe and Connection), and
 * Listener/Client over UNIX and TCP sockets.
 *
 * A connection carries messages: byte strings whose boundaries are kept.
 * On the wire each message is CPython's multiprocessing.connection framing
 * (a 4-byte big-endian signed length, then the payload; for payloads over
 * 0x7fffffff bytes the length -1, then an 8-byte big-endian length), so a
 * libmp process and a Python process can talk over one socket or pipe.
 *
 * An mp_conn is a file descriptor plus a little read-ahead state in the
 * process's own memory: a process has a connection only if it was forked
 * after the connection was made (as in Python). One mp_conn must not be
 * used by two threads at once (as in Python); give each thread its own. */
#ifndef MP_PIPE_H
#define MP_PIPE_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mp_conn mp_conn;
typedef struct mp_listener mp_listener;

/* mp_pipe creates a pair of connected connections and stores them in *c1
 * and *c2 (Python's Pipe(duplex)). With duplex true both ends send and
 * receive (a UNIX stream socket pair); with duplex false *c1 only receives
 * and *c2 only sends (a pipe). The descriptors are close-on-exec. Returns
 * 0, MP_EINVAL (c1 or c2 NULL), MP_ENOMEM, or -errno (EMFILE, ...); on
 * failure nothing is created. Free each end with mp_conn_free. */
MP_EXTERN int mp_pipe(mp_conn **c1, mp_conn **c2, bool duplex);

/* mp_conn_send sends one message of len bytes (Python's send_bytes). msg
 * may be NULL when len is 0: empty messages are valid. Blocks until the
 * whole message is handed to the kernel (a peer that does not read can
 * block it; there is no timeout, as in Python); header and payload go in
 * one system call where the kernel takes them. Returns 0, MP_EEOF when the
 * peer has closed its end (never raises SIGPIPE), MP_ESTATE on a
 * receive-only end, MP_ECLOSED after mp_conn_close, MP_EINVAL (c NULL, or
 * msg NULL with len > 0), or -errno. */
MP_EXTERN int mp_conn_send(mp_conn *c, const void *msg, size_t len);

/* mp_conn_recv receives the next message into buf (cap bytes) and stores
 * its length in *len (Python's recv_bytes_into). Blocks up to timeout
 * seconds (MP_FOREVER: no limit, 0: only what is already there). Returns:
 *   0              a message was received;
 *   MP_ETIMEDOUT   no whole message within the timeout; whatever part
 *                  arrived stays in the connection, nothing is lost;
 *   MP_EMSGSIZE    the next message is longer than cap: *len is set to its
 *                  length and the message stays for the next call;
 *   MP_EEOF        the peer closed its end and every message it sent has
 *                  been received (a message cut short by the close is
 *                  dropped, never returned in part);
 *   MP_ESTATE      a send-only end; MP_ECLOSED after mp_conn_close;
 *   MP_EINVAL      c or len NULL, buf NULL with cap > 0, NaN timeout;
 *   -EPROTO        the peer sent a header no CPython peer sends;
 *   -errno         the system failed.
 * buf may hold partial data after a failed call. */
MP_EXTERN int mp_conn_recv(mp_conn *c, void *buf, size_t cap, size_t *len, double timeout);

/* mp_conn_recv_alloc is mp_conn_recv into a buffer of the right size that
 * it malloc()s and stores in *msg; free() it. An empty message gives a
 * valid non-NULL pointer and *len 0. Same returns as mp_conn_recv except
 * MP_EMSGSIZE; MP_ENOMEM if the buffer cannot be had (the message stays).
 * On failure *msg is left untouched. Memory grows with the bytes that
 * arrive, never with the length a header claims, so a lying peer cannot
 * make it allocate more than it sends. */
MP_EXTERN int mp_conn_recv_alloc(mp_conn *c, void **msg, size_t *len, double timeout);

/* mp_conn_send_str sends the string s without its NUL. Returns as
 * mp_conn_send; MP_EINVAL for a NULL s. */
MP_EXTERN int mp_conn_send_str(mp_conn *c, const char *s);

/* mp_conn_recv_str receives a message as a malloc()ed NUL-terminated
 * string in *s (free() it). Bytes after an embedded NUL are kept but hidden
 * from string functions. Returns as mp_conn_recv_alloc. */
MP_EXTERN int mp_conn_recv_str(mp_conn *c, char **s, double timeout);

/* mp_conn_poll reports whether a receive would find something: returns 1
 * when data or the end of the stream is readable (including a message
 * already held inside the connection), 0 when nothing came within timeout
 * seconds (0 checks without blocking; MP_FOREVER waits). Errors:
 * MP_ESTATE on a send-only end, MP_ECLOSED, MP_EINVAL (NULL, NaN), -errno.
 * As in Python, 1 may mean only part of a message has arrived so far. */
MP_EXTERN int mp_conn_poll(mp_conn *c, double timeout);

/* mp_conn_fileno returns the connection's file descriptor (for poll or
 * epoll loops; libmp still owns it), MP_ECLOSED after close, MP_EINVAL for
 * NULL. Bytes the connection has read ahead are not visible on the
 * descriptor: check mp_conn_poll(c, 0) before waiting on it. */
MP_EXTERN int mp_conn_fileno(const mp_conn *c);

/* mp_conn_close closes the connection's descriptor in this process and
 * drops any unread data; later calls on c return MP_ECLOSED, except
 * mp_conn_close again, which returns 0, and mp_conn_free. The peer sees
 * the end of the stream once every process holding this end closed it.
 * Returns 0 or MP_EINVAL (NULL). */
MP_EXTERN int mp_conn_close(mp_conn *c);

/* mp_conn_free closes c if needed and releases it; c must not be used
 * again. mp_conn_free(NULL) does nothing. */
MP_EXTERN void mp_conn_free(mp_conn *c);

/* mp_wait waits until at least one of the n connections is ready to
 * receive (a message, data or the end of the stream), or timeout seconds
 * pass (Python's multiprocessing.connection.wait). Returns how many are
 * ready (0 on timeout) and, when ready is not NULL, sets every ready[i]
 * (true or false) for conns[i]. Errors: MP_EINVAL (conns NULL, n 0, a NULL
 * entry, NaN timeout), MP_ECLOSED (a closed entry), MP_ESTATE (a send-only
 * entry), MP_ENOMEM, -errno; ready is then left untouched. */
MP_EXTERN int mp_wait(mp_conn *const *conns, size_t n, double timeout, bool *ready);

/* mp_listener_new listens on address (Python's Listener). Like a
 * connection, a listener is the creating process's (a forked child gets a
 * copy it may use or close):
 *   "unix:/path/to/socket"   a UNIX stream socket; the file must not exist;
 *   "unix:@name"             a socket in Linux's abstract namespace;
 *   "tcp:HOST:PORT"          TCP on HOST (a name, an IPv4 address, or an
 *                            IPv6 address in brackets), PORT 0 = any free.
 * With authkey not NULL (keylen bytes; may be 0), every accepted client
 * must pass CPython's challenge (HMAC-MD5 as Python <= 3.11 speaks it, or
 * the "{sha256}" form of Python >= 3.12) and is challenged back; NULL means
 * no authentication. The key is copied. Returns the listener, or NULL with
 * errno EINVAL (bad address), EADDRINUSE, ENOMEM, ... */
MP_EXTERN mp_listener *mp_listener_new(const char *address, const void *authkey, size_t keylen);

/* mp_listener_address returns the bound address in the form
 * mp_listener_new takes, with the real port ("tcp:127.0.0.1:40123"); the
 * string belongs to the listener. NULL for a NULL listener. */
MP_EXTERN const char *mp_listener_address(const mp_listener *l);

/* mp_listener_accept waits up to timeout seconds for a client, runs the
 * authentication handshake within the same deadline, and stores a new
 * duplex connection in *conn (free it with mp_conn_free). Returns 0,
 * MP_ETIMEDOUT (no client, or a client that did not finish the handshake
 * in time), MP_EAUTH (the client's key was wrong, or it broke the protocol
 * of the handshake: that client is dropped, the listener goes on),
 * MP_ECLOSED after mp_listener_close, MP_EINVAL (NULL, NaN), -errno. */
MP_EXTERN int mp_listener_accept(mp_listener *l, mp_conn **conn, double timeout);

/* mp_listener_close stops listening and, in the process that created the
 * listener, removes its UNIX socket file. Later accepts return MP_ECLOSED;
 * closing again returns 0. Returns 0 or MP_EINVAL (NULL). */
MP_EXTERN int mp_listener_close(mp_listener *l);

/* mp_listener_free closes l if needed and releases it. NULL does nothing. */
MP_EXTERN void mp_listener_free(mp_listener *l);

/* mp_client_connect connects to a listener at address (the forms of
 * mp_listener_new; Python's Client), answers its challenge and challenges
 * it back when authkey is not NULL, all within timeout seconds, and stores
 * a duplex connection in *conn. Returns 0, MP_EAUTH (the keys differ, or
 * the server broke the protocol of the handshake), MP_ETIMEDOUT,
 * MP_EINVAL (NULL, bad address, NaN), -ECONNREFUSED, -ENOENT (no such
 * socket file), other -errno. */
MP_EXTERN int mp_client_connect(const char *address, const void *authkey, size_t keylen,
                                mp_conn **conn, double timeout);

#ifdef __cplusplus
}
#endif
#endif /* MP_PIPE_H */
