/* fuzz_api.c - libFuzzer target: random calls with random arguments at
 * libmp's public boundary (sync objects, shared heap, process objects,
 * error names), each result checked against a small model of what the
 * contract in the public headers says it must be.
 *
 * The input is a program: one byte picks the call, the next bytes its
 * arguments (object slot, size, timeout kind). Everything runs in one
 * thread, so a call that would block is only made with a timeout that
 * cannot block for long (0, negative, a microsecond); huge, infinite and
 * NaN timeouts go to calls that cannot block. A mismatch aborts, which
 * libFuzzer reports with the input that caused it. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "mp.h"

/* ---- reading the input ------------------------------------------------ */

static uint64_t take64(struct input *in)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | take8(in);
    return v;
}

/* A size: mostly small, sometimes one of the edges. */
static size_t take_size(struct input *in)
{
    uint8_t k = take8(in);
    switch (k % 8) {
    case 0:
        return 0;
    case 1:
        return SIZE_MAX;
    case 2:
        return SIZE_MAX / 2 + 1;
    case 3:
        return (size_t)1 << (take8(in) % 64);
    case 4:
        return take64(in);
    default:
        return take8(in) * (size_t)(1 + k % 37);
    }
}

/* Timeouts that never block for long in a single thread. */
static double take_short_timeout(struct input *in)
{
    static const double t[] = {0.0, -0.0, -1.0, -INFINITY, -DBL_MAX, 1e-9, 1e-6, -1e-300};
    return t[take8(in) % (sizeof t / sizeof *t)];
}

/* Any timeout, for calls that cannot block: the edges included. */
static double take_any_timeout(struct input *in)
{
    static const double t[] = {0.0,      -0.0,   -1.0,    1e-9,     1.0,       1e9,
                               1e9 + 1,  1e300,  DBL_MAX, INFINITY, -INFINITY, -DBL_MAX,
                               4.9e-324, 1e-300, 1.5e18,  9.3e18};
    return t[take8(in) % (sizeof t / sizeof *t)];
}

/* ---- the model -------------------------------------------------------- */

#define NSLOTS 4

struct lock_m {
    mp_lock *o;
    bool held;
};
struct rlock_m {
    mp_rlock *o;
    unsigned depth;
};
struct sem_m {
    mp_semaphore *o;
    unsigned value;
    bool bounded;
    unsigned bound;
};
struct event_m {
    mp_event *o;
    bool set;
};
struct cond_m {
    mp_condition *o;
    int lock;       /* slot of the user lock, -1 = its own rlock */
    unsigned depth; /* own rlock depth */
};
struct barrier_m {
    mp_barrier *o;
    unsigned parties;
    bool broken;
};
struct block_m {
    unsigned char *p;
    size_t size;
};

static struct {
    struct lock_m lock[NSLOTS];
    struct rlock_m rlock[NSLOTS];
    struct sem_m sem[NSLOTS];
    struct event_m event[NSLOTS];
    struct cond_m cond[NSLOTS];
    struct barrier_m barrier[NSLOTS];
    struct block_m block[NSLOTS * 2];
    mp_process *proc[NSLOTS];
} M;

static bool pred_true(void *arg)
{
    return true;
}
static bool pred_false(void *arg)
{
    return false;
}
static int target(void *arg)
{
    return 0;
}

/* Is the condition's lock held by us? */
static bool cond_held(const struct cond_m *c)
{
    return c->lock < 0 ? c->depth > 0 : M.lock[c->lock].held;
}

static void fill(unsigned char *p, size_t size)
{
    /* Only the edges: a block may be gigabytes of untouched address space. */
    unsigned char v = (unsigned char)((uintptr_t)p >> 4);
    size_t edge = size < 64 ? size : 64;
    memset(p, v, edge);
    memset(p + size - edge, v, edge);
}

