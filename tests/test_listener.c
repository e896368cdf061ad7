/* test_listener.c - Listener/Client over UNIX and TCP (loopback only),
 * the authkey handshake, and interop with the real CPython both ways. */
/* ctest-timeout: 400 */
#include "mp_test.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "crypto/hmac.h"

#define PEER_PY MP_SOURCE_DIR "/tests/py/peer.py"
#define MIB     (1u << 20)

static char g_dir[64]; /* a fresh directory for UNIX socket files */

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/mp_listener_XXXXXX");
    return mkdtemp(g_dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void sock_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", g_dir, name);
}

/* ---- the messages both sides check (as in tests/py/peer.py) ------------ */

static unsigned char *big_msg(bool ascending)
{
    unsigned char *m = malloc(MIB);
    for (size_t i = 0; i < MIB; i++)
        m[i] = (unsigned char)(ascending ? i : 255 - i);
    return m;
}

/* libmp's side of the exchange: three messages out, three checked in,
 * then close. Returns 0, or which step failed. */
static int exchange(mp_conn *c)
{
    unsigned char *up = big_msg(true), *down = big_msg(false);
    int rc = 0;
    if (mp_conn_send(c, NULL, 0) != 0 || mp_conn_send_str(c, "hello from libmp") != 0 ||
        mp_conn_send(c, up, MIB) != 0)
        rc = 1;
    void *m = NULL;
    size_t len;
    if (rc == 0 && (mp_conn_recv_alloc(c, &m, &len, 20) != 0 || len != 0))
        rc = 2;
    free(m);
    m = NULL;
    if (rc == 0 && (mp_conn_recv_alloc(c, &m, &len, 20) != 0 || len != 17 ||
                    memcmp(m, "hello from python", 17) != 0))
        rc = 3;
    free(m);
    m = NULL;
    if (rc == 0 &&
        (mp_conn_recv_alloc(c, &m, &len, 20) != 0 || len != MIB || memcmp(m, down, MIB) != 0))
        rc = 4;
    free(m);
    free(up);
    free(down);
    return rc;
}

/* ---- running python ------------------------------------------------------ */

typedef struct {
    pid_t pid;
    int out; /* its stdout */
} py_proc;

/* Start `python peer.py role family address key` with its stdout on a
 * pipe; python is run as the interpreter it names (mpt_python). A missing
 * interpreter fails the test. */
