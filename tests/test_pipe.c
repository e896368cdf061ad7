/* test_pipe.c - framed connections: boundaries, directions, timeouts, EOF,
 * SIGPIPE, mp_wait, and the wire format against the real CPython. */
/* ctest-timeout: 400 */
#include "mp_test.h"

#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>

/* Byte j of test message i: cheap to make and check, different for every
 * message so that a lost or merged boundary shows. */
static unsigned char pattern(uint32_t i, size_t j)
{
    return (unsigned char)(i * 131u + j * 7u + (j >> 9) + 1u);
}

static void fill_pattern(unsigned char *p, size_t n, uint32_t i)
{
    for (size_t j = 0; j < n; j++)
        p[j] = pattern(i, j);
}

static bool check_pattern(const unsigned char *p, size_t n, uint32_t i)
{
    for (size_t j = 0; j < n; j++)
        if (p[j] != pattern(i, j))
            return false;
    return true;
}

/* expect_str receives a string from c within timeout and checks that it
 * is want. */
static void expect_str(mp_conn *c, const char *want, double timeout)
{
    char *s = NULL;
    assert_int_equal(mp_conn_recv_str(c, &s, timeout), 0);
    assert_string_equal(s, want);
    free(s);
}

/* Write all of buf to fd with plain write(2), for hand-made frames. */
static void raw_write(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            abort();
        }
        p += w;
        n -= (size_t)w;
    }
}

/* Store a 4-byte big-endian frame length at p. */
static void put_len(unsigned char *p, uint32_t n)
{
    p[0] = (unsigned char)(n >> 24);
    p[1] = (unsigned char)(n >> 16);
    p[2] = (unsigned char)(n >> 8);
    p[3] = (unsigned char)n;
}

/* ---- both directions across processes ---------------------------------- */

static mp_conn *g_a, *g_b;

static int duplex_child(void *arg)
{
    (void)arg;
    mp_conn_free(g_a);
    char buf[64];
    size_t len;
    for (int i = 0; i < 100; i++) {
        if (mp_conn_recv(g_b, buf, sizeof buf, &len, 5) != 0)
            return 1;
        if (len != 5 || memcmp(buf, "ping", 5) != 0)
            return 2;
        char reply[16];
        int n = snprintf(reply, sizeof reply, "pong %d", i);
        if (mp_conn_send(g_b, reply, (size_t)n) != 0)
            return 3;
    }
    /* Then the child speaks first. */
    if (mp_conn_send_str(g_b, "child first") != 0)
        return 4;
    char *s = NULL;
    if (mp_conn_recv_str(g_b, &s, 5) != 0 || strcmp(s, "parent second") != 0)
        return 5;
    free(s);
    mp_conn_free(g_b);
    return 0;
}

static void test_pipe_duplex_carries_messages_both_ways_across_processes(void **state)
{
    (void)state;
    assert_int_equal(mp_pipe(&g_a, &g_b, true), 0);
    pid_t pid = mpt_fork(duplex_child, NULL);
    mp_conn_free(g_b);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(mp_conn_send(g_a, "ping", 5), 0);
        char buf[64], want[16];
        size_t len;
        assert_int_equal(mp_conn_recv(g_a, buf, sizeof buf, &len, 5), 0);
        int n = snprintf(want, sizeof want, "pong %d", i);
        assert_int_equal(len, (size_t)n);
        assert_memory_equal(buf, want, len);
    }
    expect_str(g_a, "child first", 5);
    assert_int_equal(mp_conn_send_str(g_a, "parent second"), 0);
    assert_int_equal(mpt_wait(pid), 0);
    /* The child closed its end: EOF. */
    size_t len;
    char buf[4];
    assert_int_equal(mp_conn_recv(g_a, buf, sizeof buf, &len, 5), MP_EEOF);
    mp_conn_free(g_a);
}

/* ---- one-way pipes ------------------------------------------------------ */

static void test_pipe_one_way_first_end_receives_second_sends(void **state)
{
    (void)state;
    mp_conn *r, *w;
    assert_int_equal(mp_pipe(&r, &w, false), 0);
    char buf[8];
    size_t len = 99;
    assert_int_equal(mp_conn_send(r, "x", 1), MP_ESTATE);
    assert_int_equal(mp_conn_send_str(r, "x"), MP_ESTATE);
    assert_int_equal(mp_conn_recv(w, buf, sizeof buf, &len, 0), MP_ESTATE);
    void *m;
    assert_int_equal(mp_conn_recv_alloc(w, &m, &len, 0), MP_ESTATE);
    assert_int_equal(mp_conn_poll(w, 0), MP_ESTATE);
    mp_conn *both[2] = {r, w};
    assert_int_equal(mp_wait(both, 2, 0, NULL), MP_ESTATE);
    assert_int_equal(len, 99); /* failed calls changed nothing */

    assert_int_equal(mp_conn_send(w, "hello", 5), 0);
    assert_int_equal(mp_conn_poll(r, 1), 1);
    assert_int_equal(mp_conn_recv(r, buf, sizeof buf, &len, 1), 0);
    assert_int_equal(len, 5);
    assert_memory_equal(buf, "hello", 5);
    mp_conn_free(w);
    assert_int_equal(mp_conn_recv(r, buf, sizeof buf, &len, 1), MP_EEOF);
    mp_conn_free(r);
}

