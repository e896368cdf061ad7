/* listener.c - Listener and Client over UNIX and TCP sockets, with
 * CPython's authkey challenge (multiprocessing.connection). */
#include "mp/pipe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "os/clock.h"
#include "conn/conn.h"
#include "crypto/hmac.h"
#include "mp/error.h"

/* ---- the handshake -------------------------------------------------------
 *
 * CPython's deliver_challenge / answer_challenge. The server sends
 * "#CHALLENGE#" + a random message; the client answers with the HMAC of
 * that message under the shared key; the server says "#WELCOME#" or
 * "#FAILURE#". Then the roles swap, so each side proves it has the key.
 * Python <= 3.11 sends a 20-byte message and expects a bare HMAC-MD5;
 * Python >= 3.12 sends "{sha256}" + 40 bytes and expects "{sha256}" + the
 * HMAC-SHA256 of the whole message, prefix included; a 3.12 server still
 * accepts a bare 16-byte HMAC-MD5 from an old client. libmp challenges the
 * 3.12 way (old clients answer it with MD5, which is accepted) and answers
 * in whatever form it was challenged. */

#define HS_MAX          256 /* no handshake message may be longer (as in CPython) */
#define CHALLENGE       "#CHALLENGE#"
#define WELCOME         "#WELCOME#"
#define FAILURE         "#FAILURE#"
#define LEGACY_MSG_LEN  20 /* Python <= 3.11's challenge */
#define CHALLENGE_LEN   40 /* random bytes in ours (Python 3.12's MESSAGE_LENGTH) */
#define MAX_DIGEST_NAME 8  /* longest name CPython allows ("sha3_256") */
#define BACKLOG_RETRY   0.001 /* seconds between connects to a UNIX listener whose backlog is full */

/* Receive one handshake message of at most HS_MAX bytes within d. Any
 * failure of the peer (too long, cut, garbage header, gone) fails the
 * handshake with MP_EAUTH; a timeout stays MP_ETIMEDOUT. */
static int hs_recv(mp_conn *c, unsigned char *buf, size_t *len, const mp__deadline *d)
{
    int rc = mp_conn_recv(c, buf, HS_MAX, len, mp__deadline_remaining(d));
    if (rc == MP_EMSGSIZE || rc == MP_EEOF || rc == -EPROTO)
        return MP_EAUTH;
    return rc;
}

/* Send one handshake message; a peer that went away fails the handshake. */
static int hs_send(mp_conn *c, const void *msg, size_t len)
{
    int rc = mp_conn_send(c, msg, len);
    return rc == MP_EEOF ? MP_EAUTH : rc;
}

/* Split a "{name}mac" reply or challenge as CPython's
 * _get_digest_name_and_payload does. Returns 1 with *alg and *rest set for
 * a digest libmp speaks, 0 for no prefix, -1 for a prefix naming a digest
 * libmp does not have. */
static int digest_prefix(const unsigned char *m, size_t len, mp__hmac_alg *alg, size_t *rest)
{
    if (len < 2 || m[0] != '{')
        return 0;
    const unsigned char *end =
        memchr(m + 1, '}', len - 1 < MAX_DIGEST_NAME + 1 ? len - 1 : MAX_DIGEST_NAME + 1);
    if (end == NULL)
        return 0;
    size_t n = (size_t)(end - m - 1);
    if (n == 3 && memcmp(m + 1, "md5", 3) == 0)
        *alg = MP__HMAC_MD5;
    else if (n == 6 && memcmp(m + 1, "sha256", 6) == 0)
        *alg = MP__HMAC_SHA256;
    else
        return -1;
    *rest = n + 2;
    return 1;
}

/* Fill buf with n bytes from the kernel's random source. getrandom is
 * Linux's; the POSIX fallback is reading /dev/urandom. */