static py_proc py_start(const char *python, const char *role, const char *family,
                        const char *address, const char *key)
{
    const char *exe = mpt_python(python);
    assert_non_null(exe);
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        abort();
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        execl(exe, exe, PEER_PY, role, family, address, key, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    return (py_proc){pid, p[0]};
}

/* Read the line a listening peer prints, within 20 s. */
static bool py_line(const py_proc *py, char *buf, size_t cap)
{
    size_t n = 0;
    double end = mpt_now() + 20;
    while (n + 1 < cap) {
        struct pollfd p = {.fd = py->out, .events = POLLIN};
        if (poll(&p, 1, 1000) <= 0) {
            if (mpt_now() > end)
                return false;
            continue;
        }
        ssize_t r = read(py->out, buf + n, 1);
        if (r <= 0)
            return false;
        if (buf[n] == '\n')
            break;
        n++;
    }
    buf[n] = '\0';
    return true;
}

static int py_finish(py_proc *py)
{
    close(py->out);
    return mpt_wait(py->pid);
}

/* A Python listener accepts a libmp client. */
static void python_listens(const char *python, bool tcp, const char *pykey, const char *key,
                           int want_rc, int want_exit)
{
    char path[128], addr[200], line[160];
    sock_path(path, sizeof path, "py.sock");
    unlink(path);
    py_proc py = py_start(python, "listen", tcp ? "tcp" : "unix", tcp ? "127.0.0.1" : path, pykey);
    assert_true(py_line(&py, line, sizeof line));
    snprintf(addr, sizeof addr, "%s:%s", tcp ? "tcp" : "unix", line);
    mp_conn *c = NULL;
    int rc = mp_client_connect(addr, key, key ? strlen(key) : 0, &c, 20);
    assert_int_equal(rc, want_rc);
    if (rc == 0) {
        assert_int_equal(exchange(c), 0);
        mp_conn_free(c);
    }
    assert_int_equal(py_finish(&py), want_exit);
}

/* A libmp listener accepts a Python client. */
static void python_connects(const char *python, bool tcp, const char *key, const char *pykey,
                            int want_rc, int want_exit)
{
    char path[128], addr[200];
    sock_path(path, sizeof path, "mp.sock");
    snprintf(addr, sizeof addr, "unix:%s", path);
    mp_listener *l = mp_listener_new(tcp ? "tcp:127.0.0.1:0" : addr, key, key ? strlen(key) : 0);
    assert_non_null(l);
    const char *bound = mp_listener_address(l);
    py_proc py = py_start(python, "connect", tcp ? "tcp" : "unix", strchr(bound, ':') + 1, pykey);
    mp_conn *c = NULL;
    int rc = mp_listener_accept(l, &c, 20);
    assert_int_equal(rc, want_rc);
    if (rc == 0) {
        assert_int_equal(exchange(c), 0);
        mp_conn_free(c);
    }
    assert_int_equal(py_finish(&py), want_exit);
    mp_listener_free(l);
}

static void test_python_listener_accepts_libmp_client(void **state)
{
    (void)state;
    for (int tcp = 0; tcp < 2; tcp++) {
        python_listens("python3", tcp, "secret", "secret", 0, 0);
        python_listens("python3", tcp, "-", NULL, 0, 0);
    }
}

static void test_libmp_listener_accepts_python_client(void **state)
{
    (void)state;
    for (int tcp = 0; tcp < 2; tcp++) {
        python_connects("python3", tcp, "secret", "secret", 0, 0);
        python_connects("python3", tcp, NULL, "-", 0, 0);
    }
}

static void test_wrong_key_fails_on_both_sides_with_python(void **state)
{
    (void)state;
    for (int tcp = 0; tcp < 2; tcp++) {
        /* libmp sees MP_EAUTH, Python AuthenticationError (exit 3). */
        python_listens("python3", tcp, "secret", "wrong", MP_EAUTH, 3);
        python_connects("python3", tcp, "secret", "wrong", MP_EAUTH, 3);
    }
}

/* Python 3.12 and later speak the "{sha256}" form. CI's python3 may be
 * older: then look for a newer one by name; the test is skipped (and says
 * so) if there is none. MP_TEST_PYTHON312 names one explicitly. Returns
 * the interpreter's own path. */
static const char *find_python312(void)
{
    static const char *names[] = {NULL, "python3.13", "python3.12", "python3"};
    names[0] = getenv("MP_TEST_PYTHON312");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *exe = names[i] == NULL ? NULL : mpt_python(names[i]);
        if (exe == NULL)
            continue;
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            execl(exe, exe, "-c", "import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)",
                  (char *)NULL);
            _exit(127);
        }
        if (mpt_wait(pid) == 0)
            return exe;
    }
    return NULL;
}

static void test_sha256_handshake_with_python312_both_ways(void **state)
{
    (void)state;
    const char *py = find_python312();
    if (py == NULL) {
        print_message("note: no python >= 3.12 found; {sha256} interop skipped "
                      "(libmp-to-libmp covers the form; MP_TEST_PYTHON312 names one)\n");
        skip();
    }
    print_message("using %s for the {sha256} handshake\n", py);
    for (int tcp = 0; tcp < 2; tcp++) {
        python_listens(py, tcp, "secret", "secret", 0, 0);
        python_connects(py, tcp, "secret", "secret", 0, 0);
        python_listens(py, tcp, "secret", "wrong", MP_EAUTH, 3);
        python_connects(py, tcp, "secret", "wrong", MP_EAUTH, 3);
    }
}

/* ---- libmp on both ends -------------------------------------------------- */

static char g_addr[200];
static const char *g_key;

static int libmp_client(void *arg)
{
    (void)arg;
    mp_conn *c;
    int rc = mp_client_connect(g_addr, g_key, g_key ? strlen(g_key) : 0, &c, 10);
    if (rc == MP_EAUTH)
        return 3;
    if (rc != 0)
        return 10;
    char *s = NULL;
    if (mp_conn_recv_str(c, &s, 10) != 0 || strcmp(s, "from listener") != 0)
        return 11;
    free(s);
    if (mp_conn_send_str(c, "from client") != 0)
        return 12;
    mp_conn_free(c);
    return 0;
}

