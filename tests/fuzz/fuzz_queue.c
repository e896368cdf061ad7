/* fuzz_queue.c - libFuzzer target: random sequences of queue operations
 * (put/get of random sizes, batches, typed helpers, too-small buffers,
 * close, task_done/join, NULL arguments) on a queue of random shape,
 * checked call by call against a plain FIFO model.
 *
 * fuzz-requires: src/queue/queue.c
 *
 * One thread, so every wait uses a timeout that cannot block for long
 * (the model knows when a call would block). A mismatch aborts. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "mp.h"

#define MODEL_MAX 64         /* messages the model keeps at most */
#define BIG       (80 << 10) /* a message out of line in any ring */
#define BATCH     5

/* A message size: mostly small, sometimes around the ring sizes, rarely
 * larger than any ring. */
static size_t take_len(struct input *in)
{
    uint8_t k = take8(in);
    switch (k % 8) {
    case 0:
        return 0;
    case 1:
        return 8;
    case 2:
        return (size_t)take8(in) * 16 + take8(in) % 16; /* up to ~4 KiB */
    case 3:
        return k == 3 ? BIG : 250 + k % 16;
    default:
        return take8(in) % 64;
    }
}

static double short_timeout(struct input *in)
{
    static const double t[] = {0.0, -1.0, 1e-6, -INFINITY};
    return t[take8(in) % 4];
}

/* ---- the model: a FIFO of byte strings ---------------------------------- */

struct msg {
    size_t len;
    unsigned char *b;
};

static struct {
    mp_queue *q;
    size_t maxsize;
    struct msg m[MODEL_MAX];
    int head, count;
    bool closed;
    long unfinished; /* puts minus task_done */
    unsigned serial; /* makes every message's bytes different */
} M;

static struct msg *front(void)
{
    return &M.m[M.head];
}

static void make(struct msg *m, size_t len)
{
    m->len = len;
    m->b = malloc(len + 1);
    for (size_t i = 0; i < len; i++)
        m->b[i] = (unsigned char)(M.serial * 13 + i * 7 + (i >> 8));
    M.serial++;
}

static void push(struct msg m)
{
    M.m[(M.head + M.count) % MODEL_MAX] = m;
    M.count++;
    M.unfinished++;
}

static void pop_check(const void *buf, size_t len)
{
    struct msg *f = front();
    CHECK(len == f->len);
    CHECK(len == 0 || memcmp(buf, f->b, len) == 0);
    free(f->b);
    M.head = (M.head + 1) % MODEL_MAX;
    M.count--;
}

/* would_fit tells whether a put of one more message must succeed at once. */
static bool room(void)
{
    return M.maxsize == 0 || (size_t)M.count < M.maxsize;
}

/* ---- operations ------------------------------------------------------- */

static void op_put(struct input *in, uint8_t what)
{
    if (M.count >= MODEL_MAX - BATCH)
        return;
    struct msg m;
    make(&m, take_len(in));
    int rc;
    double t = room() ? (what & 1 ? MP_FOREVER : 1.0) : short_timeout(in);
    if (what & 2)
        rc = mp_queue_put_nowait(M.q, m.len == 0 && (what & 4) ? NULL : m.b, m.len);
    else
        rc = mp_queue_put(M.q, m.len == 0 && (what & 4) ? NULL : m.b, m.len, t);
    if (M.closed)
        CHECK_RC(rc, MP_ECLOSED);
    else if (!room())
        CHECK_RC(rc, MP_EFULL);
    else
        CHECK_RC(rc, 0);
    if (rc == 0)
        push(m);
    else
        free(m.b);
}

static void op_put_many(struct input *in, uint8_t what)
{
    if (M.count >= MODEL_MAX - BATCH)
        return;
    size_t n = 1 + what % BATCH;
    struct msg m[BATCH];
    const void *ptr[BATCH];
    size_t lens[BATCH];
    for (size_t i = 0; i < n; i++) {
        make(&m[i], take_len(in));
        ptr[i] = m[i].b;
        lens[i] = m[i].len;
    }
    size_t fit =
        M.maxsize == 0 ? n : (M.maxsize > (size_t)M.count ? M.maxsize - (size_t)M.count : 0);
    if (fit > n)
        fit = n;
    size_t done = 12345;
    int rc = mp_queue_put_many(M.q, ptr, lens, n, &done, short_timeout(in));
    if (M.closed) {
        CHECK_RC(rc, MP_ECLOSED);
        CHECK(done == 0);
    } else {
        CHECK_RC(rc, fit == n ? 0 : MP_EFULL);
        CHECK(done == fit);
    }
    for (size_t i = 0; i < n; i++) {
        if (i < done && rc != MP_ECLOSED)
            push(m[i]);
        else
            free(m[i].b);
    }
}