static void test_pipe_descriptors_are_cloexec_and_not_leaked(void **state)
{
    (void)state;
    int before = mpt_count_fds();
    for (int duplex = 0; duplex < 2; duplex++) {
        mp_conn *a, *b;
        assert_int_equal(mp_pipe(&a, &b, duplex), 0);
        assert_true(fcntl(mp_conn_fileno(a), F_GETFD) & FD_CLOEXEC);
        assert_true(fcntl(mp_conn_fileno(b), F_GETFD) & FD_CLOEXEC);
        assert_int_equal(mpt_count_fds(), before + 2);
        mp_conn_free(a);
        mp_conn_free(b);
    }
    assert_int_equal(mpt_count_fds(), before);
}

/* ---- 10k messages of random sizes --------------------------------------- */

#define N_RANDOM 10000
#define MAX_MSG  (1u << 20)

/* Sizes from 0 to 1 MiB, uniform in their logarithm (so every scale is
 * covered without sending gigabytes), plus the sizes at the edges. */
static size_t random_size(uint32_t i)
{
    static const size_t edges[] = {0,     1,     3,     4,     5,      12,          65535 - 12,
                                   65535, 65536, 65537, 65548, 131072, MAX_MSG - 1, MAX_MSG};
    if (i < sizeof edges / sizeof edges[0])
        return edges[i];
    uint64_t x = (uint64_t)i * 0x9E3779B97F4A7C15ull;
    x ^= x >> 29;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 32;
    double u = (double)(x % 1000003) / 1000003.0; /* [0, 1) */
    size_t n = (size_t)exp2(u * 20.0 + 0.0000001) - 1;
    return n > MAX_MSG ? MAX_MSG : n;
}

static int random_sender(void *arg)
{
    (void)arg;
    mp_conn_free(g_a);
    unsigned char *buf = malloc(MAX_MSG);
    if (buf == NULL)
        return 1;
    for (uint32_t i = 0; i < N_RANDOM; i++) {
        size_t n = random_size(i);
        fill_pattern(buf, n, i);
        if (mp_conn_send(g_b, n ? buf : NULL, n) != 0)
            return 2;
    }
    free(buf);
    mp_conn_free(g_b);
    return 0;
}

static void random_sizes(bool duplex)
{
    assert_int_equal(mp_pipe(&g_a, &g_b, duplex), 0);
    pid_t pid = mpt_fork(random_sender, NULL);
    mp_conn_free(g_b);
    unsigned char *buf = malloc(MAX_MSG);
    assert_non_null(buf);
    for (uint32_t i = 0; i < N_RANDOM; i++) {
        size_t want = random_size(i), len = 0;
        if (i % 3 == 0) {
            void *m = NULL;
            assert_int_equal(mp_conn_recv_alloc(g_a, &m, &len, 10), 0);
            assert_int_equal(len, want);
            assert_true(check_pattern(m, len, i));
            free(m);
        } else {
            /* Exactly the right size, or a lot more room. */
            size_t cap = i % 3 == 1 ? want : MAX_MSG;
            assert_int_equal(mp_conn_recv(g_a, buf, cap, &len, 10), 0);
            assert_int_equal(len, want);
            assert_true(check_pattern(buf, len, i));
        }
    }
    size_t len;
    assert_int_equal(mp_conn_recv(g_a, buf, MAX_MSG, &len, 10), MP_EEOF);
    free(buf);
    mp_conn_free(g_a);
    assert_int_equal(mpt_wait(pid), 0);
}

static void test_pipe_keeps_boundaries_of_10k_random_messages_duplex(void **state)
{
    (void)state;
    random_sizes(true);
}

static void test_pipe_keeps_boundaries_of_10k_random_messages_one_way(void **state)
{
    (void)state;
    random_sizes(false);
}

/* ---- timeouts and poll -------------------------------------------------- */

static void test_pipe_poll_and_recv_time_out_when_empty(void **state)
{
    (void)state;
    mp_conn *a, *b;
    for (int duplex = 0; duplex < 2; duplex++) {
        assert_int_equal(mp_pipe(&a, &b, duplex), 0);
        /* No time given: a look that never sleeps (a preemption on a busy
         * machine is no sleep of ours) and returns at once. */
        double t0 = mpt_now();
        mpt_assert_never_sleeps({
            assert_int_equal(mp_conn_poll(a, 0), 0);
            assert_int_equal(mp_conn_poll(a, -1), 0);
        });
        assert_true(mpt_now() - t0 < MPT_SLACK);
        t0 = mpt_now();
        assert_int_equal(mp_conn_poll(a, 0.2), 0);
        double el = mpt_now() - t0;
        assert_true(el >= 0.19 && el < 0.2 + MPT_SLACK);
        char buf[8];
        size_t len;
        t0 = mpt_now();
        assert_int_equal(mp_conn_recv(a, buf, sizeof buf, &len, 0.2), MP_ETIMEDOUT);
        el = mpt_now() - t0;
        assert_true(el >= 0.19 && el < 0.2 + MPT_SLACK);
        assert_int_equal(mp_conn_recv(a, buf, sizeof buf, &len, 0), MP_ETIMEDOUT);
        assert_int_equal(mp_conn_recv(a, buf, sizeof buf, &len, NAN), MP_EINVAL);
        assert_int_equal(mp_conn_poll(a, NAN), MP_EINVAL);

        assert_int_equal(mp_conn_send(b, "abc", 3), 0);
        assert_int_equal(mp_conn_poll(a, 0), 1);
        assert_int_equal(mp_conn_poll(a, MP_FOREVER), 1);
        assert_int_equal(mp_conn_recv(a, buf, sizeof buf, &len, 0), 0);
        assert_int_equal(len, 3);
        assert_int_equal(mp_conn_poll(a, 0), 0);
        mp_conn_free(a);
        mp_conn_free(b);
    }
}