static void verify(const unsigned char *p, size_t size)
{
    unsigned char v = (unsigned char)((uintptr_t)p >> 4);
    size_t edge = size < 64 ? size : 64;
    for (size_t i = 0; i < edge; i++)
        CHECK(p[i] == v && p[size - 1 - i] == v);
}

/* ---- the calls -------------------------------------------------------- */

static void op_lock(struct input *in, uint8_t what)
{
    struct lock_m *l = &M.lock[take8(in) % NSLOTS];
    if (l->o == NULL) {
        /* The NULL object first: every call must say MP_EINVAL. */
        CHECK_RC(mp_lock_acquire(NULL, take_any_timeout(in)), MP_EINVAL);
        CHECK_RC(mp_lock_release(NULL), MP_EINVAL);
        l->o = mp_lock_new();
        CHECK(l->o != NULL);
        l->held = false;
        return;
    }
    switch (what % 4) {
    case 0: { /* acquire */
        double t = l->held ? take_short_timeout(in) : take_any_timeout(in);
        if (take8(in) % 8 == 0)
            t = NAN;
        int rc = mp_lock_acquire(l->o, t);
        if (isnan(t))
            CHECK_RC(rc, MP_EINVAL);
        else if (l->held)
            CHECK_RC(rc, MP_ETIMEDOUT);
        else
            CHECK_RC(rc, 0);
        if (rc == 0)
            l->held = true;
        break;
    }
    case 1: /* release */
        CHECK_RC(mp_lock_release(l->o), l->held ? 0 : MP_EVALUE);
        l->held = false;
        break;
    case 2: /* free, unless a condition uses it */
        for (int i = 0; i < NSLOTS; i++)
            if (M.cond[i].o != NULL && M.cond[i].lock == l - M.lock)
                return;
        mp_lock_free(l->o);
        l->o = NULL;
        break;
    default:
        mp_lock_free(NULL);
        break;
    }
}

static void op_rlock(struct input *in, uint8_t what)
{
    struct rlock_m *r = &M.rlock[take8(in) % NSLOTS];
    if (r->o == NULL) {
        CHECK_RC(mp_rlock_acquire(NULL, 0), MP_EINVAL);
        CHECK_RC(mp_rlock_release(NULL), MP_EINVAL);
        r->o = mp_rlock_new();
        CHECK(r->o != NULL);
        r->depth = 0;
        return;
    }
    switch (what % 3) {
    case 0: {
        double t = take8(in) % 8 == 0 ? NAN : take_any_timeout(in);
        int rc = mp_rlock_acquire(r->o, t);
        CHECK_RC(rc, isnan(t) ? MP_EINVAL : 0);
        if (rc == 0)
            r->depth++;
        break;
    }
    case 1:
        CHECK_RC(mp_rlock_release(r->o), r->depth > 0 ? 0 : MP_ENOTOWNER);
        if (r->depth > 0)
            r->depth--;
        break;
    default:
        mp_rlock_free(r->o);
        r->o = NULL;
        break;
    }
}