static void op_get(struct input *in, uint8_t what)
{
    size_t cap;
    switch (what % 4) {
    case 0:
        cap = 0;
        break;
    case 1:
        cap = M.count > 0 && front()->len > 0 ? front()->len - 1 : 7;
        break; /* one short */
    case 2:
        cap = M.count > 0 ? front()->len : 16;
        break; /* exact */
    default:
        cap = BIG + 64;
        break;
    }
    unsigned char *buf = cap > 0 ? malloc(cap) : NULL;
    size_t len = 777777;
    double t = M.count > 0 ? (what & 8 ? MP_FOREVER : 2.0) : short_timeout(in);
    int rc =
        what & 4 ? mp_queue_get_nowait(M.q, buf, cap, &len) : mp_queue_get(M.q, buf, cap, &len, t);
    if (M.count == 0) {
        CHECK_RC(rc, M.closed ? MP_ECLOSED : MP_EEMPTY);
    } else if (front()->len > cap) {
        CHECK_RC(rc, MP_EMSGSIZE);
        CHECK(len == front()->len); /* the needed size; the message stays */
    } else {
        CHECK_RC(rc, 0);
        pop_check(buf, len);
    }
    if (cap > 0)
        free(buf);
}

static void op_get_alloc(struct input *in, uint8_t what)
{
    void *m = NULL;
    size_t len = 0;
    int rc = mp_queue_get_alloc(M.q, &m, &len, M.count > 0 ? 1.0 : short_timeout(in));
    if (M.count == 0) {
        CHECK_RC(rc, M.closed ? MP_ECLOSED : MP_EEMPTY);
    } else {
        CHECK_RC(rc, 0);
        CHECK(m != NULL);
        pop_check(m, len);
    }
    free(m);
}

static void op_get_many(struct input *in, uint8_t what)
{
    size_t max = 1 + what % BATCH;
    size_t cap = (what & 0x80) ? BIG * 2 : (size_t)take8(in) * 8;
    unsigned char *buf = cap > 0 ? malloc(cap) : NULL;
    size_t lens[BATCH], n = 99;
    int rc = mp_queue_get_many(M.q, buf, cap, lens, max, &n, M.count > 0 ? 1.0 : short_timeout(in));
    if (M.count == 0) {
        CHECK_RC(rc, M.closed ? MP_ECLOSED : MP_EEMPTY);
    } else if (front()->len > cap) {
        CHECK_RC(rc, MP_EMSGSIZE);
        CHECK(lens[0] == front()->len);
    } else {
        /* How many come is the queue's choice (those already there that
         * fit, up to an out-of-line one); which ones is not. */
        CHECK_RC(rc, 0);
        CHECK(n >= 1 && n <= max && n <= (size_t)M.count);
        size_t off = 0;
        for (size_t i = 0; i < n; i++) {
            CHECK(off + lens[i] <= cap);
            pop_check(off > 0 ? buf + off : buf, lens[i]); /* buf may be NULL */
            off += lens[i];
        }
    }
    free(buf);
}