/* A peer that is slow in the middle of a message: the bytes that came
 * before a timeout are kept, and the message comes out whole later. */
static int g_go[2];

static int slow_writer(void *arg)
{
    size_t n = *(size_t *)arg;
    mp_conn_free(g_a);
    unsigned char *msg = malloc(n + 4);
    if (msg == NULL)
        return 1;
    msg[0] = (unsigned char)(n >> 24);
    msg[1] = (unsigned char)(n >> 16);
    msg[2] = (unsigned char)(n >> 8);
    msg[3] = (unsigned char)n;
    fill_pattern(msg + 4, n, 7);
    int fd = mp_conn_fileno(g_b);
    /* Three steps: 2 bytes of header, then header and half, then rest. */
    size_t cut[4] = {0, 2, 4 + n / 2, n + 4};
    for (int s = 0; s < 3; s++) {
        char c;
        if (read(g_go[0], &c, 1) != 1)
            return 2;
        raw_write(fd, msg + cut[s], cut[s + 1] - cut[s]);
    }
    /* A second message behind it, through the library. */
    if (mp_conn_send(g_b, "next", 4) != 0)
        return 3;
    free(msg);
    mp_conn_free(g_b);
    return 0;
}

static void slow_message(bool duplex, size_t n, bool alloc)
{
    assert_int_equal(mp_pipe(&g_a, &g_b, duplex), 0);
    assert_int_equal(pipe(g_go), 0);
    pid_t pid = mpt_fork(slow_writer, &n);
    mp_conn_free(g_b);
    unsigned char *buf = malloc(n + 16);
    size_t len = 0;
    void *m = NULL;
    for (int s = 0; s < 3; s++) {
        /* Before each step nothing whole is there: time out, lose nothing. */
        if (alloc)
            assert_int_equal(mp_conn_recv_alloc(g_a, &m, &len, 0.05), MP_ETIMEDOUT);
        else
            assert_int_equal(mp_conn_recv(g_a, buf, n + 16, &len, 0.05), MP_ETIMEDOUT);
        assert_int_equal(write(g_go[1], "g", 1), 1);
        if (s < 2) {
            /* Until the step's first bytes arrive: the timed-out receive
             * above left nothing unread on the descriptor. */
            struct pollfd p = {.fd = mp_conn_fileno(g_a), .events = POLLIN};
            assert_int_equal(poll(&p, 1, 10000), 1);
        }
    }
    if (alloc) {
        assert_int_equal(mp_conn_recv_alloc(g_a, &m, &len, 10), 0);
        assert_int_equal(len, n);
        assert_true(check_pattern(m, n, 7));
        free(m);
    } else {
        assert_int_equal(mp_conn_recv(g_a, buf, n + 16, &len, 10), 0);
        assert_int_equal(len, n);
        assert_true(check_pattern(buf, n, 7));
    }
    assert_int_equal(mp_conn_recv(g_a, buf, n + 16, &len, 10), 0);
    assert_int_equal(len, 4);
    assert_memory_equal(buf, "next", 4);
    assert_int_equal(mpt_wait(pid), 0);
    free(buf);
    close(g_go[0]);
    close(g_go[1]);
    mp_conn_free(g_a);
}

static void test_pipe_timeout_mid_message_loses_nothing(void **state)
{
    (void)state;
    for (int duplex = 0; duplex < 2; duplex++) {
        slow_message(duplex, 1000, false);
        slow_message(duplex, 1000, true);
        slow_message(duplex, 300000, false); /* beyond the read-ahead */
        slow_message(duplex, 300000, true);
    }
}

/* ---- end of stream ------------------------------------------------------ */

static void test_pipe_eof_comes_after_every_buffered_message(void **state)
{
    (void)state;
    for (int duplex = 0; duplex < 2; duplex++) {
        mp_conn *a, *b;
        assert_int_equal(mp_pipe(&a, &b, duplex), 0);
        assert_int_equal(mp_conn_send_str(b, "one"), 0);
        assert_int_equal(mp_conn_send(b, NULL, 0), 0);
        assert_int_equal(mp_conn_send_str(b, "three"), 0);
        mp_conn_free(b);
        assert_int_equal(mp_conn_poll(a, 0), 1);
        expect_str(a, "one", 1);
        expect_str(a, "", 1);
        expect_str(a, "three", 1);
        char *s = (char *)"untouched";
        assert_int_equal(mp_conn_recv_str(a, &s, 1), MP_EEOF);
        assert_string_equal(s, "untouched");
        assert_int_equal(mp_conn_poll(a, 0), 1); /* EOF is readable */
        size_t len;
        assert_int_equal(mp_conn_recv(a, NULL, 0, &len, MP_FOREVER), MP_EEOF);
        mp_conn_free(a);
    }
}