static int random_bytes(unsigned char *buf, size_t n)
{
    while (n > 0) {
        ssize_t r = getrandom(buf, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        buf += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Challenge the peer and check its answer (CPython's deliver_challenge). */
static int deliver_challenge(mp_conn *c, const unsigned char *key, size_t keylen,
                             const mp__deadline *d)
{
    unsigned char msg[sizeof CHALLENGE - 1 + 8 + CHALLENGE_LEN];
    const size_t hl = sizeof CHALLENGE - 1;
    memcpy(msg, CHALLENGE "{sha256}", hl + 8);
    int rc = random_bytes(msg + hl + 8, CHALLENGE_LEN);
    if (rc < 0)
        return rc;
    if ((rc = hs_send(c, msg, sizeof msg)) < 0)
        return rc;
    unsigned char resp[HS_MAX], want[MP__HMAC_MAX];
    size_t len;
    if ((rc = hs_recv(c, resp, &len, d)) < 0)
        return rc;
    /* The MAC covers the challenge after "#CHALLENGE#", prefix included. */
    const unsigned char *challenge = msg + hl;
    size_t clen = sizeof msg - hl;
    mp__hmac_alg alg = MP__HMAC_MD5;
    size_t skip = 0;
    bool ok = false;
    if (len == 16 || len == LEGACY_MSG_LEN || digest_prefix(resp, len, &alg, &skip) == 1) {
        /* A bare reply (an old client) is HMAC-MD5. */
        size_t n = mp__hmac(alg, key, keylen, challenge, clen, want);
        ok = len - skip == n && mp__ct_equal(resp + skip, want, n);
    }
    if (!ok) {
        hs_send(c, FAILURE, sizeof FAILURE - 1);
        return MP_EAUTH;
    }
    return hs_send(c, WELCOME, sizeof WELCOME - 1);
}

/* Answer the peer's challenge (CPython's answer_challenge). */
static int answer_challenge(mp_conn *c, const unsigned char *key, size_t keylen,
                            const mp__deadline *d)
{
    unsigned char msg[HS_MAX];
    size_t len;
    int rc = hs_recv(c, msg, &len, d);
    if (rc < 0)
        return rc;
    const size_t hl = sizeof CHALLENGE - 1;
    if (len < hl || memcmp(msg, CHALLENGE, hl) != 0)
        return MP_EAUTH;
    const unsigned char *challenge = msg + hl;
    size_t clen = len - hl;
    if (clen < LEGACY_MSG_LEN)
        return MP_EAUTH; /* too short to be a real challenge */
    unsigned char resp[2 + MAX_DIGEST_NAME + MP__HMAC_MAX];
    size_t rlen = 0, skip = 0;
    mp__hmac_alg alg = MP__HMAC_MD5;
    if (clen != 16 && clen != LEGACY_MSG_LEN) {
        if (digest_prefix(challenge, clen, &alg, &skip) != 1)
            return MP_EAUTH;           /* no prefix, or a digest libmp lacks */
        memcpy(resp, challenge, skip); /* answer as "{name}" + MAC */
        rlen = skip;
    }
    rlen += mp__hmac(alg, key, keylen, challenge, clen, resp + rlen);
    if ((rc = hs_send(c, resp, rlen)) < 0)
        return rc;
    if ((rc = hs_recv(c, msg, &len, d)) < 0)
        return rc;
    if (len != sizeof WELCOME - 1 || memcmp(msg, WELCOME, len) != 0)
        return MP_EAUTH;
    return 0;
}

/* ---- addresses -------------------------------------------------------------- */

/* A parsed address: a UNIX socket path, or a TCP host and port. */
typedef struct {
    bool unix;
    struct sockaddr_un un; /* unix: the socket address */
    socklen_t unlen;
    bool abstract;  /* unix: in the abstract namespace ("unix:@name") */
    char host[256]; /* tcp: without brackets */
    char port[8];   /* tcp: decimal */
} address;

/* Parse "unix:PATH", "unix:@NAME" or "tcp:HOST:PORT". Returns 0 or
 * -EINVAL / -ENAMETOOLONG. */
static int parse_address(const char *s, address *a)
{
    memset(a, 0, sizeof *a);
    if (strncmp(s, "unix:", 5) == 0) {
        const char *path = s + 5;
        size_t n = strlen(path);
        if (n == 0)
            return -EINVAL;
        if (n >= sizeof a->un.sun_path)
            return -ENAMETOOLONG;
        a->unix = true;
        a->un.sun_family = AF_UNIX;
        memcpy(a->un.sun_path, path, n);
        if (path[0] == '@') {
            a->abstract = true;
            a->un.sun_path[0] = '\0';
        }
        /* An abstract name's length is exact; a path's includes its NUL. */
        a->unlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + !a->abstract);
        return 0;
    }
    if (strncmp(s, "tcp:", 4) != 0)
        return -EINVAL;
    const char *host = s + 4, *colon = strrchr(host, ':');
    if (colon == NULL || colon == host)
        return -EINVAL;
    size_t hl = (size_t)(colon - host);
    if (host[0] == '[') {
        if (hl < 3 || host[hl - 1] != ']')
            return -EINVAL;
        host++;
        hl -= 2;
    }
    if (hl >= sizeof a->host)
        return -ENAMETOOLONG;
    memcpy(a->host, host, hl);
    const char *port = colon + 1;
    size_t pl = strlen(port);
    if (pl == 0 || pl > 5 || strspn(port, "0123456789") != pl || atoi(port) > 65535)
        return -EINVAL;
    memcpy(a->port, port, pl);
    return 0;
}

/* Resolve a TCP address. Returns 0 or a -errno (-EINVAL for a name that
 * does not resolve). */
static int resolve(const address *a, bool passive, struct addrinfo **res)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0)};
    int rc = getaddrinfo(a->host, a->port, &hints, res);
    if (rc == 0)
        return 0;
    if (rc == EAI_SYSTEM)
        return -errno;
    if (rc == EAI_MEMORY)
        return -ENOMEM;
    return -EINVAL;
}