static void op_sem(struct input *in, uint8_t what)
{
    struct sem_m *s = &M.sem[take8(in) % NSLOTS];
    if (s->o == NULL) {
        CHECK_RC(mp_semaphore_acquire(NULL, 0), MP_EINVAL);
        CHECK_RC(mp_semaphore_release(NULL), MP_EINVAL);
        CHECK_RC(mp_semaphore_get_value(NULL), MP_EINVAL);
        bool bounded = take8(in) & 1;
        uint8_t k = take8(in);
        /* Mostly small values; sometimes past SEM_VALUE_MAX. */
        unsigned v = k < 200 ? k % 5 : (k < 230 ? (unsigned)INT32_MAX : UINT32_MAX - (k & 3));
        s->o = bounded ? mp_bounded_semaphore_new(v) : mp_semaphore_new(v);
        if (v > (unsigned)INT32_MAX) {
            CHECK(s->o == NULL && errno == EINVAL);
            return;
        }
        CHECK(s->o != NULL);
        s->value = v;
        s->bounded = bounded;
        s->bound = v;
        return;
    }
    switch (what % 4) {
    case 0: {
        double t = s->value == 0 ? take_short_timeout(in) : take_any_timeout(in);
        if (take8(in) % 8 == 0)
            t = NAN;
        int rc = mp_semaphore_acquire(s->o, t);
        CHECK_RC(rc, isnan(t) ? MP_EINVAL : s->value == 0 ? MP_ETIMEDOUT : 0);
        if (rc == 0)
            s->value--;
        break;
    }
    case 1: {
        int rc = mp_semaphore_release(s->o);
        if (s->bounded && s->value >= s->bound)
            CHECK_RC(rc, MP_EVALUE);
        else if (s->value >= (unsigned)INT32_MAX)
            CHECK_RC(rc, -EOVERFLOW);
        else
            CHECK_RC(rc, 0);
        if (rc == 0)
            s->value++;
        break;
    }
    case 2:
        CHECK_RC(mp_semaphore_get_value(s->o), (int)s->value);
        break;
    default:
        mp_semaphore_free(s->o);
        s->o = NULL;
        break;
    }
}

static void op_event(struct input *in, uint8_t what)
{
    struct event_m *e = &M.event[take8(in) % NSLOTS];
    if (e->o == NULL) {
        CHECK_RC(mp_event_set(NULL), MP_EINVAL);
        CHECK_RC(mp_event_clear(NULL), MP_EINVAL);
        CHECK_RC(mp_event_wait(NULL, 0), MP_EINVAL);
        CHECK(!mp_event_is_set(NULL));
        e->o = mp_event_new();
        CHECK(e->o != NULL);
        e->set = false;
        return;
    }
    switch (what % 5) {
    case 0:
        CHECK_RC(mp_event_set(e->o), 0);
        e->set = true;
        break;
    case 1:
        CHECK_RC(mp_event_clear(e->o), 0);
        e->set = false;
        break;
    case 2: {
        double t = e->set ? take_any_timeout(in) : take_short_timeout(in);
        if (take8(in) % 8 == 0)
            t = NAN;
        CHECK_RC(mp_event_wait(e->o, t), isnan(t) ? MP_EINVAL : e->set ? 0 : MP_ETIMEDOUT);
        break;
    }
    case 3:
        CHECK(mp_event_is_set(e->o) == e->set);
        break;
    default:
        mp_event_free(e->o);
        e->o = NULL;
        break;
    }
}