static void libmp_pair(const char *address, const char *lkey, const char *ckey, int want)
{
    mp_listener *l = mp_listener_new(address, lkey, lkey ? strlen(lkey) : 0);
    assert_non_null(l);
    snprintf(g_addr, sizeof g_addr, "%s", mp_listener_address(l));
    g_key = ckey;
    pid_t pid = mpt_fork(libmp_client, NULL);
    mp_conn *c = NULL;
    int rc = mp_listener_accept(l, &c, 10);
    assert_int_equal(rc, want);
    if (rc == 0) {
        assert_int_equal(mp_conn_send_str(c, "from listener"), 0);
        char *s = NULL;
        assert_int_equal(mp_conn_recv_str(c, &s, 10), 0);
        assert_string_equal(s, "from client");
        free(s);
        mp_conn_free(c);
    }
    assert_int_equal(mpt_wait(pid), want == 0 ? 0 : 3);
    mp_listener_free(l);
}

static void test_libmp_listener_and_client_over_unix_and_tcp(void **state)
{
    (void)state;
    char unix_addr[160];
    char path[128];
    sock_path(path, sizeof path, "pair.sock");
    snprintf(unix_addr, sizeof unix_addr, "unix:%s", path);
    char abstract[64];
    snprintf(abstract, sizeof abstract, "unix:@mp_test_%d", (int)getpid());
    const char *addrs[] = {unix_addr, "tcp:127.0.0.1:0", abstract, "tcp:localhost:0"};
    for (size_t i = 0; i < sizeof addrs / sizeof addrs[0]; i++) {
        libmp_pair(addrs[i], "secret", "secret", 0);
        libmp_pair(addrs[i], NULL, NULL, 0);
        libmp_pair(addrs[i], "secret", "wrong", MP_EAUTH);
        libmp_pair(addrs[i], "", "", 0); /* an empty key is still a key */
        libmp_pair(addrs[i], "", "x", MP_EAUTH);
    }
    struct stat st;
    assert_int_equal(stat(path, &st), -1); /* the socket file went with close */
}

static void test_listener_address_and_lifecycle(void **state)
{
    (void)state;
    mp_listener *l = mp_listener_new("tcp:127.0.0.1:0", NULL, 0);
    assert_non_null(l);
    const char *a = mp_listener_address(l);
    unsigned port = 0;
    assert_int_equal(sscanf(a, "tcp:127.0.0.1:%u", &port), 1);
    assert_true(port > 0 && port < 65536);
    /* The port is really ours: a second listener on it fails. */
    mp_listener *l2 = mp_listener_new(a, NULL, 0);
    assert_null(l2);
    assert_int_equal(errno, EADDRINUSE);

    mp_conn *c = (mp_conn *)0x1;
    double t0 = mpt_now();
    assert_int_equal(mp_listener_accept(l, &c, 0.2), MP_ETIMEDOUT);
    double el = mpt_now() - t0;
    assert_true(el >= 0.19 && el < 0.2 + MPT_SLACK);
    assert_true(c == (mp_conn *)0x1);
    assert_int_equal(mp_listener_accept(l, &c, 0), MP_ETIMEDOUT);
    assert_int_equal(mp_listener_accept(l, &c, NAN), MP_EINVAL);
    assert_int_equal(mp_listener_close(l), 0);
    assert_int_equal(mp_listener_close(l), 0);
    assert_int_equal(mp_listener_accept(l, &c, 0), MP_ECLOSED);
    /* Nobody listens there now. */
    assert_int_equal(mp_client_connect(a, NULL, 0, &c, 1), -ECONNREFUSED);
    mp_listener_free(l);
    mp_listener_free(NULL);

    /* IPv6 loopback, if the machine has it. */
    l = mp_listener_new("tcp:[::1]:0", NULL, 0);
    if (l != NULL) {
        assert_true(strncmp(mp_listener_address(l), "tcp:[::1]:", 10) == 0);
        mp_listener_free(l);
    }

    /* UNIX: the file exists while listening, not after; an existing one
     * is in use. */
    char path[128], addr[160];
    sock_path(path, sizeof path, "life.sock");
    snprintf(addr, sizeof addr, "unix:%s", path);
    l = mp_listener_new(addr, "k", 1);
    assert_non_null(l);
    assert_string_equal(mp_listener_address(l), addr);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_null(mp_listener_new(addr, NULL, 0));
    assert_int_equal(errno, EADDRINUSE);
    /* A forked child closing its copy leaves the file alone. */
    pid_t pid = fork();
    if (pid == 0) {
        mp_listener_free(l);
        _exit(0);
    }
    assert_int_equal(mpt_wait(pid), 0);
    assert_int_equal(stat(path, &st), 0);
    mp_listener_free(l);
    assert_int_equal(stat(path, &st), -1);
    assert_int_equal(mp_client_connect(addr, NULL, 0, &c, 1), -ENOENT);

    /* Bad input. */
    const char *bad[] = {"",        "unix:",          "tcp:",           "tcp:127.0.0.1",
                         "tcp::80", "tcp:127.0.0.1:", "tcp:1.2.3.4:x1", "tcp:127.0.0.1:70000",
                         "udp:x:1", "tcp:[::1:0",     "127.0.0.1:0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        assert_null(mp_listener_new(bad[i], NULL, 0));
        assert_int_equal(errno, EINVAL);
        assert_int_equal(mp_client_connect(bad[i], NULL, 0, &c, 1), MP_EINVAL);
    }
    char longpath[300];
    memset(longpath, 'a', sizeof longpath);
    memcpy(longpath, "unix:/", 6);
    longpath[sizeof longpath - 1] = '\0';
    assert_null(mp_listener_new(longpath, NULL, 0));
    assert_int_equal(errno, ENAMETOOLONG);
    assert_int_equal(mp_client_connect(longpath, NULL, 0, &c, 1), MP_EINVAL);
    assert_null(mp_listener_new(NULL, NULL, 0));
    assert_null(mp_listener_new("tcp:127.0.0.1:0", NULL, 3));
    assert_int_equal(mp_client_connect(NULL, NULL, 0, &c, 1), MP_EINVAL);
    assert_int_equal(mp_client_connect("tcp:127.0.0.1:1", NULL, 0, NULL, 1), MP_EINVAL);
    assert_int_equal(mp_client_connect("tcp:127.0.0.1:1", NULL, 0, &c, NAN), MP_EINVAL);
    assert_int_equal(mp_listener_accept(NULL, &c, 0), MP_EINVAL);
    assert_int_equal(mp_listener_close(NULL), MP_EINVAL);
    assert_null(mp_listener_address(NULL));
}

