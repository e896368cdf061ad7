/* test_dict_crash.c - mp_dict and mp_list when a writer is killed or
 * stopped in the middle of a call: after 100 SIGKILLs the containers hold
 * exactly the state before or after the operation in flight (so no key
 * twice, no value half-written, no other change lost), a reader running
 * all along never sees a torn value, and a SIGSTOPped writer holds up
 * no reader while other writers of its stripe time out within their
 * bound and change nothing. */
/* ctest-timeout: 300 */
#include "mp_test.h"

#include <inttypes.h>

/* xorshift64*, replayable from a seed. */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dULL;
}

/* ---- values that show when they are torn ---------------------------------- */

#define NV      3000    /* value keys "v<i>" */
#define NC      64      /* counter keys "c<i>" */
#define LIST_ID 0xfffff /* the id list items are made with */
#define BIG_MAX 160000

static uint64_t mix(uint64_t x)
{
    x ^= x >> 31;
    x *= 0x9e3779b97f4a7c15ULL;
    return x ^ (x >> 29);
}

/* make_value fills n bytes for item id from random r: below 8 bytes a
 * pattern of (id, n); from 8 to 15 a 4-byte r, then bytes derived from
 * r and id; from 16 an 8-byte r, bytes derived from it, and a checksum of
 * them all with id in the last 8. A value made of two writes never checks
 * out (well_formed). */
static void make_value(uint32_t id, uint64_t r, unsigned char *p, size_t n)
{
    if (n < 8) {
        for (size_t i = 0; i < n; i++)
            p[i] = (unsigned char)(id * 13 + n * 7 + i);
        return;
    }
    size_t head = n < 16 ? 4 : 8, tail = n < 16 ? 0 : 8;
    memcpy(p, &r, head);
    uint64_t x = (n < 16 ? (uint32_t)r : r) ^ ((uint64_t)id << 40);
    for (size_t i = head; i < n - tail; i++)
        p[i] = (unsigned char)mix(x + i);
    if (tail) {
        uint64_t sum = id;
        for (size_t i = 0; i < n - tail; i++)
            sum = sum * 31 + p[i];
        memcpy(p + n - tail, &sum, 8);
    }
}

static bool well_formed(uint32_t id, const unsigned char *p, size_t n)
{
    static unsigned char want[BIG_MAX];
    uint64_t r = 0;
    memcpy(&r, p, n < 8 ? 0 : n < 16 ? 4 : 8);
    make_value(id, r, want, n);
    return memcmp(want, p, n) == 0;
}

/* ---- the writer's operations, replayable -------------------------------- */

enum {
    OP_SET,     /* v<k> = value */
    OP_DEL,     /* del v<k> */
    OP_CSET,    /* c<k> = 8 random bytes (in place when it is 8 bytes) */
    OP_CADD,    /* c<k> += delta */
    OP_CDEL,    /* del c<k> */
    OP_CLEAR,   /* clear */
    OP_LAPPEND, /* append */
    OP_LSET,    /* l[i] = value */
    OP_LPOP,    /* pop() */
    OP_LPOP_AT, /* pop(i) */
};

typedef struct {
    int kind;
    unsigned k;  /* key number */
    size_t n;    /* value length */
    uint64_t r;  /* value randomness, or the counter's delta or bytes */
    ptrdiff_t i; /* list index */
} op;

static size_t rand_len(uint64_t *s)
{
    uint64_t x = rnd(s) % 200;
    if (x < 50)
        return 8;
    if (x < 55)
        return (size_t)(rnd(s) % 8);
    if (x < 190)
        return 9 + (size_t)(rnd(s) % 300);
    if (x < 199)
        return 2000 + (size_t)(rnd(s) % 4000);
    return 140000 + (size_t)(rnd(s) % 10000);
}

/* next_op draws the next operation from the writer's sequence: it depends
 * on the random state only, never on the containers. */