static void op_cond(struct input *in, uint8_t what)
{
    struct cond_m *c = &M.cond[take8(in) % NSLOTS];
    if (c->o == NULL) {
        CHECK_RC(mp_condition_acquire(NULL, 0), MP_EINVAL);
        CHECK_RC(mp_condition_release(NULL), MP_EINVAL);
        CHECK_RC(mp_condition_wait(NULL, 0), MP_EINVAL);
        CHECK_RC(mp_condition_notify(NULL, 1), MP_EINVAL);
        CHECK_RC(mp_condition_notify_all(NULL), MP_EINVAL);
        int k = take8(in) % (NSLOTS + 1);
        c->lock = k < NSLOTS && M.lock[k].o != NULL ? k : -1;
        c->o = mp_condition_new(c->lock >= 0 ? M.lock[c->lock].o : NULL);
        CHECK(c->o != NULL);
        c->depth = 0;
        return;
    }
    bool held = cond_held(c);
    switch (what % 7) {
    case 0: { /* acquire */
        if (c->lock >= 0 && held) {
            CHECK_RC(mp_condition_acquire(c->o, take_short_timeout(in)), MP_ETIMEDOUT);
            break;
        }
        CHECK_RC(mp_condition_acquire(c->o, take_any_timeout(in)), 0);
        if (c->lock >= 0)
            M.lock[c->lock].held = true;
        else
            c->depth++;
        break;
    }
    case 1: { /* release */
        int rc = mp_condition_release(c->o);
        if (c->lock >= 0) {
            CHECK_RC(rc, held ? 0 : MP_EVALUE);
            M.lock[c->lock].held = false;
        } else {
            CHECK_RC(rc, held ? 0 : MP_ENOTOWNER);
            if (held)
                c->depth--;
        }
        break;
    }
    case 2: { /* wait: times out, and holds the lock (at the same depth) after */
        double t = take8(in) % 8 == 0 ? NAN : take_short_timeout(in);
        int rc = mp_condition_wait(c->o, t);
        CHECK_RC(rc, isnan(t) ? MP_EINVAL : !held ? MP_ESTATE : MP_ETIMEDOUT);
        CHECK(cond_held(c) == held);
        if (held && c->lock < 0) {
            /* The depth must be back: release it exactly depth times. */
            for (unsigned i = 0; i < c->depth; i++)
                CHECK_RC(mp_condition_release(c->o), 0);
            CHECK_RC(mp_condition_release(c->o), MP_ENOTOWNER);
            for (unsigned i = 0; i < c->depth; i++)
                CHECK_RC(mp_condition_acquire(c->o, 0), 0);
        }
        break;
    }
    case 3: { /* wait_for */
        bool truth = take8(in) & 1;
        double t = truth ? take_any_timeout(in) : take_short_timeout(in);
        int rc = mp_condition_wait_for(c->o, truth ? pred_true : pred_false, NULL, t);
        CHECK_RC(rc, !held ? MP_ESTATE : truth ? 0 : MP_ETIMEDOUT);
        CHECK_RC(mp_condition_wait_for(c->o, NULL, NULL, 0), MP_EINVAL);
        break;
    }
    case 4: { /* notify n */
        int n = (int)(int8_t)take8(in);
        int rc = mp_condition_notify(c->o, n);
        CHECK_RC(rc, n < 0 ? MP_EINVAL : !held ? MP_ESTATE : 0);
        break;
    }
    case 5:
        CHECK_RC(mp_condition_notify_all(c->o), held ? 0 : MP_ESTATE);
        break;
    default: /* free: give the lock back first, as a user must */
        if (c->lock < 0) {
            while (c->depth > 0) {
                CHECK_RC(mp_condition_release(c->o), 0);
                c->depth--;
            }
        }
        mp_condition_free(c->o);
        c->o = NULL;
        break;
    }
}

static void op_barrier(struct input *in, uint8_t what)
{
    struct barrier_m *b = &M.barrier[take8(in) % NSLOTS];
    if (b->o == NULL) {
        CHECK_RC(mp_barrier_wait(NULL, 0), MP_EINVAL);
        CHECK_RC(mp_barrier_abort(NULL), MP_EINVAL);
        CHECK_RC(mp_barrier_reset(NULL), MP_EINVAL);
        uint8_t k = take8(in);
        unsigned parties = k < 240 ? k % 4 : (k & 1 ? UINT32_MAX : (unsigned)INT32_MAX + 1);
        b->o = mp_barrier_new(parties);
        if (parties == 0 || parties > (unsigned)INT32_MAX) {
            CHECK(b->o == NULL && errno == EINVAL);
            return;
        }
        CHECK(b->o != NULL);
        b->parties = parties;
        b->broken = false;
        return;
    }
    switch (what % 6) {
    case 0: {
        /* Alone: a one-party barrier passes, any other times out and
         * breaks. */
        double t = b->parties == 1 && !b->broken ? take_any_timeout(in) : take_short_timeout(in);
        if (take8(in) % 8 == 0)
            t = NAN;
        int rc = mp_barrier_wait(b->o, t);
        if (isnan(t))
            CHECK_RC(rc, MP_EINVAL);
        else if (b->broken || b->parties > 1)
            CHECK_RC(rc, MP_EBROKEN);
        else
            CHECK_RC(rc, 0);
        if (!isnan(t) && b->parties > 1)
            b->broken = true;
        break;
    }
    case 1:
        CHECK_RC(mp_barrier_abort(b->o), 0);
        b->broken = true;
        break;
    case 2:
        CHECK_RC(mp_barrier_reset(b->o), 0);
        b->broken = false;
        break;
    case 3:
        CHECK(mp_barrier_broken(b->o) == b->broken);
        CHECK(mp_barrier_parties(b->o) == (int)b->parties);
        CHECK(mp_barrier_n_waiting(b->o) == 0);
        break;
    case 4:
        CHECK(mp_barrier_parties(NULL) == MP_EINVAL);
        CHECK(mp_barrier_n_waiting(NULL) == MP_EINVAL);
        CHECK(!mp_barrier_broken(NULL));
        break;
    default:
        mp_barrier_free(b->o);
        b->o = NULL;
        break;
    }
}