static void test_pipe_message_cut_short_by_close_is_eof(void **state)
{
    (void)state;
    for (int duplex = 0; duplex < 2; duplex++) {
        for (int alloc = 0; alloc < 2; alloc++) {
            mp_conn *a, *b;
            assert_int_equal(mp_pipe(&a, &b, duplex), 0);
            /* A header promising 100 bytes, then only 10. */
            unsigned char frame[14] = {0, 0, 0, 100};
            memset(frame + 4, 'z', 10);
            raw_write(mp_conn_fileno(b), frame, sizeof frame);
            char buf[200];
            size_t len = 0;
            assert_int_equal(mp_conn_recv(a, buf, sizeof buf, &len, 0.05), MP_ETIMEDOUT);
            mp_conn_free(b);
            void *m = NULL;
            if (alloc)
                assert_int_equal(mp_conn_recv_alloc(a, &m, &len, 1), MP_EEOF);
            else
                assert_int_equal(mp_conn_recv(a, buf, sizeof buf, &len, 1), MP_EEOF);
            assert_null(m);
            assert_int_equal(mp_conn_recv(a, buf, sizeof buf, &len, 1), MP_EEOF);
            mp_conn_free(a);
        }
    }
    /* A header cut in two is just as short. */
    mp_conn *a, *b;
    assert_int_equal(mp_pipe(&a, &b, true), 0);
    raw_write(mp_conn_fileno(b), "\0\0", 2);
    mp_conn_free(b);
    size_t len;
    char buf[8];
    assert_int_equal(mp_conn_recv(a, buf, sizeof buf, &len, 1), MP_EEOF);
    mp_conn_free(a);
}

/* ---- buffer too small ----------------------------------------------------- */

static void test_pipe_recv_into_small_buffer_keeps_message(void **state)
{
    (void)state;
    const size_t sizes[] = {100, 70000, 1u << 20};
    for (int duplex = 0; duplex < 2; duplex++) {
        for (size_t k = 0; k < 3; k++) {
            size_t n = sizes[k];
            mp_conn *a, *b;
            assert_int_equal(mp_pipe(&a, &b, duplex), 0);
            pid_t pid = fork();
            if (pid == 0) {
                mp_conn_free(a);
                unsigned char *msg = malloc(n);
                fill_pattern(msg, n, 3);
                int rc = mp_conn_send(b, msg, n) || mp_conn_send(b, "after", 5);
                _exit(rc);
            }
            mp_conn_free(b);
            unsigned char *buf = malloc(n);
            size_t len = 0;
            assert_int_equal(mp_conn_recv(a, buf, 10, &len, 10), MP_EMSGSIZE);
            assert_int_equal(len, n);
            assert_int_equal(mp_conn_recv(a, buf, n - 1, &len, 10), MP_EMSGSIZE);
            assert_int_equal(len, n);
            assert_int_equal(mp_conn_poll(a, 10), 1);
            assert_int_equal(mp_conn_recv(a, buf, n, &len, 10), 0);
            assert_int_equal(len, n);
            assert_true(check_pattern(buf, n, 3));
            assert_int_equal(mp_conn_recv(a, buf, 4, &len, 10), MP_EMSGSIZE);
            assert_int_equal(len, 5);
            assert_int_equal(mp_conn_recv(a, buf, 5, &len, 10), 0);
            assert_memory_equal(buf, "after", 5);
            free(buf);
            assert_int_equal(mpt_wait(pid), 0);
            mp_conn_free(a);
        }
    }
}

/* ---- mp_wait --------------------------------------------------------------- */

static mp_conn *g_r[8], *g_w[8];

/* Writes to 1, 4 and 7 once the parent sleeps in its mp_wait. */
static int wait_writer(void *arg)
{
    (void)arg;
    if (!mpt_wait_asleep(getppid(), 10))
        return 2;
    for (int i = 1; i < 8; i += 3) /* 1, 4, 7 */
        if (mp_conn_send_str(g_w[i], "ready") != 0)
            return 1;
    return 0;
}

static void test_wait_reports_exactly_the_ready_connections_of_8(void **state)
{
    (void)state;
    for (int i = 0; i < 8; i++)
        assert_int_equal(mp_pipe(&g_r[i], &g_w[i], i % 2), 0);
    bool ready[8];
    memset(ready, 1, sizeof ready);
    double t0 = mpt_now();
    assert_int_equal(mp_wait(g_r, 8, 0.2, ready), 0);
    double el = mpt_now() - t0;
    assert_true(el >= 0.19 && el < 0.2 + MPT_SLACK);
    for (int i = 0; i < 8; i++)
        assert_false(ready[i]);

    pid_t pid = mpt_fork(wait_writer, NULL);
    int n = mp_wait(g_r, 8, 10, ready);
    assert_true(n >= 1 && n <= 3);
    assert_int_equal(mpt_wait(pid), 0);
    assert_int_equal(mp_wait(g_r, 8, 10, ready), 3);
    for (int i = 0; i < 8; i++)
        assert_int_equal(ready[i], i % 3 == 1);
    assert_int_equal(mp_wait(g_r, 8, 0, NULL), 3);

    /* Two messages read ahead in one go: the second one is held in the
     * connection, not on the descriptor, and still counts as ready. */
    char buf[16];
    size_t len;
    for (int i = 1; i < 8; i += 3)
        assert_int_equal(mp_conn_recv(g_r[i], buf, sizeof buf, &len, 1), 0);
    assert_int_equal(mp_conn_send_str(g_w[2], "a"), 0);
    assert_int_equal(mp_conn_send_str(g_w[2], "b"), 0);
    assert_int_equal(mp_conn_recv(g_r[2], buf, sizeof buf, &len, 1), 0);
    t0 = mpt_now();
    /* At once, not after the timeout. */
    mpt_assert_never_sleeps(assert_int_equal(mp_wait(g_r, 8, 10, ready), 1));
    assert_true(mpt_now() - t0 < MPT_SLACK);
    assert_true(ready[2]);
    assert_int_equal(mp_conn_poll(g_r[2], 0), 1);
    assert_int_equal(mp_conn_recv(g_r[2], buf, sizeof buf, &len, 0), 0);
    assert_memory_equal(buf, "b", 1);

    /* A closed peer is ready too (EOF). */
    mp_conn_free(g_w[5]);
    g_w[5] = NULL;
    assert_int_equal(mp_wait(g_r, 8, 1, ready), 1);
    assert_true(ready[5]);

    assert_int_equal(mp_wait(NULL, 8, 1, ready), MP_EINVAL);
    assert_int_equal(mp_wait(g_r, 0, 1, ready), MP_EINVAL);
    assert_int_equal(mp_wait(g_r, 8, NAN, ready), MP_EINVAL);
    mp_conn_close(g_r[0]);
    assert_int_equal(mp_wait(g_r, 8, 0, ready), MP_ECLOSED);
    for (int i = 0; i < 8; i++) {
        mp_conn_free(g_r[i]);
        mp_conn_free(g_w[i]);
    }
}