static op next_op(uint64_t *s)
{
    op o = {0, 0, 0, 0, 0};
    uint64_t x = rnd(s) % 1000;
    o.k = (unsigned)(rnd(s) % NV);
    o.r = rnd(s);
    o.i = (ptrdiff_t)(rnd(s) % 401) - 200;
    if (x < 330) {
        o.kind = OP_SET;
        o.n = rand_len(s);
    } else if (x < 430) {
        o.kind = OP_DEL;
    } else if (x < 480) {
        o.kind = OP_CSET;
    } else if (x < 630) {
        o.kind = OP_CADD;
    } else if (x < 660) {
        o.kind = OP_CDEL;
    } else if (x < 661) {
        o.kind = OP_CLEAR;
    } else if (x < 820) {
        o.kind = OP_LAPPEND;
        o.n = rand_len(s);
    } else if (x < 870) {
        o.kind = OP_LSET;
        o.n = rand_len(s);
    } else if (x < 940) {
        o.kind = OP_LPOP;
    } else {
        o.kind = OP_LPOP_AT;
    }
    if (o.kind >= OP_CSET && o.kind <= OP_CDEL)
        o.k %= NC;
    return o;
}

static size_t key_of(int counter, unsigned k, char *buf)
{
    return (size_t)snprintf(buf, 16, "%c%u", counter ? 'c' : 'v', k);
}

/* do_op runs o on the containers; errors that the model predicts (a
 * missing key, an index out of range) are part of the sequence. */
static void do_op(mp_dict *d, mp_list *l, const op *o)
{
    static unsigned char v[BIG_MAX];
    char key[16];
    size_t kl = key_of(o->kind >= OP_CSET && o->kind <= OP_CDEL, o->k, key), n;
    switch (o->kind) {
    case OP_SET:
        make_value(o->k, o->r, v, o->n);
        (void)mp_dict_set(d, key, kl, v, o->n);
        break;
    case OP_DEL:
    case OP_CDEL:
        (void)mp_dict_del(d, key, kl);
        break;
    case OP_CSET:
        (void)mp_dict_set(d, key, kl, &o->r, 8);
        break;
    case OP_CADD:
        (void)mp_dict_add_i64(d, key, kl, (int64_t)(o->r % 1000), NULL);
        break;
    case OP_CLEAR:
        (void)mp_dict_clear(d);
        break;
    case OP_LAPPEND:
        make_value(LIST_ID, o->r, v, o->n);
        (void)mp_list_append(l, v, o->n);
        break;
    case OP_LSET:
        make_value(LIST_ID, o->r, v, o->n);
        (void)mp_list_set(l, o->i, v, o->n);
        break;
    case OP_LPOP:
        (void)mp_list_pop(l, -1, v, sizeof v, &n);
        break;
    case OP_LPOP_AT:
        (void)mp_list_pop(l, o->i, v, sizeof v, &n);
        break;
    }
}

/* ---- the model ---------------------------------------------------------- */

typedef struct {
    bool in;
    size_t n;
    unsigned char *b;
} mval;

typedef struct {
    mval v[NV], c[NC];
    mval *list;
    size_t llen, lcap;
} model;

static void mval_set(mval *m, const void *b, size_t n)
{
    free(m->b);
    m->b = malloc(n > 0 ? n : 1);
    memcpy(m->b, b, n);
    m->n = n;
    m->in = true;
}

static void mval_drop(mval *m)
{
    free(m->b);
    m->b = NULL;
    m->in = false;
}

static model *model_copy(const model *m)
{
    model *c = calloc(1, sizeof *c);
    for (int i = 0; i < NV; i++)
        if (m->v[i].in)
            mval_set(&c->v[i], m->v[i].b, m->v[i].n);
    for (int i = 0; i < NC; i++)
        if (m->c[i].in)
            mval_set(&c->c[i], m->c[i].b, m->c[i].n);
    c->lcap = m->llen + 1;
    c->list = calloc(c->lcap, sizeof *c->list);
    for (size_t i = 0; i < m->llen; i++)
        mval_set(&c->list[i], m->list[i].b, m->list[i].n);
    c->llen = m->llen;
    return c;
}