static void op_heap(struct input *in, uint8_t what)
{
    struct block_m *b = &M.block[take8(in) % (NSLOTS * 2)];
    if (b->p != NULL) {
        CHECK(mp_shared_usable_size(b->p) >= b->size);
        verify(b->p, b->size);
        mp_shared_free(b->p);
        b->p = NULL;
        return;
    }
    size_t size;
    if (what & 1) {
        size = take_size(in);
        errno = 0;
        b->p = mp_shared_malloc(size);
    } else {
        size_t n = take_size(in), each = take_size(in);
        /* calloc clears what it hands out, page by page: keep what the
         * fuzzer may touch well under its memory limit. */
        if (each != 0 && n <= SIZE_MAX / each && n * each > ((size_t)256 << 20))
            return;
        errno = 0;
        b->p = mp_shared_calloc(n, each);
        size = n * each;
        if (each != 0 && n > SIZE_MAX / each) {
            CHECK(b->p == NULL && errno == ENOMEM);
            return;
        }
        if (b->p != NULL && size > 0) {
            size_t edge = size < 64 ? size : 64;
            for (size_t i = 0; i < edge; i++)
                CHECK(b->p[i] == 0 && b->p[size - 1 - i] == 0);
        }
    }
    if (b->p == NULL) {
        /* Only a size the heap cannot hold may fail. */
        CHECK(errno == ENOMEM && size > ((size_t)1 << 30));
        return;
    }
    CHECK(((uintptr_t)b->p & 15) == 0);
    b->size = size;
    if (size > 0)
        fill(b->p, size);
    mp_shared_free(NULL);
}