/* Connections over TCP send whole frames in one call, so Nagle's delay
 * only costs (CPython leaves it on; nothing on the wire changes). */
static void tcp_nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* ---- listener ----------------------------------------------------------- */

struct mp_listener {
    int fd;             /* listening socket; -1 once closed */
    bool tcp;           /* connections get TCP_NODELAY */
    pid_t owner;        /* the creating process: only it removes the file */
    char *path;         /* socket file to remove on close, or NULL */
    unsigned char *key; /* authkey copy, or NULL for no authentication */
    size_t keylen;
    char address[300]; /* the bound address, "tcp:127.0.0.1:40123" */
};

/* Create a socket bound to a and listening. Returns the descriptor or
 * -errno. */
static int listen_on(const address *a, mp_listener *l)
{
    if (a->unix) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
            return -errno;
        if (bind(fd, (const struct sockaddr *)&a->un, a->unlen) < 0 || listen(fd, SOMAXCONN) < 0) {
            int e = errno;
            close(fd);
            return -e;
        }
        return fd;
    }
    struct addrinfo *res;
    int rc = resolve(a, true, &res);
    if (rc < 0)
        return rc;
    rc = -EADDRNOTAVAIL;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        int fd =
            socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) {
            rc = -errno;
            continue;
        }
        /* As CPython does on POSIX: a restarted server can bind again at
         * once while old connections linger in TIME_WAIT. */
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, SOMAXCONN) == 0) {
            rc = fd;
            l->tcp = true;
            break;
        }
        rc = -errno;
        close(fd);
    }
    freeaddrinfo(res);
    return rc;
}

/* Write the bound TCP address with its real port into l->address. */
static int tcp_bound_address(mp_listener *l)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(l->fd, (struct sockaddr *)&ss, &sl) < 0)
        return -errno;
    char host[INET6_ADDRSTRLEN];
    unsigned port;
    if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
        port = ntohs(s6->sin6_port);
        snprintf(l->address, sizeof l->address, "tcp:[%s]:%u", host, port);
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
        port = ntohs(s4->sin_port);
        snprintf(l->address, sizeof l->address, "tcp:%s:%u", host, port);
    }
    return 0;
}

MP_EXTERN mp_listener *mp_listener_new(const char *address_str, const void *authkey, size_t keylen)
{
    address a;
    int rc;
    if (address_str == NULL || (authkey == NULL && keylen > 0)) {
        errno = EINVAL;
        return NULL;
    }
    if ((rc = parse_address(address_str, &a)) < 0) {
        errno = -rc;
        return NULL;
    }
    mp_listener *l = calloc(1, sizeof *l);
    if (l == NULL)
        goto out_nomem;
    l->fd = -1;
    l->owner = getpid();
    if (authkey != NULL) {
        l->key = malloc(keylen ? keylen : 1);
        if (l->key == NULL)
            goto out_free;
        memcpy(l->key, authkey, keylen);
        l->keylen = keylen;
    }
    if (a.unix && !a.abstract && (l->path = strdup(a.un.sun_path)) == NULL)
        goto out_free;
    if ((rc = listen_on(&a, l)) < 0) {
        free(l->path);
        free(l->key);
        free(l);
        errno = -rc;
        return NULL;
    }
    l->fd = rc;
    if (a.unix) {
        snprintf(l->address, sizeof l->address, "%s", address_str);
    } else if ((rc = tcp_bound_address(l)) < 0) {
        mp_listener_free(l);
        errno = -rc;
        return NULL;
    }
    return l;
out_free:
    free(l->path);
    free(l->key);
    free(l);
out_nomem:
    errno = ENOMEM;
    return NULL;
}

MP_EXTERN const char *mp_listener_address(const mp_listener *l)
{
    return l == NULL ? NULL : l->address;
}