static void op_typed(struct input *in, uint8_t what)
{
    switch (what % 6) {
    case 0: { /* put an i64 */
        if (M.count >= MODEL_MAX - BATCH)
            return;
        int64_t v = (int64_t)M.serial * 1000003;
        struct msg m = {8, malloc(8)};
        memcpy(m.b, &v, 8);
        M.serial++;
        int rc = mp_queue_put_i64(M.q, v, room() ? 1.0 : short_timeout(in));
        CHECK_RC(rc, M.closed ? MP_ECLOSED : !room() ? MP_EFULL : 0);
        if (rc == 0)
            push(m);
        else
            free(m.b);
        break;
    }
    case 1: { /* get an i64: a message of another size stays */
        int64_t v = 0;
        int rc = mp_queue_get_i64(M.q, &v, M.count > 0 ? 1.0 : short_timeout(in));
        if (M.count == 0)
            CHECK_RC(rc, M.closed ? MP_ECLOSED : MP_EEMPTY);
        else if (front()->len != 8)
            CHECK_RC(rc, MP_EMSGSIZE);
        else {
            CHECK_RC(rc, 0);
            pop_check(&v, 8);
        }
        break;
    }
    case 2: { /* get an f64 */
        double v = 0;
        int rc = mp_queue_get_f64(M.q, &v, M.count > 0 ? 1.0 : short_timeout(in));
        if (M.count == 0)
            CHECK_RC(rc, M.closed ? MP_ECLOSED : MP_EEMPTY);
        else if (front()->len != 8)
            CHECK_RC(rc, MP_EMSGSIZE);
        else {
            CHECK_RC(rc, 0);
            pop_check(&v, 8);
        }
        break;
    }
    case 3: { /* put a string: its bytes without the NUL */
        if (M.count >= MODEL_MAX - BATCH)
            return;
        char s[32];
        size_t n = take8(in) % sizeof s;
        for (size_t i = 0; i < n; i++)
            s[i] = (char)('a' + (take8(in) % 26));
        s[n] = '\0';
        struct msg m = {n, malloc(n + 1)};
        memcpy(m.b, s, n);
        int rc = mp_queue_put_str(M.q, s, room() ? 1.0 : short_timeout(in));
        CHECK_RC(rc, M.closed ? MP_ECLOSED : !room() ? MP_EFULL : 0);
        if (rc == 0)
            push(m);
        else
            free(m.b);
        break;
    }
    case 4: { /* get a string: the bytes plus a NUL */
        char *s = NULL;
        int rc = mp_queue_get_str(M.q, &s, M.count > 0 ? 1.0 : short_timeout(in));
        if (M.count == 0) {
            CHECK_RC(rc, M.closed ? MP_ECLOSED : MP_EEMPTY);
        } else {
            CHECK_RC(rc, 0);
            CHECK(s != NULL && s[front()->len] == '\0');
            pop_check(s, front()->len);
        }
        free(s);
        break;
    }
    default: /* NULL arguments */
        CHECK_RC(mp_queue_put(NULL, "x", 1, 0), MP_EINVAL);
        CHECK_RC(mp_queue_put(M.q, NULL, 1, 0), MP_EINVAL);
        CHECK_RC(mp_queue_put(M.q, "x", 1, NAN), MP_EINVAL);
        CHECK_RC(mp_queue_get(NULL, NULL, 0, &(size_t){0}, 0), MP_EINVAL);
        CHECK_RC(mp_queue_get(M.q, NULL, 1, &(size_t){0}, 0), MP_EINVAL);
        CHECK_RC(mp_queue_get(M.q, NULL, 0, NULL, 0), MP_EINVAL);
        CHECK_RC(mp_queue_get(M.q, NULL, 0, &(size_t){0}, NAN), MP_EINVAL);
        CHECK_RC(mp_queue_get_many(M.q, NULL, 0, NULL, 1, &(size_t){0}, 0), MP_EINVAL);
        CHECK_RC(mp_queue_get_many(M.q, NULL, 0, (size_t[1]){0}, 0, &(size_t){0}, 0), MP_EINVAL);
        CHECK_RC(mp_queue_close(NULL), MP_EINVAL);
        CHECK_RC(mp_queue_task_done(NULL), MP_EINVAL);
        CHECK_RC(mp_queue_join(NULL, 0), MP_EINVAL);
        CHECK_RC(mp_queue_join(M.q, NAN), MP_EINVAL);
        CHECK(mp_queue_qsize(NULL) == 0 && mp_queue_empty(NULL) && !mp_queue_full(NULL));
        mp_queue_free(NULL);
        break;
    }
}

static void op_state(struct input *in, uint8_t what)
{
    switch (what % 5) {
    case 0:
        CHECK(mp_queue_qsize(M.q) == (size_t)M.count);
        CHECK(mp_queue_empty(M.q) == (M.count == 0));
        CHECK(mp_queue_full(M.q) == (M.maxsize > 0 && (size_t)M.count >= M.maxsize));
        CHECK(mp_queue_closed(M.q) == M.closed);
        break;
    case 1:
        if (take8(in) % 4 == 0) { /* closing is rarer: it ends the puts */
            CHECK_RC(mp_queue_close(M.q), 0);
            M.closed = true;
        }
        break;
    case 2:
        CHECK_RC(mp_queue_task_done(M.q), M.unfinished > 0 ? 0 : MP_EVALUE);
        if (M.unfinished > 0)
            M.unfinished--;
        break;
    case 3:
        CHECK_RC(mp_queue_join(M.q, M.unfinished == 0 ? 1.0 : short_timeout(in)),
                 M.unfinished == 0 ? 0 : MP_ETIMEDOUT);
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct input in = {data, size};
    uint8_t shape = take8(&in);
    static const size_t caps[] = {0, 256, 1024, 4096};
    M.maxsize = shape % 5; /* 0 = unbounded */
    M.q = mp_queue_new_opts(
        &(mp_queue_opts){.maxsize = M.maxsize, .capacity = caps[(shape >> 3) % 4]});
    CHECK(M.q != NULL);
    for (int steps = 0; in.n > 0 && steps < 300; steps++) {
        uint8_t op = take8(&in), what = take8(&in);
        switch (op % 7) {
        case 0:
            op_put(&in, what);
            break;
        case 1:
            op_put_many(&in, what);
            break;
        case 2:
            op_get(&in, what);
            break;
        case 3:
            op_get_alloc(&in, what);
            break;
        case 4:
            op_get_many(&in, what);
            break;
        case 5:
            op_typed(&in, what);
            break;
        default:
            op_state(&in, what);
            break;
        }
    }
    /* Drain through the queue and check the rest, in order. */
    while (M.count > 0) {
        void *m = NULL;
        size_t len = 0;
        CHECK_RC(mp_queue_get_alloc(M.q, &m, &len, 0), 0);
        pop_check(m, len);
        free(m);
    }
    mp_queue_free(M.q);
    memset(&M, 0, sizeof M);
    return 0;
}