static void op_process(struct input *in, uint8_t what)
{
    mp_process **slot = &M.proc[take8(in) % NSLOTS];
    if (*slot == NULL) {
        errno = 0;
        CHECK(mp_process_new(NULL, NULL, NULL) == NULL && errno == EINVAL);
        char name[40];
        size_t n = take8(in) % sizeof name;
        for (size_t i = 0; i < n; i++)
            name[i] = (char)(take8(in) | 1); /* never NUL inside */
        name[n] = '\0';
        mp_process_opts o = {.name = take8(in) & 1 ? name : NULL, .daemon = take8(in) & 1};
        *slot = mp_process_new(target, NULL, what & 1 ? &o : NULL);
        CHECK(*slot != NULL);
        return;
    }
    mp_process *p = *slot;
    switch (what % 5) {
    case 0: { /* repr, snprintf-style, into a buffer of any size */
        size_t cap = take8(in) % 80;
        char *buf = cap > 0 ? malloc(cap) : NULL;
        int full = mp_process_repr(p, buf, cap);
        CHECK(full > 0);
        char whole[256];
        CHECK(mp_process_repr(p, whole, sizeof whole) == full);
        CHECK((size_t)full == strlen(whole));
        if (cap > 0) {
            CHECK(strlen(buf) == ((size_t)full < cap ? (size_t)full : cap - 1));
            CHECK(strncmp(buf, whole, cap - 1) == 0);
        }
        free(buf);
        CHECK_RC(mp_process_repr(p, NULL, 1), MP_EINVAL);
        CHECK_RC(mp_process_repr(NULL, whole, sizeof whole), MP_EINVAL);
        break;
    }
    case 1: { /* calls that are not valid before start */
        int code = 12345;
        CHECK_RC(mp_process_exitcode(p, &code), MP_ESTATE);
        CHECK(code == 12345);
        CHECK_RC(mp_process_join(p, take_any_timeout(in)), MP_ESTATE);
        CHECK_RC(mp_process_terminate(p), MP_ESTATE);
        CHECK_RC(mp_process_kill(p), MP_ESTATE);
        CHECK(mp_process_pid(p) == 0);
        CHECK(mp_process_sentinel(p) == -1);
        CHECK(!mp_process_is_alive(p));
        break;
    }
    case 2: {
        bool d = take8(in) & 1;
        CHECK_RC(mp_process_set_daemon(p, d), 0);
        CHECK(mp_process_daemon(p) == d);
        CHECK(mp_process_name(p) != NULL);
        break;
    }
    case 3: /* NULL everywhere */
        CHECK_RC(mp_process_start(NULL), MP_EINVAL);
        CHECK_RC(mp_process_join(NULL, 0), MP_EINVAL);
        CHECK_RC(mp_process_terminate(NULL), MP_EINVAL);
        CHECK_RC(mp_process_kill(NULL), MP_EINVAL);
        CHECK_RC(mp_process_exitcode(NULL, NULL), MP_EINVAL);
        CHECK_RC(mp_process_exitcode(p, NULL), MP_EINVAL);
        CHECK_RC(mp_process_set_daemon(NULL, true), MP_EINVAL);
        CHECK_RC(mp_process_sentinel(NULL), MP_EINVAL);
        CHECK(!mp_process_is_alive(NULL));
        mp_process_free(NULL);
        break;
    default:
        mp_process_free(p);
        *slot = NULL;
        break;
    }
}

static void op_error(struct input *in)
{
    int code = (int)(uint32_t)take64(in);
    const char *s = mp_strerror(code), *n = mp_err_name(code);
    CHECK(s != NULL && n != NULL && strlen(s) < 200 && strlen(n) < 64);
}

/* ---- the driver --------------------------------------------------------- */

/* cleanup frees everything, as a program would, so that one input cannot
 * leave state that another depends on. */
static void cleanup(void)
{
    for (int i = 0; i < NSLOTS; i++) {
        if (M.cond[i].o != NULL) {
            while (M.cond[i].lock < 0 && M.cond[i].depth-- > 0)
                mp_condition_release(M.cond[i].o);
            mp_condition_free(M.cond[i].o);
        }
        mp_lock_free(M.lock[i].o);
        mp_rlock_free(M.rlock[i].o);
        mp_semaphore_free(M.sem[i].o);
        mp_event_free(M.event[i].o);
        mp_barrier_free(M.barrier[i].o);
        mp_process_free(M.proc[i]);
    }
    for (int i = 0; i < NSLOTS * 2; i++)
        mp_shared_free(M.block[i].p);
    memset(&M, 0, sizeof M);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct input in = {data, size};
    /* Bounded work per input: a few hundred calls at most. */
    for (int steps = 0; in.n > 0 && steps < 256; steps++) {
        uint8_t op = take8(&in);
        uint8_t what = take8(&in);
        switch (op % 9) {
        case 0:
            op_lock(&in, what);
            break;
        case 1:
            op_rlock(&in, what);
            break;
        case 2:
            op_sem(&in, what);
            break;
        case 3:
            op_event(&in, what);
            break;
        case 4:
            op_cond(&in, what);
            break;
        case 5:
            op_barrier(&in, what);
            break;
        case 6:
            op_heap(&in, what);
            break;
        case 7:
            op_process(&in, what);
            break;
        default:
            op_error(&in);
            break;
        }
    }
    cleanup();
    return 0;
}