static void model_free(model *m)
{
    for (int i = 0; i < NV; i++)
        mval_drop(&m->v[i]);
    for (int i = 0; i < NC; i++)
        mval_drop(&m->c[i]);
    for (size_t i = 0; i < m->llen; i++)
        mval_drop(&m->list[i]);
    free(m->list);
    free(m);
}

static bool norm(ptrdiff_t i, size_t n, size_t *at)
{
    if (i < 0)
        i += (ptrdiff_t)n;
    if (i < 0 || (size_t)i >= n)
        return false;
    *at = (size_t)i;
    return true;
}

static void model_op(model *m, const op *o)
{
    static unsigned char v[BIG_MAX];
    size_t at;
    switch (o->kind) {
    case OP_SET:
        make_value(o->k, o->r, v, o->n);
        mval_set(&m->v[o->k], v, o->n);
        break;
    case OP_DEL:
        mval_drop(&m->v[o->k]);
        break;
    case OP_CDEL:
        mval_drop(&m->c[o->k]);
        break;
    case OP_CSET:
        mval_set(&m->c[o->k], &o->r, 8);
        break;
    case OP_CADD:
        if (!m->c[o->k].in || m->c[o->k].n == 8) {
            uint64_t x = 0;
            if (m->c[o->k].in)
                memcpy(&x, m->c[o->k].b, 8);
            x += o->r % 1000;
            mval_set(&m->c[o->k], &x, 8);
        }
        break;
    case OP_CLEAR:
        for (int i = 0; i < NV; i++)
            mval_drop(&m->v[i]);
        for (int i = 0; i < NC; i++)
            mval_drop(&m->c[i]);
        break;
    case OP_LAPPEND:
        if (m->llen == m->lcap) {
            m->lcap = m->lcap ? 2 * m->lcap : 16;
            m->list = realloc(m->list, m->lcap * sizeof *m->list);
        }
        make_value(LIST_ID, o->r, v, o->n);
        m->list[m->llen] = (mval){false, 0, NULL};
        mval_set(&m->list[m->llen++], v, o->n);
        break;
    case OP_LSET:
        if (norm(o->i, m->llen, &at)) {
            make_value(LIST_ID, o->r, v, o->n);
            mval_set(&m->list[at], v, o->n);
        }
        break;
    case OP_LPOP:
    case OP_LPOP_AT:
        if (norm(o->kind == OP_LPOP ? -1 : o->i, m->llen, &at)) {
            mval_drop(&m->list[at]);
            memmove(&m->list[at], &m->list[at + 1], (m->llen - at - 1) * sizeof *m->list);
            m->llen--;
        }
        break;
    }
}

/* ---- comparing containers with a model -------------------------------------- */

typedef struct {
    int n;
    int bad;
    char keys[NV + NC + 1][16];
} key_list;

static int note_key(const void *key, size_t klen, const void *val, size_t vlen, void *ud)
{
    key_list *kl = ud;
    (void)val;
    (void)vlen;
    if (klen >= 16 || kl->n > NV + NC) {
        kl->bad = __LINE__;
        return 1;
    }
    memcpy(kl->keys[kl->n], key, klen);
    kl->keys[kl->n++][klen] = '\0';
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(a, b);
}

static bool mval_is(const mval *m, mp_dict *d, const char *key)
{
    static unsigned char buf[BIG_MAX];
    size_t n = 0;
    int rc = mp_dict_get(d, key, strlen(key), buf, sizeof buf, &n);
    if (!m->in)
        return rc == MP_ENOENT;
    return rc == 0 && n == m->n && memcmp(buf, m->b, n) == 0;
}

/* same_state: 0 when the dict and the list hold exactly the model, else
 * the line of the first difference. */