/* ---- a peer that breaks the handshake ------------------------------------- */

static int raw_connect(const char *tcp_addr)
{
    unsigned port;
    sscanf(tcp_addr, "tcp:127.0.0.1:%u", &port);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        abort();
    return fd;
}

static void send_all(int fd, const void *p, size_t n)
{
    if (send(fd, p, n, MSG_NOSIGNAL) != (ssize_t)n)
        abort();
}

/* Garbage a client can send instead of its answer. */
static void test_listener_survives_a_client_that_sends_garbage(void **state)
{
    (void)state;
    mp_listener *l = mp_listener_new("tcp:127.0.0.1:0", "secret", 6);
    assert_non_null(l);
    const char *a = mp_listener_address(l);
    mp_conn *c = NULL;
    struct {
        const char *what;
        const char *bytes;
        size_t n;
    } cases[] = {
        {"hang up at once", "", 0},
        {"a header promising 1 GiB", "\x40\0\0\0", 4},
        {"a negative length", "\xf0\0\0\0", 4},
        {"a 300-byte answer", "\0\0\x01\x2c", 4},
        {"a 16-byte wrong MD5",
         "\0\0\0\x10"
         "0123456789abcdef",
         20},
        {"an unknown digest", "\0\0\0\x0c{sha512}abcd", 16},
        {"a cut frame",
         "\0\0\0\x10"
         "01234",
         9},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int fd = raw_connect(a);
        if (cases[i].n > 0)
            send_all(fd, cases[i].bytes, cases[i].n);
        shutdown(fd, SHUT_WR);
        double t0 = mpt_now();
        int rc = mp_listener_accept(l, &c, 5);
        if (rc != MP_EAUTH)
            fail_msg("%s: accept returned %d", cases[i].what, rc);
        assert_true(mpt_now() - t0 < MPT_SLACK); /* not the 5 s timeout */
        close(fd);
    }
    /* A client that says nothing: the handshake ends with the timeout. */
    int fd = raw_connect(a);
    double t0 = mpt_now();
    assert_int_equal(mp_listener_accept(l, &c, 0.3), MP_ETIMEDOUT);
    double el = mpt_now() - t0;
    assert_true(el >= 0.29 && el < 0.3 + MPT_SLACK);
    close(fd);
    /* And the listener still works. */
    snprintf(g_addr, sizeof g_addr, "%s", a);
    g_key = "secret";
    pid_t pid = mpt_fork(libmp_client, NULL);
    assert_int_equal(mp_listener_accept(l, &c, 10), 0);
    assert_int_equal(mp_conn_send_str(c, "from listener"), 0);
    char *s;
    assert_int_equal(mp_conn_recv_str(c, &s, 10), 0);
    free(s);
    mp_conn_free(c);
    assert_int_equal(mpt_wait(pid), 0);
    mp_listener_free(l);
}