static void test_wait_over_many_connections(void **state)
{
    (void)state;
    enum { N = 40 }; /* more than fit on the stack array */
    mp_conn *r[N], *w[N];
    for (int i = 0; i < N; i++)
        assert_int_equal(mp_pipe(&r[i], &w[i], true), 0);
    assert_int_equal(mp_conn_send(w[N - 1], "x", 1), 0);
    bool ready[N];
    assert_int_equal(mp_wait(r, N, 1, ready), 1);
    assert_true(ready[N - 1]);
    assert_false(ready[0]);
    for (int i = 0; i < N; i++) {
        mp_conn_free(r[i]);
        mp_conn_free(w[i]);
    }
}

/* ---- SIGPIPE ----------------------------------------------------------------- */

static int sigpipe_child(void *arg)
{
    bool duplex = *(bool *)arg;
    signal(SIGPIPE, SIG_DFL);
    mp_conn *a, *b;
    if (mp_pipe(&a, &b, duplex) != 0)
        return 1;
    mp_conn *reader = a, *writer = b;
    mp_conn_free(reader);
    static char big[1 << 20];
    /* Small and large, several times: each must be MP_EEOF, not death. */
    for (int i = 0; i < 3; i++) {
        if (mp_conn_send(writer, "x", 1) != MP_EEOF)
            return 2;
        if (mp_conn_send(writer, big, sizeof big) != MP_EEOF)
            return 3;
    }
    /* Nothing left behind: no pending SIGPIPE, the mask as it was. */
    sigset_t pend, mask;
    sigpending(&pend);
    sigprocmask(SIG_BLOCK, NULL, &mask);
    if (sigismember(&pend, SIGPIPE) || sigismember(&mask, SIGPIPE))
        return 4;
    /* With SIGPIPE blocked by the program and one already pending, that one
     * is left for the program. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigprocmask(SIG_BLOCK, &set, NULL);
    raise(SIGPIPE);
    if (mp_conn_send(writer, "x", 1) != MP_EEOF)
        return 5;
    sigpending(&pend);
    if (!sigismember(&pend, SIGPIPE))
        return 6;
    mp_conn_free(writer);
    return 0;
}

static void test_send_to_closed_peer_is_eof_without_sigpipe(void **state)
{
    (void)state;
    bool duplex = true;
    assert_int_equal(mpt_wait(mpt_fork(sigpipe_child, &duplex)), 0);
    duplex = false;
    assert_int_equal(mpt_wait(mpt_fork(sigpipe_child, &duplex)), 0);
}

/* ---- claims bigger than what comes -------------------------------------- */

/* This process's virtual and resident size in bytes, from /proc/self/statm. */
static void mem_size(size_t *virt, size_t *res)
{
    FILE *f = fopen("/proc/self/statm", "r");
    assert_non_null(f);
    unsigned long v = 0, r = 0;
    assert_int_equal(fscanf(f, "%lu %lu", &v, &r), 2);
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    *virt = v * (size_t)page;
    *res = r * (size_t)page;
}

/* A header claiming `claim` bytes (4- or 12-byte form), 10 of them, a
 * timeout with that part held, then the close: memory follows the bytes
 * that came, not the claim, and the cut message is MP_EEOF at once. */
static void huge_claim_then_close(bool duplex, bool long_form, uint64_t claim, bool str)
{
    mp_conn *a, *b;
    assert_int_equal(mp_pipe(&a, &b, duplex), 0);
    unsigned char frame[22];
    size_t h = 4;
    if (long_form) {
        memset(frame, 0xff, 4);
        for (int i = 0; i < 8; i++)
            frame[4 + i] = (unsigned char)(claim >> (56 - 8 * i));
        h = 12;
    } else {
        for (int i = 0; i < 4; i++)
            frame[i] = (unsigned char)(claim >> (24 - 8 * i));
    }
    memset(frame + h, 'q', 10);
    size_t virt0, res0, virt1, res1;
    mem_size(&virt0, &res0);
    raw_write(mp_conn_fileno(b), frame, h + 10);
    void *m = NULL;
    char *s = NULL;
    size_t len = 0;
    int rc = str ? mp_conn_recv_str(a, &s, 0.05) : mp_conn_recv_alloc(a, &m, &len, 0.05);
    assert_int_equal(rc, MP_ETIMEDOUT);
    /* The part is held now: neither reserved nor touched memory grew
     * anywhere near the claim. */
    mem_size(&virt1, &res1);
    assert_true(res1 < res0 + 8 * 1024 * 1024);
    assert_true(virt1 < virt0 + 64 * 1024 * 1024);
    mp_conn_free(b);
    double t0 = mpt_now();
    rc = str ? mp_conn_recv_str(a, &s, 10) : mp_conn_recv_alloc(a, &m, &len, 10);
    assert_int_equal(rc, MP_EEOF);
    assert_true(mpt_now() - t0 < MPT_SLACK);
    assert_null(m);
    assert_null(s);
    assert_int_equal(mp_conn_recv_alloc(a, &m, &len, 0), MP_EEOF);
    mem_size(&virt1, &res1);
    assert_true(res1 < res0 + 8 * 1024 * 1024);
    mp_conn_free(a);
}

static void test_pipe_recv_alloc_of_2_gib_claim_cut_short_is_eof_without_memory(void **state)
{
    (void)state;
    for (int duplex = 0; duplex < 2; duplex++) {
        huge_claim_then_close(duplex, false, 0x7fffffff, false);
        huge_claim_then_close(duplex, false, 0x7fffffff, true);
    }
}

static void test_pipe_recv_alloc_of_1_tib_long_form_claim_is_eof_without_memory(void **state)
{
    (void)state;
    for (int duplex = 0; duplex < 2; duplex++) {
        huge_claim_then_close(duplex, true, (uint64_t)1 << 40, false);
        huge_claim_then_close(duplex, true, (uint64_t)1 << 40, true);
    }
    /* A claim no buffer can hold at all, too: nothing fails before its
     * bytes come. */
    huge_claim_then_close(true, true, UINT64_MAX, false);
}

#define BIG_MSG (3 * 1024 * 1024 + 5)

/* Sends a BIG_MSG message in two halves, the second when told, then
 * "next". */
static int big_writer(void *arg)
{
    (void)arg;
    mp_conn_free(g_a);
    unsigned char *msg = malloc(BIG_MSG + 4);
    if (msg == NULL)
        return 1;
    put_len(msg, BIG_MSG);
    fill_pattern(msg + 4, BIG_MSG, 11);
    int fd = mp_conn_fileno(g_b);
    size_t half = 4 + BIG_MSG / 2;
    raw_write(fd, msg, half);
    char c;
    if (read(g_go[0], &c, 1) != 1)
        return 2;
    raw_write(fd, msg + half, BIG_MSG + 4 - half);
    if (mp_conn_send(g_b, "next", 4) != 0)
        return 3;
    free(msg);
    mp_conn_free(g_b);
    return 0;
}

/* finish: 0 recv_alloc, 1 recv_str, 2 mp_conn_recv into a buffer. */
static void big_message_in_pieces(bool duplex, int finish)
{
    assert_int_equal(mp_pipe(&g_a, &g_b, duplex), 0);
    assert_int_equal(pipe(g_go), 0);
    pid_t pid = mpt_fork(big_writer, NULL);
    mp_conn_free(g_b);
    void *m = NULL;
    size_t len = 0;
    /* The first half comes (the writer blocks until it is read), the
     * rest does not: the wait runs out part-way. */
    assert_int_equal(mp_conn_recv_alloc(g_a, &m, &len, 0.5), MP_ETIMEDOUT);
    assert_null(m);
    assert_int_equal(mp_conn_poll(g_a, 0), 0);
    assert_int_equal(write(g_go[1], "g", 1), 1);
    if (finish == 0) {
        assert_int_equal(mp_conn_recv_alloc(g_a, &m, &len, 10), 0);
    } else if (finish == 1) {
        char *s = NULL;
        assert_int_equal(mp_conn_recv_str(g_a, &s, 10), 0);
        len = BIG_MSG;
        assert_int_equal(s[len], '\0');
        m = s;
    } else {
        m = malloc(BIG_MSG);
        assert_int_equal(mp_conn_recv(g_a, m, BIG_MSG, &len, 10), 0);
    }
    assert_int_equal(len, BIG_MSG);
    assert_true(check_pattern(m, BIG_MSG, 11));
    free(m);
    char buf[8];
    assert_int_equal(mp_conn_recv(g_a, buf, sizeof buf, &len, 10), 0);
    assert_int_equal(len, 4);
    assert_memory_equal(buf, "next", 4);
    assert_int_equal(mp_conn_recv(g_a, buf, sizeof buf, &len, 10), MP_EEOF);
    assert_int_equal(mpt_wait(pid), 0);
    close(g_go[0]);
    close(g_go[1]);
    mp_conn_free(g_a);
}

static void test_pipe_recv_alloc_of_3_mib_cut_by_timeout_completes_later(void **state)
{
    (void)state;
    for (int duplex = 0; duplex < 2; duplex++)
        for (int finish = 0; finish < 3; finish++)
            big_message_in_pieces(duplex, finish);
}

/* ---- wire format ---------------------------------------------------------- */

static void test_pipe_reads_the_64_bit_length_header(void **state)
{
    (void)state;
    mp_conn *a, *b;
    assert_int_equal(mp_pipe(&a, &b, true), 0);
    /* CPython's form for long payloads, here with a short one: -1, then
     * an 8-byte length. Then a normal frame. */
    unsigned char frame[] = {0xff, 0xff, 0xff, 0xff, 0,   0, 0, 0, 0, 0,   0,  5,
                             'h',  'e',  'l',  'l',  'o', 0, 0, 0, 2, 'o', 'k'};
    raw_write(mp_conn_fileno(b), frame, sizeof frame);
    char buf[8];
    size_t len;
    assert_int_equal(mp_conn_recv(a, buf, sizeof buf, &len, 1), 0);
    assert_int_equal(len, 5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(mp_conn_recv(a, buf, sizeof buf, &len, 1), 0);
    assert_int_equal(len, 2);
    /* What mp_conn_send writes: big-endian length, then the bytes. */
    assert_int_equal(mp_conn_send(a, "abc", 3), 0);
    unsigned char raw[16];
    assert_int_equal(read(mp_conn_fileno(b), raw, sizeof raw), 7);
    assert_memory_equal(raw, "\0\0\0\3abc", 7);
    /* A length no CPython peer sends is a protocol error, not garbage. */
    raw_write(mp_conn_fileno(b), "\x80\0\0\0", 4);
    assert_int_equal(mp_conn_recv(a, buf, sizeof buf, &len, 1), -EPROTO);
    mp_conn_free(a);
    mp_conn_free(b);
}

static void test_pipe_sends_payload_over_2_gib_with_long_header(void **state)
{
    (void)state;
    /* 2 GiB + 3 of untouched anonymous memory (zero pages, no RAM). */
    size_t n = 0x80000000u + 3;
    unsigned char *big =
        mmap(NULL, n, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    assert_true(big != MAP_FAILED);
    mp_conn *a, *b;
    assert_int_equal(mp_pipe(&a, &b, true), 0);
    /* Where allowed (root), 32 MiB in flight: 64 hand-offs between the two
     * processes instead of 10 000 (each a wake-up that waits for a CPU on
     * a loaded machine). The send still goes out in many partial writes. */
    int inflight = 32 << 20;
    setsockopt(mp_conn_fileno(b), SOL_SOCKET, SO_SNDBUFFORCE, &inflight, sizeof inflight);
    pid_t pid = fork();
    if (pid == 0) {
        mp_conn_free(a);
        _exit(mp_conn_send(b, big, n) != 0);
    }
    mp_conn_free(b);
    /* Read it raw: the 12-byte header, then count the zero bytes. */
    int fd = mp_conn_fileno(a);
    static unsigned char chunk[1 << 20];
    size_t got = 0, total = n + 12;
    bool zeros = true;
    while (got < total) {
        ssize_t r = read(fd, chunk, sizeof chunk);
        assert_true(r > 0);
        size_t from = 0;
        if (got < 12) {
            assert_true(r >= 12); /* the header comes in one piece */
            assert_memory_equal(chunk, "\xff\xff\xff\xff\0\0\0\0\x80\0\0\x03", 12);
            from = 12;
        }
        for (size_t j = from; j < (size_t)r; j += 4096)
            zeros &= chunk[j] == 0;
        got += (size_t)r;
    }
    assert_true(zeros);
    assert_int_equal(mpt_wait(pid), 0);
    mp_conn_free(a);
    munmap(big, n);
}

/* ---- CPython on the other end ---------------------------------------------- */

static void test_pipe_interop_with_cpython_connection(void **state)
{
    (void)state;
    const char *python = mpt_python("python3");
    assert_non_null(python); /* no python3: the test fails, it does not skip */
    mp_conn *a, *b;
    assert_int_equal(mp_pipe(&a, &b, true), 0);
    const size_t sizes[] = {0, 1, 5, 16384, 16385, 70000, 1u << 20, 3};
    const size_t count = sizeof sizes / sizeof sizes[0];
    pid_t pid = fork();
    if (pid == 0) {
        int fd = mp_conn_fileno(b);
        fcntl(fd, F_SETFD, 0); /* inherited by python3 */
        close(mp_conn_fileno(a));
        char fdarg[16], countarg[16];
        snprintf(fdarg, sizeof fdarg, "%d", fd);
        snprintf(countarg, sizeof countarg, "%zu", count);
        execl(python, python, MP_SOURCE_DIR "/tests/py/echo_reversed.py", fdarg, countarg,
              (char *)NULL);
        _exit(127);
    }
    mp_conn_free(b);
    unsigned char *msg = malloc(1u << 20), *reply = malloc(1u << 20);
    for (size_t k = 0; k < count; k++) {
        size_t n = sizes[k];
        fill_pattern(msg, n, (uint32_t)k);
        assert_int_equal(mp_conn_send(a, msg, n), 0);
        size_t len = 12345;
        assert_int_equal(mp_conn_recv(a, reply, 1u << 20, &len, 30), 0);
        assert_int_equal(len, n);
        for (size_t j = 0; j < n; j++)
            if (reply[j] != msg[n - 1 - j])
                fail_msg("message %zu byte %zu differs", k, j);
    }
    mp_conn_close(a);
    assert_int_equal(mpt_wait(pid), 0);
    free(msg);
    free(reply);
    mp_conn_free(a);
}

/* ---- bad input and lifetime ------------------------------------------------ */

static void test_pipe_bad_input_and_closed_connections(void **state)
{
    (void)state;
    mp_conn *a, *b;
    char buf[8];
    size_t len;
    void *m;
    assert_int_equal(mp_pipe(NULL, &b, true), MP_EINVAL);
    assert_int_equal(mp_pipe(&a, NULL, true), MP_EINVAL);
    assert_int_equal(mp_pipe(&a, &b, true), 0);
    assert_int_equal(mp_conn_send(NULL, "x", 1), MP_EINVAL);
    assert_int_equal(mp_conn_send(a, NULL, 1), MP_EINVAL);
    assert_int_equal(mp_conn_send_str(a, NULL), MP_EINVAL);
    assert_int_equal(mp_conn_recv(NULL, buf, 8, &len, 0), MP_EINVAL);
    assert_int_equal(mp_conn_recv(a, NULL, 8, &len, 0), MP_EINVAL);
    assert_int_equal(mp_conn_recv(a, buf, 8, NULL, 0), MP_EINVAL);
    assert_int_equal(mp_conn_recv_alloc(a, NULL, &len, 0), MP_EINVAL);
    assert_int_equal(mp_conn_recv_alloc(a, &m, NULL, 0), MP_EINVAL);
    assert_int_equal(mp_conn_recv_str(a, NULL, 0), MP_EINVAL);
    assert_int_equal(mp_conn_poll(NULL, 0), MP_EINVAL);
    assert_int_equal(mp_conn_fileno(NULL), MP_EINVAL);
    assert_int_equal(mp_conn_close(NULL), MP_EINVAL);

    /* Zero-length messages: NULL with 0 goes, and comes back as such. */
    assert_int_equal(mp_conn_send(b, NULL, 0), 0);
    assert_int_equal(mp_conn_send(b, "", 0), 0);
    assert_int_equal(mp_conn_send_str(b, ""), 0);
    len = 99;
    assert_int_equal(mp_conn_recv(a, NULL, 0, &len, 1), 0);
    assert_int_equal(len, 0);
    m = NULL;
    assert_int_equal(mp_conn_recv_alloc(a, &m, &len, 1), 0);
    assert_non_null(m);
    assert_int_equal(len, 0);
    free(m);
    assert_int_equal(mp_conn_recv(a, buf, 8, &len, 1), 0);
    assert_int_equal(len, 0);

    assert_true(mp_conn_fileno(a) >= 0);
    assert_int_equal(mp_conn_close(a), 0);
    assert_int_equal(mp_conn_close(a), 0);
    assert_int_equal(mp_conn_fileno(a), MP_ECLOSED);
    assert_int_equal(mp_conn_send(a, "x", 1), MP_ECLOSED);
    assert_int_equal(mp_conn_recv(a, buf, 8, &len, 0), MP_ECLOSED);
    assert_int_equal(mp_conn_recv_alloc(a, &m, &len, 0), MP_ECLOSED);
    assert_int_equal(mp_conn_poll(a, 0), MP_ECLOSED);
    mp_conn_free(a);
    mp_conn_free(NULL);
    assert_int_equal(mp_conn_send(b, "x", 1), MP_EEOF);
    mp_conn_free(b);
}

/* Interrupts the parent's blocking receive with SIGALRM three times, each
 * time once the parent sleeps in it again (so the signal was taken and the
 * receive went on), then sends. */
static int late_sender(void *arg)
{
    (void)arg;
    pid_t parent = getppid();
    if (!mpt_wait_asleep(parent, 10))
        return 2;
    for (int i = 0; i < 3; i++) {
        long sleeps = mpt_proc_sleeps(parent);
        if (kill(parent, SIGALRM) != 0 || !mpt_wait_asleep_after(parent, sleeps, 10))
            return 3;
    }
    return mp_conn_send_str(g_b, "late") != 0;
}

/* A signal that interrupts a blocking receive does not end it. */
static void test_pipe_recv_survives_signals(void **state)
{
    (void)state;
    for (int duplex = 0; duplex < 2; duplex++) {
        for (int forever = 0; forever < 2; forever++) {
            assert_int_equal(mp_pipe(&g_a, &g_b, duplex), 0);
            /* Alarms first, so they cover the whole wait for the child. */
            mpt_alarms_start(50000);
            pid_t pid = mpt_fork(late_sender, NULL);
            char buf[8];
            size_t len;
            assert_int_equal(mp_conn_recv(g_a, buf, sizeof buf, &len, forever ? MP_FOREVER : 5), 0);
            mpt_alarms_stop();
            assert_int_equal(len, 4);
            assert_true(mpt_alarms_count() >= 3); /* the child's three, and the timer's */
            assert_int_equal(mpt_wait(pid), 0);
            mp_conn_free(g_a);
            mp_conn_free(g_b);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        mpt_test(test_pipe_duplex_carries_messages_both_ways_across_processes),
        mpt_test(test_pipe_one_way_first_end_receives_second_sends),
        mpt_test(test_pipe_descriptors_are_cloexec_and_not_leaked),
        mpt_test(test_pipe_keeps_boundaries_of_10k_random_messages_duplex),
        mpt_test(test_pipe_keeps_boundaries_of_10k_random_messages_one_way),
        mpt_test(test_pipe_poll_and_recv_time_out_when_empty),
        mpt_test(test_pipe_timeout_mid_message_loses_nothing),
        mpt_test(test_pipe_eof_comes_after_every_buffered_message),
        mpt_test(test_pipe_message_cut_short_by_close_is_eof),
        mpt_test(test_pipe_recv_into_small_buffer_keeps_message),
        mpt_test(test_pipe_recv_alloc_of_2_gib_claim_cut_short_is_eof_without_memory),
        mpt_test(test_pipe_recv_alloc_of_1_tib_long_form_claim_is_eof_without_memory),
        mpt_test(test_pipe_recv_alloc_of_3_mib_cut_by_timeout_completes_later),
        mpt_test(test_wait_reports_exactly_the_ready_connections_of_8),
        mpt_test(test_wait_over_many_connections),
        mpt_test(test_send_to_closed_peer_is_eof_without_sigpipe),
        mpt_test(test_pipe_reads_the_64_bit_length_header),
        mpt_test(test_pipe_sends_payload_over_2_gib_with_long_header),
        mpt_test(test_pipe_interop_with_cpython_connection),
        mpt_test(test_pipe_bad_input_and_closed_connections),
        mpt_test(test_pipe_recv_survives_signals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