static int same_state(mp_dict *d, mp_list *l, const model *m)
{
    static unsigned char buf[BIG_MAX];
    char key[16];
    size_t count = 0;
    for (unsigned i = 0; i < NV; i++) {
        key_of(0, i, key);
        if (!mval_is(&m->v[i], d, key))
            return __LINE__;
        count += m->v[i].in;
    }
    for (unsigned i = 0; i < NC; i++) {
        key_of(1, i, key);
        if (!mval_is(&m->c[i], d, key))
            return __LINE__;
        count += m->c[i].in;
    }
    if (mp_dict_len(d) != count)
        return __LINE__;
    /* The snapshot: as many keys, each once. */
    static key_list kl;
    kl.n = kl.bad = 0;
    if (mp_dict_items(d, note_key, &kl) != 0 || kl.bad || (size_t)kl.n != count)
        return __LINE__;
    qsort(kl.keys, (size_t)kl.n, sizeof kl.keys[0], cmp_str);
    for (int i = 1; i < kl.n; i++)
        if (strcmp(kl.keys[i - 1], kl.keys[i]) == 0)
            return __LINE__;
    if (mp_list_len(l) != m->llen)
        return __LINE__;
    for (size_t i = 0; i < m->llen; i++) {
        size_t n = 0;
        if (mp_list_get(l, (ptrdiff_t)i, buf, sizeof buf, &n) != 0 || n != m->list[i].n ||
            memcmp(buf, m->list[i].b, n) != 0)
            return __LINE__;
    }
    return 0;
}

/* ---- the kill test -------------------------------------------------------- */

#define KILLS 100

typedef struct {
    _Atomic int done;   /* operations the current writer finished */
    _Atomic int stop;   /* the reader should stop */
    _Atomic long reads; /* values the reader checked */
    _Atomic int torn;   /* values the reader found broken */
    mp_dict *d;
    mp_list *l;
    uint64_t seed; /* the current writer's sequence */
} crash_shared;

static int child_writer(void *arg)
{
    crash_shared *sh = arg;
    uint64_t s = sh->seed;
    for (;;) { /* until killed */
        op o = next_op(&s);
        do_op(sh->d, sh->l, &o);
        atomic_fetch_add(&sh->done, 1);
    }
    return 0;
}

/* The reader: reads keys and list items while writers come and die, and
 * checks that every value it gets is one that was written whole. */
static int child_reader(void *arg)
{
    crash_shared *sh = arg;
    static unsigned char buf[BIG_MAX];
    uint64_t s = 77;
    while (!atomic_load(&sh->stop)) {
        char key[16];
        unsigned k = (unsigned)(rnd(&s) % NV);
        size_t kl = key_of(0, k, key), n = 0;
        if (mp_dict_get(sh->d, key, kl, buf, sizeof buf, &n) == 0 && !well_formed(k, buf, n))
            atomic_fetch_add(&sh->torn, 1);
        ptrdiff_t i = (ptrdiff_t)(rnd(&s) % 64) - 32;
        if (mp_list_get(sh->l, i, buf, sizeof buf, &n) == 0 && !well_formed(LIST_ID, buf, n))
            atomic_fetch_add(&sh->torn, 1);
        atomic_fetch_add(&sh->reads, 2);
    }
    return 0;
}

