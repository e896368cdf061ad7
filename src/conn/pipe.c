/* pipe.c - framed connections over socket pairs and pipes, wire-compatible
 * with CPython's multiprocessing.connection. */
#include "mp/pipe.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "os/clock.h"
#include "conn/conn.h"
#include "mp/error.h"

/* Read-ahead buffer size. A message that fits is read together with its
 * header (and any that follow) in one system call; a longer one goes
 * straight into the caller's buffer. */
#define RBUF_SIZE (64 * 1024)

/* A long message received into memory of our own (mp_conn_recv_alloc, or
 * the part a timeout cut) starts in at most this much and grows as its
 * bytes come: the header's claim alone never reserves more. */
#define PART_FIRST (1024 * 1024)

/* Messages longer than this carry the 12-byte header (-1, then 64 bits). */
#define SHORT_MAX 0x7fffffffu

struct mp_conn {
    int fd;              /* -1 once closed */
    bool readable;       /* may receive */
    bool writable;       /* may send */
    bool sock;           /* a stream socket (else a pipe end) */
    bool eof;            /* a read returned 0: nothing more will come */
    bool broken;         /* lost the framing: bad header, or no memory mid-message */
    bool have_hdr;       /* the next message's header is consumed; msg_len valid */
    uint64_t msg_len;    /* length of the message being received */
    unsigned char *rbuf; /* read-ahead, RBUF_SIZE bytes, allocated on first receive */
    size_t rpos;         /* unconsumed read-ahead is rbuf[rpos, rend) */
    size_t rend;
    unsigned char *part; /* a long message cut by a timeout: its first part_have bytes */
    size_t part_have;
    size_t part_cap;     /* bytes allocated at part */
};

mp_conn *mp__conn_new(int fd, bool readable, bool writable, bool sock)
{
    mp_conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    c->fd = fd;
    c->readable = readable;
    c->writable = writable;
    c->sock = sock;
    return c;
}

MP_EXTERN int mp_pipe(mp_conn **c1, mp_conn **c2, bool duplex)
{
    if (c1 == NULL || c2 == NULL)
        return MP_EINVAL;
    int fds[2];
    if (duplex) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
            return -errno;
    } else {
        if (pipe2(fds, O_CLOEXEC) < 0)
            return -errno;
    }
    /* A one-way pipe: fds[0] is the read end, as Python's Pipe(False)
     * returns (reader, writer). */
    mp_conn *a = mp__conn_new(fds[0], true, duplex, duplex);
    mp_conn *b = mp__conn_new(fds[1], duplex, true, duplex);
    if (a == NULL || b == NULL) {
        free(a);
        free(b);
        close(fds[0]);
        close(fds[1]);
        return MP_ENOMEM;
    }
    *c1 = a;
    *c2 = b;
    return 0;
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- sending ------------------------------------------------------------ */

/* Write every byte of iov[0..cnt) (cnt <= 2), restarting after signals and
 * partial writes. Returns 0 or -errno. */
static int write_all(mp_conn *c, struct iovec *iov, int cnt)
{
    while (cnt > 0) {
        ssize_t n;
        if (c->sock) {
            struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)cnt};
            n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
        } else {
            n = writev(c->fd, iov, cnt);
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                /* Someone made the descriptor non-blocking: wait. */
                struct pollfd p = {.fd = c->fd, .events = POLLOUT};
                if (poll(&p, 1, -1) < 0 && errno != EINTR)
                    return -errno;
                continue;
            }
            return -errno;
        }
        size_t done = (size_t)n;
        while (cnt > 0 && done >= iov->iov_len) {
            done -= iov->iov_len;
            iov++;
            cnt--;
        }
        if (cnt > 0) {
            iov->iov_base = (char *)iov->iov_base + done;
            iov->iov_len -= done;
        }
    }
    return 0;
}

/* Write to a pipe end with SIGPIPE held off for this thread only: the
 * signal a write to a pipe without readers raises is blocked around the
 * write and, if the write raised it, taken back with sigtimedwait, so the
 * program's own SIGPIPE handling (or default death) is left alone for
 * everything else. Sockets need none of this: MSG_NOSIGNAL. */