MP_EXTERN int mp_listener_accept(mp_listener *l, mp_conn **conn, double timeout)
{
    mp__deadline d;
    if (l == NULL || conn == NULL || mp__deadline_init(&d, timeout) < 0)
        return MP_EINVAL;
    if (l->fd < 0)
        return MP_ECLOSED;
    int fd;
    for (;;) {
        /* The listening socket is non-blocking, so a client taken by
         * another process sharing the listener (after a fork) means
         * waiting on, not hanging past the deadline. */
        fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0)
            break;
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        struct pollfd p = {.fd = l->fd, .events = POLLIN};
        int n = poll(&p, 1, mp__deadline_ms(&d));
        if (n < 0 && errno != EINTR)
            return -errno;
        if (n == 0 && mp__deadline_expired(&d))
            return MP_ETIMEDOUT;
    }
    if (l->tcp)
        tcp_nodelay(fd);
    mp_conn *c = mp__conn_new(fd, true, true, true);
    if (c == NULL) {
        close(fd);
        return MP_ENOMEM;
    }
    if (l->key != NULL) {
        int rc = deliver_challenge(c, l->key, l->keylen, &d);
        if (rc == 0)
            rc = answer_challenge(c, l->key, l->keylen, &d);
        if (rc < 0) {
            mp_conn_free(c);
            return rc;
        }
    }
    *conn = c;
    return 0;
}

MP_EXTERN int mp_listener_close(mp_listener *l)
{
    if (l == NULL)
        return MP_EINVAL;
    if (l->fd >= 0) {
        close(l->fd);
        l->fd = -1;
        /* A child that inherited the listener and closes its copy must
         * not take the parent's socket file away. */
        if (l->path != NULL && getpid() == l->owner)
            unlink(l->path);
    }
    return 0;
}

MP_EXTERN void mp_listener_free(mp_listener *l)
{
    if (l == NULL)
        return;
    mp_listener_close(l);
    free(l->path);
    free(l->key);
    free(l);
}

/* ---- client ------------------------------------------------------------- */

/* Wait for a non-blocking connect in progress on fd to finish within d.
 * Returns 0, MP_ETIMEDOUT or -errno (the connection's own error). */
static int connect_wait(int fd, const mp__deadline *d)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int n = poll(&p, 1, mp__deadline_ms(d));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0) {
            if (mp__deadline_expired(d))
                return MP_ETIMEDOUT;
            continue;
        }
        int err = 0;
        socklen_t el = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
            return -errno;
        return -err;
    }
}

/* Connect a non-blocking socket to sa within d. Returns the descriptor
 * (blocking again) or -errno / MP_ETIMEDOUT. */
static int connect_one(int family, const struct sockaddr *sa, socklen_t len, const mp__deadline *d)
{
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    int rc;
    for (;;) {
        rc = connect(fd, sa, len) == 0 ? 0 : -errno;
        if (rc == -EINPROGRESS || (rc == -EINTR && family != AF_UNIX)) {
            /* TCP goes on connecting in the background, even after EINTR. */
            rc = connect_wait(fd, d);
            break;
        }
        if (rc != -EAGAIN && rc != -EINTR)
            break;
        /* A UNIX listener with a full backlog: try again shortly. */
        if (mp__deadline_expired(d)) {
            rc = MP_ETIMEDOUT;
            break;
        }
        mp__sleep(BACKLOG_RETRY);
    }
    if (rc < 0) {
        close(fd);
        return rc;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return fd;
}

MP_EXTERN int mp_client_connect(const char *address_str, const void *authkey, size_t keylen,
                                mp_conn **conn, double timeout)
{
    mp__deadline d;
    address a;
    if (address_str == NULL || conn == NULL || (authkey == NULL && keylen > 0) ||
        mp__deadline_init(&d, timeout) < 0)
        return MP_EINVAL;
    int fd = parse_address(address_str, &a);
    if (fd < 0)
        return fd == -ENAMETOOLONG ? MP_EINVAL : fd;
    if (a.unix) {
        fd = connect_one(AF_UNIX, (const struct sockaddr *)&a.un, a.unlen, &d);
    } else {
        struct addrinfo *res;
        int rc = resolve(&a, false, &res);
        if (rc < 0)
            return rc;
        fd = -ECONNREFUSED;
        for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
            fd = connect_one(ai->ai_family, ai->ai_addr, ai->ai_addrlen, &d);
            if (fd >= 0 || fd == MP_ETIMEDOUT)
                break;
        }
        freeaddrinfo(res);
        if (fd >= 0)
            tcp_nodelay(fd);
    }
    if (fd < 0)
        return fd;
    mp_conn *c = mp__conn_new(fd, true, true, true);
    if (c == NULL) {
        close(fd);
        return MP_ENOMEM;
    }
    if (authkey != NULL) {
        int rc = answer_challenge(c, authkey, keylen, &d);
        if (rc == 0)
            rc = deliver_challenge(c, authkey, keylen, &d);
        if (rc < 0) {
            mp_conn_free(c);
            return rc;
        }
    }
    *conn = c;
    return 0;
}