/* The listening socket of the scripted raw servers below. */
static int g_srv;

/* raw_listen opens g_srv, a plain TCP listener on a free loopback port,
 * and writes libmp's address for it to addr. */
static void raw_listen(char *addr, size_t size)
{
    g_srv = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    assert_int_equal(bind(g_srv, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(g_srv, 8), 0);
    assert_int_equal(getsockname(g_srv, (struct sockaddr *)&sa, &sl), 0);
    snprintf(addr, size, "tcp:127.0.0.1:%u", ntohs(sa.sin_port));
}

/* Garbage a server can send instead of its challenge: a forked raw server
 * accepts, writes the bytes, and then hangs up or waits for the client to
 * go away. */
static const char *g_garbage; /* NULL: say nothing */
static size_t g_garbage_n;
static bool g_hangup;

static int raw_server(void *arg)
{
    (void)arg;
    int fd = accept(g_srv, NULL, NULL);
    if (fd < 0)
        return 1;
    if (g_garbage_n > 0 && send(fd, g_garbage, g_garbage_n, MSG_NOSIGNAL) < 0)
        return 2;
    if (g_hangup)
        return 0;
    char buf[512];
    while (read(fd, buf, sizeof buf) > 0)
        ;
    return 0;
}

static void test_client_survives_a_server_that_sends_garbage(void **state)
{
    (void)state;
    char addr[64];
    raw_listen(addr, sizeof addr);
    struct {
        const char *what;
        const char *bytes;
        size_t n;
        bool hangup;
        int want;
    } cases[] = {
        {"hello instead of a challenge", "\0\0\0\x05hello", 9, false, MP_EAUTH},
        {"a challenge too short", "\0\0\0\x10#CHALLENGE#abcde", 20, false, MP_EAUTH},
        {"an unknown digest", "\0\0\0\x23#CHALLENGE#{sha512}0123456789abcdef", 39, false, MP_EAUTH},
        {"no digest prefix, 30 bytes", "\0\0\0\x29#CHALLENGE#0123456789abcdef0123456789abcd", 45,
         false, MP_EAUTH},
        {"a header promising 1 GiB", "\x40\0\0\0", 4, false, MP_EAUTH},
        {"a negative length", "\xf0\0\0\0", 4, false, MP_EAUTH},
        {"a cut frame", "\0\0\0\x40#CHALL", 10, true, MP_EAUTH},
        {"hang up at once", "", 0, true, MP_EAUTH},
        {"silence", NULL, 0, false, MP_ETIMEDOUT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        g_garbage = cases[i].bytes;
        g_garbage_n = cases[i].n;
        g_hangup = cases[i].hangup;
        pid_t pid = mpt_fork(raw_server, NULL);
        mp_conn *c = NULL;
        double timeout = cases[i].want == MP_ETIMEDOUT ? 0.3 : 5;
        double t0 = mpt_now();
        int rc = mp_client_connect(addr, "secret", 6, &c, timeout);
        double el = mpt_now() - t0;
        if (rc != cases[i].want)
            fail_msg("%s: connect returned %d", cases[i].what, rc);
        /* Garbage fails at once, not after the 5 s timeout; silence ends
         * with its own 0.3 s. */
        assert_true(el < (rc == MP_ETIMEDOUT ? timeout : 0) + MPT_SLACK);
        if (rc == MP_ETIMEDOUT)
            assert_true(el >= 0.29);
        assert_int_equal(mpt_wait(pid), 0);
    }
    close(g_srv);
}

/* A server written out by hand, checking libmp's client byte by byte:
 * the answer to a legacy 20-byte challenge must be the bare HMAC-MD5, the
 * answer to a "{sha256}" one "{sha256}" + HMAC-SHA256 of the whole
 * challenge; libmp's own challenge must be "{sha256}" + 40 bytes, and it
 * must accept either form of answer. */
static bool read_exact(int fd, void *buf, size_t n)
{
    for (size_t got = 0; got < n;) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    return true;
}

static ssize_t read_frame(int fd, unsigned char *buf, size_t cap)
{
    unsigned char h[4];
    if (!read_exact(fd, h, 4))
        return -1;
    size_t n = (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
    if (n > cap || !read_exact(fd, buf, n))
        return -1;
    return (ssize_t)n;
}

static void write_frame(int fd, const void *p, size_t n)
{
    unsigned char h[4] = {0, 0, (unsigned char)(n >> 8), (unsigned char)n};
    send_all(fd, h, 4);
    send_all(fd, p, n);
}

static int scripted_server(void *arg)
{
    bool legacy = *(bool *)arg;
    int fd = accept(g_srv, NULL, NULL);
    if (fd < 0)
        return 1;
    unsigned char msg[300], want[64], got[300];
    size_t plen = legacy ? 20 : 48;
    memcpy(msg, "#CHALLENGE#", 11);
    if (legacy)
        memcpy(msg + 11, "0123456789abcdefghij", 20);
    else
        memcpy(msg + 11, "{sha256}0123456789abcdefghij0123456789abcdefghij", 48);
    write_frame(fd, msg, 11 + plen);
    size_t wl = 0;
    if (!legacy) {
        memcpy(want, "{sha256}", 8);
        wl = 8;
    }
    wl += mp__hmac(legacy ? MP__HMAC_MD5 : MP__HMAC_SHA256, "secret", 6, msg + 11, plen, want + wl);
    ssize_t n = read_frame(fd, got, sizeof got);
    if (n != (ssize_t)wl || memcmp(got, want, wl) != 0) {
        write_frame(fd, "#FAILURE#", 9);
        return 2;
    }
    write_frame(fd, "#WELCOME#", 9);
    /* Now libmp challenges: answer it in the same form. */
    n = read_frame(fd, got, sizeof got);
    if (n != 11 + 8 + 40 || memcmp(got, "#CHALLENGE#{sha256}", 19) != 0)
        return 3;
    wl = 0;
    if (!legacy) {
        memcpy(want, "{sha256}", 8);
        wl = 8;
    }
    wl += mp__hmac(legacy ? MP__HMAC_MD5 : MP__HMAC_SHA256, "secret", 6, got + 11, 48, want + wl);
    write_frame(fd, want, wl);
    n = read_frame(fd, got, sizeof got);
    if (n != 9 || memcmp(got, "#WELCOME#", 9) != 0)
        return 4;
    close(fd);
    return 0;
}

static void test_client_answers_in_the_form_it_was_challenged(void **state)
{
    (void)state;
    char addr[64];
    raw_listen(addr, sizeof addr);
    for (int legacy = 0; legacy < 2; legacy++) {
        bool l = legacy;
        pid_t pid = mpt_fork(scripted_server, &l);
        mp_conn *c = NULL;
        assert_int_equal(mp_client_connect(addr, "secret", 6, &c, 5), 0);
        assert_int_equal(mpt_wait(pid), 0);
        mp_conn_free(c);
        /* With the wrong key the server's check fails, and so does ours. */
        pid = mpt_fork(scripted_server, &l);
        assert_int_equal(mp_client_connect(addr, "secreT", 6, &c, 5), MP_EAUTH);
        assert_int_equal(mpt_wait(pid), 2);
    }
    close(g_srv);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* raw sockets in the tests themselves */
    const struct CMUnitTest tests[] = {
        mpt_test(test_python_listener_accepts_libmp_client),
        mpt_test(test_libmp_listener_accepts_python_client),
        mpt_test(test_wrong_key_fails_on_both_sides_with_python),
        mpt_test(test_sha256_handshake_with_python312_both_ways),
        mpt_test(test_libmp_listener_and_client_over_unix_and_tcp),
        mpt_test(test_listener_address_and_lifecycle),
        mpt_test(test_listener_survives_a_client_that_sends_garbage),
        mpt_test(test_client_survives_a_server_that_sends_garbage),
        mpt_test(test_client_answers_in_the_form_it_was_challenged),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