static int write_pipe_nosigpipe(mp_conn *c, struct iovec *iov, int cnt)
{
    sigset_t pipeset, old;
    sigemptyset(&pipeset);
    sigaddset(&pipeset, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipeset, &old);
    /* If SIGPIPE was blocked already, one may be pending from before, and
     * that one is not ours to take. If it was not blocked, none can be
     * pending for this thread (it would have been delivered). */
    bool was_blocked = sigismember(&old, SIGPIPE);
    bool pending_before = false;
    if (was_blocked) {
        sigset_t pend;
        sigpending(&pend);
        pending_before = sigismember(&pend, SIGPIPE);
    }
    int rc = write_all(c, iov, cnt);
    if (rc == -EPIPE && !pending_before) {
        static const struct timespec zero = {0, 0};
        while (sigtimedwait(&pipeset, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    if (!was_blocked)
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

MP_EXTERN int mp_conn_send(mp_conn *c, const void *msg, size_t len)
{
    if (c == NULL || (msg == NULL && len > 0))
        return MP_EINVAL;
    if (c->fd < 0)
        return MP_ECLOSED;
    if (!c->writable)
        return MP_ESTATE;
    unsigned char hdr[12];
    struct iovec iov[2];
    if (len > SHORT_MAX) {
        put_be32(hdr, 0xffffffffu); /* -1: a 64-bit length follows */
        put_be32(hdr + 4, (uint32_t)((uint64_t)len >> 32));
        put_be32(hdr + 8, (uint32_t)len);
        iov[0] = (struct iovec){hdr, 12};
    } else {
        put_be32(hdr, (uint32_t)len);
        iov[0] = (struct iovec){hdr, 4};
    }
    iov[1] = (struct iovec){(void *)msg, len};
    int cnt = len > 0 ? 2 : 1;
    int rc = c->sock ? write_all(c, iov, cnt) : write_pipe_nosigpipe(c, iov, cnt);
    if (rc == -EPIPE || rc == -ECONNRESET)
        return MP_EEOF;
    return rc;
}

MP_EXTERN int mp_conn_send_str(mp_conn *c, const char *s)
{
    if (s == NULL)
        return MP_EINVAL;
    return mp_conn_send(c, s, strlen(s));
}

/* ---- receiving ---------------------------------------------------------- */

/* Wait until fd is readable or d passes. Returns 0 or MP_ETIMEDOUT. */
static int wait_readable(int fd, const mp__deadline *d)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int n = poll(&p, 1, mp__deadline_ms(d));
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -errno;
        if (n == 0 && mp__deadline_expired(d))
            return MP_ETIMEDOUT;
    }
}

/* Read what is available (at least one byte) into p, waiting until d.
 * Returns the count, 0 at the end of the stream (and sets c->eof),
 * MP_ETIMEDOUT, or -errno. The fast paths are one system call: a blocking
 * read when the wait is forever, a non-blocking recv otherwise (poll only
 * if nothing is there). A pipe has no per-call non-blocking flag, so with a
 * finite timeout it polls first. */
static ssize_t conn_read(mp_conn *c, void *p, size_t n, const mp__deadline *d)
{
    for (;;) {
        ssize_t r;
        if (c->sock) {
            r = recv(c->fd, p, n, d->forever ? 0 : MSG_DONTWAIT);
        } else {
            if (!d->forever) {
                int rc = wait_readable(c->fd, d);
                if (rc < 0)
                    return rc;
            }
            r = read(c->fd, p, n);
        }
        if (r > 0)
            return r;
        if (r == 0) {
            c->eof = true;
            return 0;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int rc = wait_readable(c->fd, d);
            if (rc < 0)
                return rc;
            continue;
        }
        if (errno == ECONNRESET) {
            /* The peer closed with our data unread: an end of stream. */
            c->eof = true;
            return 0;
        }
        return -errno;
    }
}

/* Read more into the read-ahead buffer, keeping its unconsumed bytes and
 * making room for at least `need` of them in a row. Returns as conn_read. */
static ssize_t fill(mp_conn *c, size_t need, const mp__deadline *d)
{
    if (c->rbuf == NULL) {
        c->rbuf = malloc(RBUF_SIZE);
        if (c->rbuf == NULL)
            return MP_ENOMEM;
    }
    if (c->rpos == c->rend) {
        c->rpos = c->rend = 0;
    } else if (RBUF_SIZE - c->rpos < need || c->rend == RBUF_SIZE) {
        memmove(c->rbuf, c->rbuf + c->rpos, c->rend - c->rpos);
        c->rend -= c->rpos;
        c->rpos = 0;
    }
    ssize_t n = conn_read(c, c->rbuf + c->rend, RBUF_SIZE - c->rend, d);
    if (n > 0)
        c->rend += (size_t)n;
    return n;
}

/* Parse a whole header at the front of the read-ahead without consuming
 * it. Returns its size (4 or 12) with *len set, 0 if more bytes are
 * needed, or -EPROTO for a length no CPython peer sends. */
static int peek_header(const mp_conn *c, uint64_t *len)
{
    size_t avail = c->rend - c->rpos;
    const unsigned char *p = c->rbuf + c->rpos;
    if (avail < 4)
        return 0;
    uint32_t v = get_be32(p);
    if (v <= SHORT_MAX) {
        *len = v;
        return 4;
    }
    if (v != 0xffffffffu)
        return -EPROTO;
    if (avail < 12)
        return 0;
    *len = (uint64_t)get_be32(p + 4) << 32 | get_be32(p + 8);
    return 12;
}

/* Forget the saved part of a message. */
static void drop_part(mp_conn *c)
{
    free(c->part);
    c->part = NULL;
    c->part_have = c->part_cap = 0;
}

/* Make c->part hold at least `need` bytes, and at most `limit`: it doubles
 * (from PART_FIRST), so the copies cost at most as much again as the bytes
 * received, and memory follows what came rather than what a header claims.
 * Returns 0 or MP_ENOMEM (the part unchanged). */
static int part_reserve(mp_conn *c, size_t need, size_t limit)
{
    if (need <= c->part_cap)
        return 0;
    size_t n = c->part_cap > limit / 2 ? limit : c->part_cap * 2;
    if (n < PART_FIRST)
        n = PART_FIRST < limit ? PART_FIRST : limit;
    if (n < need)
        n = need;
    unsigned char *p = realloc(c->part, n);
    if (p == NULL)
        return MP_ENOMEM;
    c->part = p;
    c->part_cap = n;
    return 0;
}

/* End of stream in the middle of a frame: drop what there is of it, so
 * the caller sees MP_EEOF now and on every later call. */
static int truncated(mp_conn *c)
{
    c->have_hdr = false;
    c->rpos = c->rend = 0;
    drop_part(c);
    return MP_EEOF;
}

/* Make sure the next message's header has been read and consumed. Returns
 * 0, MP_EEOF, MP_ETIMEDOUT, -EPROTO, MP_ENOMEM or -errno. */
static int next_header(mp_conn *c, const mp__deadline *d)
{
    while (!c->have_hdr) {
        if (c->rbuf != NULL) {
            uint64_t len;
            int h = peek_header(c, &len);
            if (h < 0) {
                c->broken = true;
                return h;
            }
            if (h > 0) {
                c->rpos += (size_t)h;
                c->msg_len = len;
                c->have_hdr = true;
                return 0;
            }
        }
        if (c->eof)
            return truncated(c);
        ssize_t n = fill(c, 12, d);
        if (n < 0)
            return (int)n;
    }
    return 0;
}

/* Receive the body of the message whose header is consumed into buf,
 * which holds at least msg_len bytes. Short messages are gathered in the
 * read-ahead; long ones are read straight into buf, and if the wait runs
 * out part-way, the part is saved in c->part so nothing is lost. */
static int recv_body(mp_conn *c, unsigned char *buf, const mp__deadline *d)
{
    size_t want = (size_t)c->msg_len;
    if (c->part == NULL && want <= RBUF_SIZE) {
        while (c->rend - c->rpos < want) {
            if (c->eof)
                return truncated(c);
            ssize_t n = fill(c, want, d);
            if (n < 0)
                return (int)n;
        }
        if (want > 0)
            memcpy(buf, c->rbuf + c->rpos, want);
        c->rpos += want;
        c->have_hdr = false;
        return 0;
    }
    /* A long message: what was saved, then what was read ahead, then the
     * descriptor, all into buf. (With a part saved, the read-ahead is
     * empty: reads went straight to the caller's buffer since.) */
    size_t have = 0;
    if (c->part != NULL) {
        memcpy(buf, c->part, c->part_have);
        have = c->part_have;
    }
    if (c->rbuf != NULL && c->rend > c->rpos) {
        size_t take = c->rend - c->rpos;
        if (take > want - have)
            take = want - have;
        memcpy(buf + have, c->rbuf + c->rpos, take);
        c->rpos += take;
        have += take;
    }
    while (have < want) {
        ssize_t n = c->eof ? 0 : conn_read(c, buf + have, want - have, d);
        if (n == 0)
            return truncated(c);
        if (n < 0) {
            /* Save the part that came, so the next call goes on. Without
             * memory for it, those bytes are lost and the framing too. */
            if (part_reserve(c, have, want) < 0) {
                c->broken = true;
                return MP_ENOMEM;
            }
            if (have > c->part_have)
                memcpy(c->part + c->part_have, buf + c->part_have, have - c->part_have);
            c->part_have = have;
            return (int)n;
        }
        have += (size_t)n;
    }
    drop_part(c);
    c->have_hdr = false;
    return 0;
}

/* Receive the long message whose header is consumed into c->part, growing
 * it as the bytes come, and hand it over in *out with `extra` spare bytes
 * after it. A timeout keeps what came in c->part (the read-ahead is then
 * empty, as recv_body expects). MP_ENOMEM, when the part cannot grow for
 * bytes that are there, loses nothing: the message stays. */
static int recv_body_grow(mp_conn *c, size_t extra, unsigned char **out, const mp__deadline *d)
{
    uint64_t want = c->msg_len;
    /* The size of the caller's buffer; SIZE_MAX for a claim no buffer can
     * hold, which fails only once the part must grow that far. */
    size_t limit = want > SIZE_MAX - extra - 1 ? SIZE_MAX : (size_t)want + extra + 1;
    size_t have = c->part_have;
    if (c->rbuf != NULL && c->rend > c->rpos) {
        size_t take = c->rend - c->rpos;
        if (take > want - have)
            take = (size_t)(want - have);
        if (part_reserve(c, have + take, limit) < 0)
            return MP_ENOMEM;
        memcpy(c->part + have, c->rbuf + c->rpos, take);
        c->rpos += take;
        c->part_have = have += take;
    }
    while (have < want) {
        if (c->eof)
            return truncated(c);
        if (part_reserve(c, have + 1, limit) < 0)
            return MP_ENOMEM;
        size_t room = c->part_cap - have;
        if (room > want - have)
            room = (size_t)(want - have);
        ssize_t n = conn_read(c, c->part + have, room, d);
        if (n == 0)
            return truncated(c);
        if (n < 0)
            return (int)n;
        c->part_have = have += (size_t)n;
    }
    if (part_reserve(c, limit, limit) < 0)
        return MP_ENOMEM;
    *out = c->part;
    c->part = NULL;
    c->part_have = c->part_cap = 0;
    c->have_hdr = false;
    return 0;
}

/* The checks every receive makes first. */
static int recv_check(mp_conn *c, mp__deadline *d, double timeout)
{
    if (c == NULL)
        return MP_EINVAL;
    if (mp__deadline_init(d, timeout) < 0)
        return MP_EINVAL;
    if (c->fd < 0)
        return MP_ECLOSED;
    if (!c->readable)
        return MP_ESTATE;
    if (c->broken)
        return -EPROTO;
    return 0;
}

MP_EXTERN int mp_conn_recv(mp_conn *c, void *buf, size_t cap, size_t *len, double timeout)
{
    mp__deadline d;
    if (len == NULL || (buf == NULL && cap > 0))
        return MP_EINVAL;
    int rc = recv_check(c, &d, timeout);
    if (rc < 0)
        return rc;
    /* Fast path: a whole short message already read ahead. */
    if (!c->have_hdr && c->rbuf != NULL) {
        uint64_t n;
        int h = peek_header(c, &n);
        if (h > 0 && c->rend - c->rpos - (size_t)h >= n && n <= cap) {
            if (n > 0)
                memcpy(buf, c->rbuf + c->rpos + h, (size_t)n);
            c->rpos += (size_t)h + (size_t)n;
            *len = (size_t)n;
            return 0;
        }
    }
    if ((rc = next_header(c, &d)) < 0)
        return rc;
    if (c->msg_len > cap) {
        *len = c->msg_len > SIZE_MAX ? SIZE_MAX : (size_t)c->msg_len;
        return MP_EMSGSIZE;
    }
    if ((rc = recv_body(c, buf, &d)) < 0)
        return rc;
    *len = (size_t)c->msg_len;
    return 0;
}

/* Receive into a malloc()ed buffer with `extra` spare bytes after the
 * message (1 for a string's NUL). */
static int recv_alloc(mp_conn *c, void **msg, size_t *len, size_t extra, double timeout)
{
    mp__deadline d;
    int rc = recv_check(c, &d, timeout);
    if (rc < 0)
        return rc;
    if ((rc = next_header(c, &d)) < 0)
        return rc;
    unsigned char *buf = NULL;
    if (c->part == NULL && c->msg_len <= RBUF_SIZE) {
        /* Short: gathered in the read-ahead, so a timeout loses nothing. */
        buf = malloc((size_t)c->msg_len + extra + 1); /* never malloc(0) */
        if (buf == NULL)
            return MP_ENOMEM;
        if ((rc = recv_body(c, buf, &d)) < 0) {
            free(buf);
            return rc;
        }
    } else if ((rc = recv_body_grow(c, extra, &buf, &d)) < 0) {
        return rc;
    }
    *msg = buf;
    *len = (size_t)c->msg_len;
    return 0;
}

MP_EXTERN int mp_conn_recv_alloc(mp_conn *c, void **msg, size_t *len, double timeout)
{
    if (msg == NULL || len == NULL)
        return MP_EINVAL;
    return recv_alloc(c, msg, len, 0, timeout);
}

MP_EXTERN int mp_conn_recv_str(mp_conn *c, char **s, double timeout)
{
    if (s == NULL)
        return MP_EINVAL;
    void *msg;
    size_t len;
    int rc = recv_alloc(c, &msg, &len, 1, timeout);
    if (rc < 0)
        return rc;
    ((char *)msg)[len] = '\0';
    *s = msg;
    return 0;
}

/* ---- readiness ---------------------------------------------------------- */

/* True when a receive would return at once without reading the descriptor:
 * a whole message is held, or the end of the stream (or an error) is. */
static bool held_ready(const mp_conn *c)
{
    if (c->eof || c->broken)
        return true;
    if (c->rbuf == NULL || c->part != NULL)
        return false;
    size_t avail = c->rend - c->rpos;
    if (c->have_hdr)
        return avail >= c->msg_len;
    uint64_t n;
    int h = peek_header(c, &n);
    return h < 0 || (h > 0 && avail - (size_t)h >= n);
}

static int ready_check(const mp_conn *c)
{
    if (c == NULL)
        return MP_EINVAL;
    if (c->fd < 0)
        return MP_ECLOSED;
    if (!c->readable)
        return MP_ESTATE;
    return 0;
}

MP_EXTERN int mp_wait(mp_conn *const *conns, size_t n, double timeout, bool *ready)
{
    mp__deadline d;
    if (conns == NULL || n == 0 || mp__deadline_init(&d, timeout) < 0)
        return MP_EINVAL;
    for (size_t i = 0; i < n; i++) {
        int rc = ready_check(conns[i]);
        if (rc < 0)
            return rc;
    }
    struct pollfd stackfds[16];
    struct pollfd *fds = stackfds;
    if (n > sizeof stackfds / sizeof stackfds[0]) {
        fds = calloc(n, sizeof *fds);
        if (fds == NULL)
            return MP_ENOMEM;
    }
    /* Held messages make the wait a mere check of the others. */
    bool any_held = false;
    for (size_t i = 0; i < n; i++) {
        fds[i] = (struct pollfd){.fd = conns[i]->fd, .events = POLLIN};
        any_held |= held_ready(conns[i]);
    }
    int rc;
    for (;;) {
        rc = poll(fds, (nfds_t)n, any_held ? 0 : mp__deadline_ms(&d));
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        if (rc > 0 || any_held || mp__deadline_expired(&d))
            break;
    }
    if (rc >= 0) {
        int count = 0;
        for (size_t i = 0; i < n; i++) {
            bool r = rc > 0 && fds[i].revents != 0;
            r = r || held_ready(conns[i]);
            count += r;
            if (ready != NULL)
                ready[i] = r;
        }
        rc = count;
    }
    if (fds != stackfds)
        free(fds);
    return rc;
}

MP_EXTERN int mp_conn_poll(mp_conn *c, double timeout)
{
    mp__deadline d;
    int rc = ready_check(c);
    if (rc < 0)
        return rc;
    if (mp__deadline_init(&d, timeout) < 0)
        return MP_EINVAL;
    if (held_ready(c))
        return 1;
    rc = wait_readable(c->fd, &d);
    if (rc == MP_ETIMEDOUT)
        return 0;
    return rc < 0 ? rc : 1;
}

/* ---- lifetime ----------------------------------------------------------- */

MP_EXTERN int mp_conn_fileno(const mp_conn *c)
{
    if (c == NULL)
        return MP_EINVAL;
    return c->fd < 0 ? MP_ECLOSED : c->fd;
}

MP_EXTERN int mp_conn_close(mp_conn *c)
{
    if (c == NULL)
        return MP_EINVAL;
    if (c->fd >= 0) {
        /* Linux closes the descriptor even when close() reports EINTR:
         * never retry (it could close a descriptor reused meanwhile). */
        close(c->fd);
        c->fd = -1;
    }
    free(c->rbuf);
    c->rbuf = NULL;
    c->rpos = c->rend = 0;
    drop_part(c);
    c->have_hdr = false;
    return 0;
}

MP_EXTERN void mp_conn_free(mp_conn *c)
{
    if (c == NULL)
        return;
    mp_conn_close(c);
    free(c);
}