static void test_dict_and_list_whole_after_100_sigkills(void **state)
{
    (void)state;
    crash_shared *sh = mp_shared_calloc(1, sizeof *sh);
    sh->d = mp_dict_new();
    sh->l = mp_list_new();
    assert_non_null(sh->d);
    assert_non_null(sh->l);
    pid_t reader = mpt_fork(child_reader, sh);
    model *m = calloc(1, sizeof *m);
    uint64_t pick = 4242;
    int before = 0, after = 0;
    for (int kill_no = 0; kill_no < KILLS; kill_no++) {
        sh->seed = 1000 + (uint64_t)kill_no;
        atomic_store(&sh->done, 0);
        int target = 1 + (int)(rnd(&pick) % 3000);
        pid_t w = mpt_fork(child_writer, sh);
        assert_true(mpt_wait_atomic(&sh->done, target, 60.0));
        kill(w, SIGKILL);
        assert_int_equal(mpt_wait(w), 128 + SIGKILL);
        /* Replay what it finished; the one in flight is done or not. */
        int done = atomic_load(&sh->done);
        uint64_t s = sh->seed;
        for (int i = 0; i < done; i++) {
            op o = next_op(&s);
            model_op(m, &o);
        }
        op flight = next_op(&s);
        model *m2 = model_copy(m);
        model_op(m2, &flight);
        int diff_after = same_state(sh->d, sh->l, m2);
        if (diff_after == 0) {
            model_free(m);
            m = m2;
            after++;
        } else {
            int diff_before = same_state(sh->d, sh->l, m);
            if (diff_before != 0)
                fail_msg("kill %d after %d operations (op kind %d in flight): neither state "
                         "(line %d after, line %d before)",
                         kill_no, done, flight.kind, diff_after, diff_before);
            model_free(m2);
            before++;
        }
    }
    atomic_store(&sh->stop, 1);
    assert_int_equal(mpt_wait(reader), 0);
    assert_int_equal(atomic_load(&sh->torn), 0);
    assert_true(atomic_load(&sh->reads) > 0);
    /* Kills landed both before and after commits. */
    print_message("kills: %d left the operation undone, %d done; reader checked %ld values\n",
                  before, after, atomic_load(&sh->reads));
    assert_true(before > 0 && after > 0);
    model_free(m);
    mp_dict_free(sh->d);
    mp_list_free(sh->l);
    mp_shared_free(sh);
}

/* ---- stopped writers ---------------------------------------------------- */

typedef struct {
    _Atomic int ops;  /* the writer's progress */
    _Atomic int stop; /* the writer should end */
    mp_dict *d;
    mp_list *l;
} stop_shared;

/* The stopped writers below allocate only outside the container's lock
 * (mp_dict_set builds a new entry before it; appending within capacity
 * and popping the last item need no new array). The shared heap's own
 * lock can still be held by a stopped process, which stalls every
 * allocation in the family until the heap rewrite lands; so the probes
 * that find a writer stopped inside its lock allocate nothing, and so do
 * the checks run while it is held, except where the heap lock is known
 * to be free (the writer holds the container's lock then).
 *
 * The dict writer: "hot" over and over, 8 bytes (in place) then 24
 * (a new entry), so it is often inside its stripe's lock. */
static int child_hot_writer(void *arg)
{
    stop_shared *sh = arg;
    for (uint64_t i = 0; !atomic_load(&sh->stop); i++) {
        uint64_t v[3] = {i, i, i};
        if (mp_dict_set(sh->d, "hot", 3, v, i % 2 ? 24 : 8) != 0)
            return 1;
        atomic_fetch_add(&sh->ops, 1);
    }
    return 0;
}

/* The in-place writer: adds to "counter" (8 bytes, in its cell) over
 * and over, so it is often inside the cell's lock, and never in the
 * heap. */
static int child_counter_writer(void *arg)
{
    stop_shared *sh = arg;
    while (!atomic_load(&sh->stop)) {
        if (mp_dict_add_i64(sh->d, "counter", 7, 1, NULL) != 0)
            return 1;
        atomic_fetch_add(&sh->ops, 1);
    }
    return 0;
}

static int child_list_writer(void *arg)
{
    stop_shared *sh = arg;
    size_t n;
    uint64_t v;
    for (uint64_t i = 0; !atomic_load(&sh->stop); i++) {
        int rc =
            i % 2 ? mp_list_pop(sh->l, -1, &v, sizeof v, &n) : mp_list_append(sh->l, &i, sizeof i);
        if (rc != 0)
            return 1;
        atomic_fetch_add(&sh->ops, 1);
    }
    return 0;
}

/* stop_inside SIGSTOPs the writer until it stops while holding what
 * probe() needs (probe then fails at once with MP_ETIMEDOUT). True once
 * it did, with the writer stopped. */
static bool stop_inside(pid_t w, stop_shared *sh, bool (*probe)(stop_shared *))
{
    for (int tries = 0; tries < 2000; tries++) {
        int seen = atomic_load(&sh->ops);
        if (!mpt_wait_atomic(&sh->ops, seen + 1 + tries % 7, 30.0))
            return false;
        kill(w, SIGSTOP);
        int st;
        if (waitpid(w, &st, WUNTRACED) != w || !WIFSTOPPED(st))
            return false;
        if (probe(sh))
            return true;
        kill(w, SIGCONT);
    }
    return false;
}

/* Adding 0 to "hot" never allocates (it is there, 8 bytes in place or
 * MP_EVALUE for 24), and times out at once while its stripe is held. */
static bool dict_stripe_held(stop_shared *sh)
{
    return mp_dict_add_i64_timed(sh->d, "hot", 3, 0, NULL, 0) == MP_ETIMEDOUT;
}

static bool counter_cell_held(stop_shared *sh)
{
    return mp_dict_add_i64_timed(sh->d, "counter", 7, 0, NULL, 0) == MP_ETIMEDOUT;
}

/* A pop into no room never allocates (MP_EMSGSIZE, nothing removed), and
 * times out at once while the list is held. */
static bool list_held(stop_shared *sh)
{
    size_t n;
    return mp_list_pop_timed(sh->l, -1, NULL, 0, &n, 0) == MP_ETIMEDOUT;
}

static int count_item(const void *key, size_t klen, const void *val, size_t vlen, void *ud)
{
    (void)key;
    (void)klen;
    (void)val;
    (void)vlen;
    (*(size_t *)ud)++;
    return 0;
}

/* A reader in another process, while the writer is stopped inside: every
 * read returns at once. Exit status 0 when 1000 rounds took under 1 s. */
static int child_dict_reader(void *arg)
{
    stop_shared *sh = arg;
    double t0 = mpt_now();
    for (int i = 0; i < 1000; i++) {
        unsigned char buf[32];
        size_t n;
        if (mp_dict_get(sh->d, "hot", 3, buf, sizeof buf, &n) != 0 || (n != 8 && n != 24))
            return 2;
        if (!mp_dict_contains(sh->d, "hot", 3) || mp_dict_len(sh->d) < 1)
            return 3;
    }
    return mpt_now() - t0 < 1.0 ? 0 : 4;
}

static void test_dict_stopped_writer_blocks_only_its_stripe_writers(void **state)
{
    (void)state;
    stop_shared *sh = mp_shared_calloc(1, sizeof *sh);
    sh->d = mp_dict_new();
    pid_t w = mpt_fork(child_hot_writer, sh);
    assert_true(stop_inside(w, sh, dict_stripe_held));

    /* Readers: here and in another process. */
    unsigned char before[32], now[32];
    size_t blen, n;
    double t0 = mpt_now();
    assert_int_equal(mp_dict_get(sh->d, "hot", 3, before, sizeof before, &blen), 0);
    pid_t r = mpt_fork(child_dict_reader, sh);
    assert_int_equal(mpt_wait(r), 0);
    assert_true(mpt_now() - t0 < 2.0);

    /* Writers of its stripe: the default bound, then their own. */
    uint64_t x = 7;
    t0 = mpt_now();
    assert_int_equal(mp_dict_set(sh->d, "hot", 3, &x, 8), MP_ETIMEDOUT);
    double waited = mpt_now() - t0;
    assert_true(waited >= MP_DICT_TIMEOUT && waited < MP_DICT_TIMEOUT + 1.0);
    t0 = mpt_now();
    assert_int_equal(mp_dict_add_i64_timed(sh->d, "hot", 3, 1, NULL, 0.3), MP_ETIMEDOUT);
    assert_int_equal(mp_dict_del_timed(sh->d, "hot", 3, 0.3), MP_ETIMEDOUT);
    assert_int_equal(mp_dict_set_timed(sh->d, "hot", 3, "longer value", 12, 0.3), MP_ETIMEDOUT);
    assert_int_equal(mp_dict_clear_timed(sh->d, 0.3), MP_ETIMEDOUT);
    waited = mpt_now() - t0;
    assert_true(waited >= 4 * 0.3 && waited < 4 * 0.3 + 1.0);
    /* ...and changed nothing. */
    assert_int_equal(mp_dict_get(sh->d, "hot", 3, now, sizeof now, &n), 0);
    assert_int_equal(n, blen);
    assert_memory_equal(now, before, n);
    assert_int_equal(mp_dict_len(sh->d), 1);

    /* A snapshot gets past a structural write in flight. */
    t0 = mpt_now();
    size_t count = 0;
    assert_int_equal(mp_dict_items(sh->d, NULL, NULL), MP_EINVAL);
    assert_int_equal(mp_dict_items_timed(sh->d, count_item, &count, 0.3), 0);
    assert_int_equal(count, 1);
    assert_true(mpt_now() - t0 < 1.0);

    /* Writers of other stripes go on: some key is in another stripe. */
    bool other = false;
    for (int i = 0; i < 64 && !other; i++) {
        char k[16];
        int kl = snprintf(k, sizeof k, "other%d", i);
        other = mp_dict_set_timed(sh->d, k, (size_t)kl, &x, 8, 0) == 0;
    }
    assert_true(other);

    kill(w, SIGCONT);
    int seen = atomic_load(&sh->ops);
    assert_true(mpt_wait_atomic(&sh->ops, seen + 100, 30.0));
    atomic_store(&sh->stop, 1);
    assert_int_equal(mpt_wait(w), 0);
    mp_dict_free(sh->d);
    mp_shared_free(sh);
}

static void test_dict_stopped_in_place_writer_blocks_only_its_key(void **state)
{
    (void)state;
    stop_shared *sh = mp_shared_calloc(1, sizeof *sh);
    sh->d = mp_dict_new();
    /* Neighbours: many keys, so some share the counter's stripe. */
    for (int i = 0; i < 512; i++)
        assert_int_equal(mp_dict_add_i64(sh->d, &i, sizeof i, i, NULL), 0);
    assert_int_equal(mp_dict_add_i64(sh->d, "counter", 7, 0, NULL), 0);
    pid_t w = mpt_fork(child_counter_writer, sh);
    assert_true(stop_inside(w, sh, counter_cell_held));

    int64_t before, now;
    size_t n;
    double t0 = mpt_now();
    assert_int_equal(mp_dict_get(sh->d, "counter", 7, &before, sizeof before, &n), 0);
    /* A snapshot gets past a write in flight without waiting for it. */
    size_t count = 0;
    assert_int_equal(mp_dict_items_timed(sh->d, count_item, &count, 0.3), 0);
    assert_int_equal(count, 513);
    assert_true(mpt_now() - t0 < 1.0);

    /* Writers of that key wait for its cell, up to their bound. */
    t0 = mpt_now();
    assert_int_equal(mp_dict_add_i64(sh->d, "counter", 7, 5, NULL), MP_ETIMEDOUT);
    double waited = mpt_now() - t0;
    assert_true(waited >= MP_DICT_TIMEOUT && waited < MP_DICT_TIMEOUT + 1.0);
    t0 = mpt_now();
    int64_t x = 99;
    assert_int_equal(mp_dict_set_timed(sh->d, "counter", 7, &x, 8, 0.3), MP_ETIMEDOUT);
    assert_int_equal(mp_dict_del_timed(sh->d, "counter", 7, 0.3), MP_ETIMEDOUT);
    assert_int_equal(mp_dict_set_timed(sh->d, "counter", 7, "other size", 10, 0.3), MP_ETIMEDOUT);
    waited = mpt_now() - t0;
    assert_true(waited >= 3 * 0.3 && waited < 3 * 0.3 + 1.0);
    assert_int_equal(mp_dict_get(sh->d, "counter", 7, &now, sizeof now, &n), 0);
    assert_true(now == before);

    /* Every other key, its stripe's neighbours included, is writable at
     * once, in place and not. */
    t0 = mpt_now();
    for (int i = 0; i < 512; i++) {
        assert_int_equal(mp_dict_add_i64_timed(sh->d, &i, sizeof i, 1, NULL, 0), 0);
        assert_int_equal(mp_dict_set_timed(sh->d, &i, sizeof i, "sixteen bytes...", 16, 0), 0);
        assert_int_equal(mp_dict_del_timed(sh->d, &i, sizeof i, 0), 0);
    }
    assert_true(mpt_now() - t0 < 2.0);

    kill(w, SIGCONT);
    int seen = atomic_load(&sh->ops);
    assert_true(mpt_wait_atomic(&sh->ops, seen + 100, 30.0));
    atomic_store(&sh->stop, 1);
    assert_int_equal(mpt_wait(w), 0);
    assert_int_equal(mp_dict_get(sh->d, "counter", 7, &now, sizeof now, &n), 0);
    assert_true(now > before);
    mp_dict_free(sh->d);
    mp_shared_free(sh);
}

static int child_list_reader(void *arg)
{
    stop_shared *sh = arg;
    double t0 = mpt_now();
    for (int i = 0; i < 1000; i++) {
        uint64_t v;
        size_t n;
        if (mp_list_len(sh->l) == 0)
            return 2;
        if (mp_list_get(sh->l, -1, &v, sizeof v, &n) != 0 || n != 8)
            return 3;
    }
    return mpt_now() - t0 < 1.0 ? 0 : 4;
}

static void test_list_stopped_writer_blocks_only_writers(void **state)
{
    (void)state;
    stop_shared *sh = mp_shared_calloc(1, sizeof *sh);
    sh->l = mp_list_new();
    uint64_t x = 99;
    for (int i = 0; i < 10; i++)
        assert_int_equal(mp_list_append(sh->l, &x, sizeof x), 0);
    pid_t w = mpt_fork(child_list_writer, sh);
    assert_true(stop_inside(w, sh, list_held));

    size_t len = mp_list_len(sh->l);
    uint64_t first, last;
    size_t n;
    assert_int_equal(mp_list_get(sh->l, 0, &first, sizeof first, &n), 0);
    assert_int_equal(mp_list_get(sh->l, -1, &last, sizeof last, &n), 0);
    pid_t r = mpt_fork(child_list_reader, sh);
    assert_int_equal(mpt_wait(r), 0);

    double t0 = mpt_now();
    assert_int_equal(mp_list_append(sh->l, &x, sizeof x), MP_ETIMEDOUT);
    double waited = mpt_now() - t0;
    assert_true(waited >= MP_LIST_TIMEOUT && waited < MP_LIST_TIMEOUT + 1.0);
    t0 = mpt_now();
    assert_int_equal(mp_list_set_timed(sh->l, 0, &x, sizeof x, 0.3), MP_ETIMEDOUT);
    assert_int_equal(mp_list_pop_timed(sh->l, 0, &x, sizeof x, &n, 0.3), MP_ETIMEDOUT);
    waited = mpt_now() - t0;
    assert_true(waited >= 2 * 0.3 && waited < 2 * 0.3 + 1.0);
    uint64_t v;
    assert_int_equal(mp_list_len(sh->l), len);
    assert_int_equal(mp_list_get(sh->l, 0, &v, sizeof v, &n), 0);
    assert_true(v == first);
    assert_int_equal(mp_list_get(sh->l, -1, &v, sizeof v, &n), 0);
    assert_true(v == last);

    kill(w, SIGCONT);
    int seen = atomic_load(&sh->ops);
    assert_true(mpt_wait_atomic(&sh->ops, seen + 100, 30.0));
    atomic_store(&sh->stop, 1);
    assert_int_equal(mpt_wait(w), 0);
    mp_list_free(sh->l);
    mp_shared_free(sh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        mpt_test(test_dict_and_list_whole_after_100_sigkills),
        mpt_test(test_dict_stopped_writer_blocks_only_its_stripe_writers),
        mpt_test(test_dict_stopped_in_place_writer_blocks_only_its_key),
        mpt_test(test_list_stopped_writer_blocks_only_writers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
