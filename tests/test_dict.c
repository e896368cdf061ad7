/* test_dict.c - mp_dict: every call's contract, random operations checked
 * against a private model (one process with clears, then two processes at
 * once), snapshots that must be states the dict really had, counters from
 * two processes, and dicts made on either side of a fork. */
/* ctest-timeout: 180 */
#include "mp_test.h"

#include <inttypes.h>

/* ---- helpers ------------------------------------------------------------ */

/* xorshift64*: the tests' random numbers, replayable from a seed. */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dULL;
}

/* Key number i of a key space named by tag: lengths vary from 0 up
 * (key 0 of tag 0 is the empty key), the bytes depend on tag and i. */
static size_t key_bytes(int tag, unsigned i, unsigned char *out)
{
    if (tag == 0 && i == 0)
        return 0;
    int n = snprintf((char *)out, 64, "t%d:%u:", tag, i);
    size_t len = (size_t)n + i % 23;
    for (size_t j = (size_t)n; j < len; j++)
        out[j] = (unsigned char)(i * 31 + j);
    return len;
}

/* A value length: mostly small, often exactly 8 (the in-place path),
 * sometimes empty, sometimes beyond the heap's small blocks. */
static size_t val_len(uint64_t *s)
{
    uint64_t r = rnd(s) % 100;
    if (r < 30)
        return 8;
    if (r < 35)
        return 0;
    if (r < 95)
        return (size_t)(rnd(s) % 300);
    if (r < 99)
        return 1000 + (size_t)(rnd(s) % 5000);
    return 140000 + (size_t)(rnd(s) % 10000);
}

static void fill(unsigned char *p, size_t n, uint64_t *s)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)rnd(s);
}

/* ---- the model: a direct-indexed map of a process's own keys ----------- */

#define MODEL_KEYS 300

typedef struct {
    bool in;            /* the key is present */
    size_t len;         /* its value's length */
    unsigned char *val; /* the value (malloc'd) */
    uint64_t stamp;     /* insertion order */
} mslot;

typedef struct {
    mslot k[MODEL_KEYS];
    uint64_t next_stamp;
    size_t count;
} model;

static void model_set(model *m, unsigned i, const void *v, size_t len)
{
    mslot *s = &m->k[i];
    if (!s->in) {
        s->in = true;
        s->stamp = m->next_stamp++;
        m->count++;
    }
    free(s->val);
    s->val = malloc(len > 0 ? len : 1);
    memcpy(s->val, v, len);
    s->len = len;
}

static void model_del(model *m, unsigned i)
{
    if (m->k[i].in) {
        m->k[i].in = false;
        free(m->k[i].val);
        m->k[i].val = NULL;
        m->count--;
    }
}

static void model_clear(model *m)
{
    for (unsigned i = 0; i < MODEL_KEYS; i++)
        model_del(m, i);
}

static void model_free(model *m)
{
    model_clear(m);
    free(m);
}

/* check_key compares key i of tag with the model: 0, or a line number. */
static int check_key(mp_dict *d, const model *m, int tag, unsigned i)
{
    unsigned char key[64], buf[160000];
    size_t klen = key_bytes(tag, i, key), vlen = 0;
    int rc = mp_dict_get(d, key, klen, buf, sizeof buf, &vlen);
    const mslot *s = &m->k[i];
    if (!s->in)
        return rc == MP_ENOENT && !mp_dict_contains(d, key, klen) ? 0 : __LINE__;
    if (rc != 0 || vlen != s->len || memcmp(buf, s->val, vlen) != 0)
        return __LINE__;
    return mp_dict_contains(d, key, klen) ? 0 : __LINE__;
}

/* ---- items into an array --------------------------------------------------- */

typedef struct {
    unsigned char key[64];
    size_t klen;
    size_t vlen;
    uint64_t sum; /* a checksum of the value */
    unsigned char head[8];
} seen_item;

typedef struct {
    seen_item *v;
    size_t n, cap;
    int stop_after; /* return 7 after this many (0: never) */
} seen;

static uint64_t checksum(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

static int collect(const void *key, size_t klen, const void *val, size_t vlen, void *ud)
{
    seen *s = ud;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 256;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
    }
    seen_item *it = &s->v[s->n++];
    it->klen = klen < sizeof it->key ? klen : sizeof it->key;
    memcpy(it->key, key, it->klen);
    it->vlen = vlen;
    it->sum = checksum(val, vlen);
    memset(it->head, 0, 8);
    memcpy(it->head, val, vlen < 8 ? vlen : 8);
    if (s->stop_after > 0 && (int)s->n == s->stop_after)
        return 7;
    return 0;
}

static int cmp_seen_key(const void *a, const void *b)
{
    const seen_item *x = a, *y = b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, n);
    return c != 0 ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

/* no_key_twice: 0 when every key of the snapshot is distinct. */
static int no_key_twice(seen *s)
{
    seen_item *copy = malloc((s->n ? s->n : 1) * sizeof *copy);
    if (s->n > 0)
        memcpy(copy, s->v, s->n * sizeof *copy);
    qsort(copy, s->n, sizeof *copy, cmp_seen_key);
    int rc = 0;
    for (size_t i = 1; i < s->n && rc == 0; i++)
        if (cmp_seen_key(&copy[i - 1], &copy[i]) == 0)
            rc = __LINE__;
    free(copy);
    return rc;
}

/* parse_key finds which key of which tag a snapshot's key is; false for
 * keys of no tag (the shared counter). */
static bool parse_key(const seen_item *it, int *tag, unsigned *i)
{
    if (it->klen == 0) {
        *tag = 0;
        *i = 0;
        return true;
    }
    char tmp[65];
    memcpy(tmp, it->key, it->klen);
    tmp[it->klen] = '\0';
    if (sscanf(tmp, "t%d:%u:", tag, i) != 2 || *i >= MODEL_KEYS)
        return false;
    unsigned char k[64];
    size_t kl = key_bytes(*tag, *i, k);
    return kl == it->klen && memcmp(k, it->key, kl) == 0;
}

/* items_match checks a snapshot's keys of tag against the model: each
 * present once with its value, in the model's insertion order. */
static int items_match(seen *s, const model *m, int tag)
{
    uint64_t last_stamp = 0;
    bool first = true;
    size_t mine = 0;
    for (size_t j = 0; j < s->n; j++) {
        int t;
        unsigned i;
        if (!parse_key(&s->v[j], &t, &i) || t != tag)
            continue;
        const mslot *ms = &m->k[i];
        if (!ms->in || ms->len != s->v[j].vlen || checksum(ms->val, ms->len) != s->v[j].sum)
            return __LINE__;
        if (!first && ms->stamp <= last_stamp)
            return __LINE__;
        first = false;
        last_stamp = ms->stamp;
        mine++;
    }
    return mine == m->count ? 0 : __LINE__;
}

/* ---- contract ---------------------------------------------------------------- */

static void test_dict_set_get_every_size(void **state)
{
    (void)state;
    mp_dict *d = mp_dict_new();
    assert_non_null(d);
    static const size_t sizes[] = {0, 1, 7, 8, 9, 15, 16, 17, 100, 4096, 200000};
    uint64_t s = 1;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        unsigned char *v = malloc(n + 1), *out = malloc(n + 1);
        fill(v, n, &s);
        char key[32];
        snprintf(key, sizeof key, "size-%zu", n);
        assert_int_equal(mp_dict_set(d, key, strlen(key), v, n), 0);
        size_t got = 12345;
        assert_int_equal(mp_dict_get(d, key, strlen(key), out, n, &got), 0);
        assert_int_equal(got, n);
        assert_memory_equal(out, v, n);
        void *a = NULL;
        assert_int_equal(mp_dict_get_alloc(d, key, strlen(key), &a, &got), 0);
        assert_non_null(a);
        assert_int_equal(got, n);
        assert_memory_equal(a, v, n);
        free(a);
        free(v);
        free(out);
    }
    assert_int_equal(mp_dict_len(d), sizeof sizes / sizeof sizes[0]);
    mp_dict_free(d);
}

static void test_dict_missing_key_and_small_buffer(void **state)
{
    (void)state;
    mp_dict *d = mp_dict_new();
    char buf[4] = "xyz";
    size_t n = 99;
    assert_int_equal(mp_dict_get(d, "nope", 4, buf, sizeof buf, &n), MP_ENOENT);
    assert_int_equal(n, 99);
    assert_false(mp_dict_contains(d, "nope", 4));
    assert_int_equal(mp_dict_del(d, "nope", 4), MP_ENOENT);
    void *a = (void *)0x1;
    assert_int_equal(mp_dict_get_alloc(d, "nope", 4, &a, &n), MP_ENOENT);
    assert_ptr_equal(a, (void *)0x1);
    assert_int_equal(mp_dict_set_str(d, "k", "longer than four"), 0);
    assert_int_equal(mp_dict_get(d, "k", 1, buf, sizeof buf, &n), MP_EMSGSIZE);
    assert_int_equal(n, strlen("longer than four"));
    assert_int_equal(mp_dict_get(d, "k", 1, NULL, 0, &n), MP_EMSGSIZE);
    mp_dict_free(d);
}

static void test_dict_empty_key_and_empty_value(void **state)
{
    (void)state;
    mp_dict *d = mp_dict_new();
    assert_int_equal(mp_dict_set(d, NULL, 0, NULL, 0), 0);
    assert_true(mp_dict_contains(d, "", 0));
    size_t n = 5;
    assert_int_equal(mp_dict_get(d, "", 0, NULL, 0, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(mp_dict_set(d, "", 0, "v", 1), 0);
    char c = 0;
    assert_int_equal(mp_dict_get(d, NULL, 0, &c, 1, &n), 0);
    assert_int_equal(c, 'v');
    assert_int_equal(mp_dict_len(d), 1);
    assert_int_equal(mp_dict_del(d, NULL, 0), 0);
    assert_int_equal(mp_dict_len(d), 0);
    mp_dict_free(d);
}

static void test_dict_value_changes_size_in_both_directions(void **state)
{
    (void)state;
    mp_dict *d = mp_dict_new();
    static const size_t sizes[] = {8, 16, 8, 8, 0, 8, 300, 7, 8};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char v[300], out[300];
        memset(v, (int)i + 1, sizes[i]);
        assert_int_equal(mp_dict_set(d, "k", 1, v, sizes[i]), 0);
        size_t n;
        assert_int_equal(mp_dict_get(d, "k", 1, out, sizeof out, &n), 0);
        assert_int_equal(n, sizes[i]);
        assert_memory_equal(out, v, n);
        assert_int_equal(mp_dict_len(d), 1);
    }
    mp_dict_free(d);
}

static void test_dict_add_i64_counts_from_zero(void **state)
{
    (void)state;
    mp_dict *d = mp_dict_new();
    int64_t r = 0;
    assert_int_equal(mp_dict_add_i64(d, "c", 1, 5, &r), 0);
    assert_int_equal(r, 5);
    assert_int_equal(mp_dict_add_i64(d, "c", 1, -7, NULL), 0);
    int64_t v;
    size_t n;
    assert_int_equal(mp_dict_get(d, "c", 1, &v, sizeof v, &n), 0);
    assert_int_equal(n, 8);
    assert_int_equal(v, -2);
    /* A value set by hand is the counter: 8 bytes in native order. */
    int64_t big = INT64_MAX;
    assert_int_equal(mp_dict_set(d, "c", 1, &big, 8), 0);
    assert_int_equal(mp_dict_add_i64(d, "c", 1, 1, &r), 0);
    assert_true(r == INT64_MIN); /* wraps around */
    /* A value of another size is not a counter, and stays as it is. */
    assert_int_equal(mp_dict_set_str(d, "s", "abc"), 0);
    assert_int_equal(mp_dict_add_i64(d, "s", 1, 1, &r), MP_EVALUE);
    char *str = NULL;
    assert_int_equal(mp_dict_get_str(d, "s", &str), 0);
    assert_string_equal(str, "abc");
    free(str);
    assert_int_equal(mp_dict_len(d), 2);
    mp_dict_free(d);
}

static void test_dict_clear_empties_and_dict_stays_usable(void **state)
{
    (void)state;
    mp_dict *d = mp_dict_new();
    for (int i = 0; i < 5000; i++)
        assert_int_equal(mp_dict_add_i64(d, &i, sizeof i, i, NULL), 0);
    assert_int_equal(mp_dict_len(d), 5000);
    assert_int_equal(mp_dict_clear(d), 0);
    assert_int_equal(mp_dict_len(d), 0);
    int k = 42;
    assert_false(mp_dict_contains(d, &k, sizeof k));
    seen s = {0};
    assert_int_equal(mp_dict_items(d, collect, &s), 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(mp_dict_add_i64(d, &k, sizeof k, 1, NULL), 0);
    assert_int_equal(mp_dict_len(d), 1);
    assert_int_equal(mp_dict_clear_timed(d, 0), 0);
    assert_int_equal(mp_dict_len(d), 0);
    free(s.v);
    mp_dict_free(d);
}

static void test_dict_items_in_insertion_order_and_stop(void **state)
{
    (void)state;
    mp_dict *d = mp_dict_new();
    assert_int_equal(mp_dict_set_str(d, "a", "1"), 0);
    assert_int_equal(mp_dict_set_str(d, "b", "2"), 0);
    assert_int_equal(mp_dict_set_str(d, "c", "3"), 0);
    assert_int_equal(mp_dict_set_str(d, "b", "two, longer"), 0); /* keeps its place */
    assert_int_equal(mp_dict_del(d, "a", 1), 0);
    assert_int_equal(mp_dict_set_str(d, "a", "back"), 0); /* goes last */
    seen s = {0};
    assert_int_equal(mp_dict_items(d, collect, &s), 0);
    assert_int_equal(s.n, 3);
    assert_memory_equal(s.v[0].key, "b", 1);
    assert_int_equal(s.v[0].vlen, strlen("two, longer"));
    assert_memory_equal(s.v[1].key, "c", 1);
    assert_memory_equal(s.v[2].key, "a", 1);
    assert_memory_equal(s.v[2].head, "back", 4);
    s.n = 0;
    s.stop_after = 2;
    assert_int_equal(mp_dict_items(d, collect, &s), 7);
    assert_int_equal(s.n, 2);
    free(s.v);
    mp_dict_free(d);
}

static void test_dict_bad_arguments_are_einval(void **state)
{
    (void)state;
    mp_dict *d = mp_dict_new();
    size_t n;
    void *p;
    int64_t r;
    assert_int_equal(mp_dict_set(NULL, "k", 1, "v", 1), MP_EINVAL);
    assert_int_equal(mp_dict_set(d, NULL, 1, "v", 1), MP_EINVAL);
    assert_int_equal(mp_dict_set(d, "k", 1, NULL, 1), MP_EINVAL);
    assert_int_equal(mp_dict_set_timed(d, "k", 1, "v", 1, NAN), MP_EINVAL);
    assert_int_equal(mp_dict_get(NULL, "k", 1, &r, 8, &n), MP_EINVAL);
    assert_int_equal(mp_dict_get(d, "k", 1, &r, 8, NULL), MP_EINVAL);
    assert_int_equal(mp_dict_get(d, "k", 1, NULL, 8, &n), MP_EINVAL);
    assert_int_equal(mp_dict_get(d, NULL, 1, &r, 8, &n), MP_EINVAL);
    assert_int_equal(mp_dict_get_alloc(d, "k", 1, NULL, &n), MP_EINVAL);
    assert_int_equal(mp_dict_get_alloc(d, "k", 1, &p, NULL), MP_EINVAL);
    assert_int_equal(mp_dict_del(NULL, "k", 1), MP_EINVAL);
    assert_int_equal(mp_dict_del_timed(d, "k", 1, NAN), MP_EINVAL);
    assert_int_equal(mp_dict_add_i64(NULL, "k", 1, 1, &r), MP_EINVAL);
    assert_int_equal(mp_dict_add_i64(d, NULL, 1, 1, &r), MP_EINVAL);
    assert_int_equal(mp_dict_add_i64_timed(d, "k", 1, 1, &r, NAN), MP_EINVAL);
    assert_int_equal(mp_dict_clear(NULL), MP_EINVAL);
    assert_int_equal(mp_dict_clear_timed(d, NAN), MP_EINVAL);
    assert_int_equal(mp_dict_items(NULL, collect, NULL), MP_EINVAL);
    assert_int_equal(mp_dict_items(d, NULL, NULL), MP_EINVAL);
    assert_int_equal(mp_dict_items_timed(d, collect, NULL, NAN), MP_EINVAL);
    assert_int_equal(mp_dict_set_str(d, NULL, "v"), MP_EINVAL);
    assert_int_equal(mp_dict_set_str(d, "k", NULL), MP_EINVAL);
    assert_int_equal(mp_dict_get_str(d, "k", NULL), MP_EINVAL);
    assert_false(mp_dict_contains(NULL, "k", 1));
    assert_false(mp_dict_contains(d, NULL, 1));
    assert_int_equal(mp_dict_len(NULL), 0);
    mp_dict_free(NULL);
    /* Nothing of that changed the dict. */
    assert_int_equal(mp_dict_len(d), 0);
    mp_dict_free(d);
}

static void test_dict_grows_to_100k_keys_and_shrinks(void **state)
{
    (void)state;
    mp_dict *d = mp_dict_new();
    const int n = 100000;
    for (int i = 0; i < n; i++) {
        char k[24];
        int kl = snprintf(k, sizeof k, "key%d", i);
        assert_int_equal(mp_dict_set(d, k, (size_t)kl, &i, sizeof i), 0);
    }
    assert_int_equal(mp_dict_len(d), n);
    for (int i = 0; i < n; i++) {
        char k[24];
        int kl = snprintf(k, sizeof k, "key%d", i), v = -1;
        size_t vl;
        assert_int_equal(mp_dict_get(d, k, (size_t)kl, &v, sizeof v, &vl), 0);
        assert_int_equal(v, i);
    }
    for (int i = 0; i < n; i += 2) {
        char k[24];
        int kl = snprintf(k, sizeof k, "key%d", i);
        assert_int_equal(mp_dict_del(d, k, (size_t)kl), 0);
    }
    assert_int_equal(mp_dict_len(d), n / 2);
    seen s = {0};
    assert_int_equal(mp_dict_items(d, collect, &s), 0);
    assert_int_equal(s.n, n / 2);
    assert_int_equal(no_key_twice(&s), 0);
    /* Insertion order survived the growths: key1, key3, key5... */
    for (size_t j = 0; j < s.n; j++) {
        char k[24];
        int kl = snprintf(k, sizeof k, "key%zu", 2 * j + 1);
        assert_int_equal(s.v[j].klen, (size_t)kl);
        assert_memory_equal(s.v[j].key, k, (size_t)kl);
    }
    free(s.v);
    mp_dict_free(d);
}

/* ---- random operations against the model, one process, with clears -------- */

static void test_dict_random_ops_match_model(void **state)
{
    (void)state;
    mp_dict *d = mp_dict_new();
    model *m = calloc(1, sizeof *m);
    uint64_t s = 0x1234567;
    static unsigned char v[160000];
    for (int step = 0; step < 30000; step++) {
        unsigned i = (unsigned)(rnd(&s) % MODEL_KEYS);
        unsigned char key[64];
        size_t klen = key_bytes(0, i, key);
        uint64_t op = rnd(&s) % 100;
        if (op < 45) {
            size_t n = val_len(&s);
            fill(v, n, &s);
            assert_int_equal(mp_dict_set(d, key, klen, v, n), 0);
            model_set(m, i, v, n);
        } else if (op < 60) {
            int rc = mp_dict_del(d, key, klen);
            assert_int_equal(rc, m->k[i].in ? 0 : MP_ENOENT);
            model_del(m, i);
        } else if (op < 75) {
            int64_t delta = (int64_t)(rnd(&s) % 1000) - 500, r = 0;
            int rc = mp_dict_add_i64(d, key, klen, delta, &r);
            if (m->k[i].in && m->k[i].len != 8) {
                assert_int_equal(rc, MP_EVALUE);
            } else {
                int64_t old = 0;
                if (m->k[i].in)
                    memcpy(&old, m->k[i].val, 8);
                uint64_t sum = (uint64_t)old + (uint64_t)delta;
                assert_int_equal(rc, 0);
                assert_memory_equal(&r, &sum, 8);
                model_set(m, i, &sum, 8);
            }
        } else if (op < 76) {
            assert_int_equal(mp_dict_clear(d), 0);
            model_clear(m);
        } else if (op < 78) {
            seen sn = {0};
            assert_int_equal(mp_dict_items(d, collect, &sn), 0);
            assert_int_equal(sn.n, m->count);
            assert_int_equal(no_key_twice(&sn), 0);
            assert_int_equal(items_match(&sn, m, 0), 0);
            free(sn.v);
        }
        assert_int_equal(check_key(d, m, 0, i), 0);
        assert_int_equal(mp_dict_len(d), m->count);
        if (step % 1000 == 0)
            for (unsigned j = 0; j < MODEL_KEYS; j++)
                assert_int_equal(check_key(d, m, 0, j), 0);
    }
    model_free(m);
    mp_dict_free(d);
}

/* ---- two processes at once ------------------------------------------------------ */

#define TWO_STEPS  15000
#define SHARED_KEY "shared-counter"

typedef struct {
    mp_dict *d;
    int tag;         /* 1 or 2: this process's key space */
    uint64_t seed;   /* its random sequence */
    _Atomic int *go; /* both start together */
} two_arg;

/* run_two is one process's part: random operations on its own keys,
 * each checked against its model, and adds to a counter both share.
 * With d NULL it only runs the model (the parent's replay) into m and
 * returns the shared counter's total in *shared. Returns 0 or a line. */
static int run_two(two_arg *a, model *m, int64_t *shared)
{
    uint64_t s = a->seed;
    static unsigned char v[160000];
    for (int step = 0; step < TWO_STEPS; step++) {
        unsigned i = (unsigned)(rnd(&s) % MODEL_KEYS);
        unsigned char key[64];
        size_t klen = key_bytes(a->tag, i, key);
        uint64_t op = rnd(&s) % 100;
        int rc = 0;
        if (op < 40) {
            size_t n = val_len(&s);
            fill(v, n, &s);
            if (a->d && mp_dict_set(a->d, key, klen, v, n) != 0)
                return __LINE__;
            model_set(m, i, v, n);
        } else if (op < 52) {
            if (a->d && (rc = mp_dict_del(a->d, key, klen)) != (m->k[i].in ? 0 : MP_ENOENT))
                return __LINE__;
            model_del(m, i);
        } else if (op < 64) {
            int64_t delta = (int64_t)(rnd(&s) % 100), r = 0;
            if (m->k[i].in && m->k[i].len != 8) {
                if (a->d && mp_dict_add_i64(a->d, key, klen, delta, &r) != MP_EVALUE)
                    return __LINE__;
            } else {
                int64_t old = 0;
                if (m->k[i].in)
                    memcpy(&old, m->k[i].val, 8);
                int64_t sum = old + delta;
                if (a->d && (mp_dict_add_i64(a->d, key, klen, delta, &r) != 0 || r != sum))
                    return __LINE__;
                model_set(m, i, &sum, 8);
            }
        } else if (op < 80) {
            int64_t delta = (int64_t)(rnd(&s) % 10) + 1;
            if (a->d && mp_dict_add_i64(a->d, SHARED_KEY, strlen(SHARED_KEY), delta, NULL) != 0)
                return __LINE__;
            *shared += delta;
        } else if (op < 82 && a->d) {
            /* A snapshot holds this process's keys exactly (nobody else
             * writes them), each key once. */
            seen sn = {0};
            if (mp_dict_items(a->d, collect, &sn) != 0)
                return __LINE__;
            if ((rc = no_key_twice(&sn)) != 0 || (rc = items_match(&sn, m, a->tag)) != 0) {
                free(sn.v);
                return rc;
            }
            free(sn.v);
        } else if (op < 90 && a->d) {
            void *p = NULL;
            size_t n = 0;
            rc = mp_dict_get_alloc(a->d, key, klen, &p, &n);
            if (m->k[i].in ? rc != 0 || n != m->k[i].len || memcmp(p, m->k[i].val, n) != 0
                           : rc != MP_ENOENT)
                return __LINE__;
            free(p);
        } else if (a->d && m->k[i].in && m->k[i].len > 0) {
            size_t n = 0;
            if (mp_dict_get(a->d, key, klen, v, m->k[i].len - 1, &n) != MP_EMSGSIZE ||
                n != m->k[i].len)
                return __LINE__;
        }
        if (a->d && (rc = check_key(a->d, m, a->tag, i)) != 0)
            return rc;
        if (a->d && step % 512 == 0)
            for (unsigned j = 0; j < MODEL_KEYS; j++)
                if ((rc = check_key(a->d, m, a->tag, j)) != 0)
                    return rc;
    }
    return 0;
}

static int child_two(void *arg)
{
    two_arg *a = arg;
    model *m = calloc(1, sizeof *m);
    int64_t shared = 0;
    atomic_fetch_add(a->go, 1);
    while (atomic_load(a->go) < 2)
        ; /* both start at once: they contend from the first step */
    int rc = run_two(a, m, &shared);
    model_free(m);
    return rc == 0 ? 0 : 1 + rc % 250;
}

static void test_dict_two_processes_match_their_models(void **state)
{
    (void)state;
    mp_dict *d = mp_dict_new();
    _Atomic int *go = mp_shared_calloc(1, sizeof *go);
    two_arg a[2] = {{d, 1, 0xabcdef, go}, {d, 2, 0x987654321, go}};
    pid_t pid[2];
    for (int c = 0; c < 2; c++)
        pid[c] = mpt_fork(child_two, &a[c]);
    for (int c = 0; c < 2; c++)
        assert_int_equal(mpt_wait(pid[c]), 0);
    /* Replay both models: the dict must hold exactly their union. */
    model *m[2];
    int64_t shared = 0;
    for (int c = 0; c < 2; c++) {
        m[c] = calloc(1, sizeof *m[c]);
        two_arg replay = {NULL, a[c].tag, a[c].seed, NULL};
        assert_int_equal(run_two(&replay, m[c], &shared), 0);
        for (unsigned j = 0; j < MODEL_KEYS; j++)
            assert_int_equal(check_key(d, m[c], a[c].tag, j), 0);
    }
    int64_t total = 0;
    size_t n;
    assert_int_equal(mp_dict_get(d, SHARED_KEY, strlen(SHARED_KEY), &total, 8, &n), 0);
    assert_true(total == shared);
    seen sn = {0};
    assert_int_equal(mp_dict_items(d, collect, &sn), 0);
    assert_int_equal(sn.n, m[0]->count + m[1]->count + 1);
    assert_int_equal(mp_dict_len(d), sn.n);
    assert_int_equal(no_key_twice(&sn), 0);
    assert_int_equal(items_match(&sn, m[0], 1), 0);
    assert_int_equal(items_match(&sn, m[1], 2), 0);
    free(sn.v);
    model_free(m[0]);
    model_free(m[1]);
    mp_shared_free(go);
    mp_dict_free(d);
}

/* ---- snapshots are states the dict had ------------------------------------------- */

#define PAIRS       8
#define SNAP_ROUNDS 20000

/* The writer's rounds: A0..A7 = i, then B0..B7 = i. Half the values are
 * 8 bytes (changed in place), half 16 (replaced). In every state the
 * dict passes through, A0 >= ... >= A7 >= B0 >= ... >= B7 >= A0 - 1. */
static void pair_key(char ab, int j, char *k)
{
    snprintf(k, 16, "%c%d", ab, j);
}

static int child_pair_writer(void *arg)
{
    mp_dict *d = arg;
    for (int64_t i = 1; i <= SNAP_ROUNDS; i++)
        for (int ab = 0; ab < 2; ab++)
            for (int j = 0; j < PAIRS; j++) {
                char k[16];
                int64_t v[2] = {i, i};
                pair_key(ab ? 'B' : 'A', j, k);
                if (mp_dict_set(d, k, strlen(k), v, j % 2 ? 16 : 8) != 0)
                    return 1;
            }
    return 0;
}

typedef struct {
    int64_t a[PAIRS], b[PAIRS];
    int bad;
} pair_state;

static int read_pairs(const void *key, size_t klen, const void *val, size_t vlen, void *ud)
{
    pair_state *p = ud;
    const char *k = key;
    int64_t v;
    if (klen != 2 || (vlen != 8 && vlen != 16))
        p->bad = __LINE__;
    memcpy(&v, val, 8);
    int j = k[1] - '0';
    if (j < 0 || j >= PAIRS)
        p->bad = __LINE__;
    else if (k[0] == 'A')
        p->a[j] = v;
    else
        p->b[j] = v;
    return 0;
}

static void test_dict_items_snapshot_is_a_real_state(void **state)
{
    (void)state;
    mp_dict *d = mp_dict_new();
    for (int ab = 0; ab < 2; ab++)
        for (int j = 0; j < PAIRS; j++) {
            char k[16];
            int64_t v[2] = {0, 0};
            pair_key(ab ? 'B' : 'A', j, k);
            assert_int_equal(mp_dict_set(d, k, 2, v, j % 2 ? 16 : 8), 0);
        }
    pid_t pid = mpt_fork(child_pair_writer, d);
    int moving = 0, status = -1;
    int64_t last = -1;
    for (;;) {
        /* A writer that failed would never reach the last round. */
        bool writer_gone = waitpid(pid, &status, WNOHANG) == pid;
        pair_state p = {{0}, {0}, 0};
        assert_int_equal(mp_dict_items(d, read_pairs, &p), 0);
        assert_int_equal(p.bad, 0);
        int64_t seq[2 * PAIRS];
        for (int j = 0; j < PAIRS; j++) {
            seq[j] = p.a[j];
            seq[PAIRS + j] = p.b[j];
        }
        for (int j = 1; j < 2 * PAIRS; j++)
            assert_true(seq[j] <= seq[j - 1]);
        assert_true(seq[0] - seq[2 * PAIRS - 1] <= 1);
        moving += seq[0] != last;
        last = seq[0];
        if (seq[2 * PAIRS - 1] == SNAP_ROUNDS)
            break;
        assert_false(writer_gone);
    }
    if (status == -1)
        assert_int_equal(mpt_wait(pid), 0);
    else
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* The snapshots really raced the writer. */
    assert_true(moving > 1);
    mp_dict_free(d);
}

/* ---- counters from two processes -------------------------------------------------- */

#define ADDS 200000

static int child_adds(void *arg)
{
    mp_dict *d = arg;
    for (int i = 0; i < ADDS; i++) {
        int k = i % 100;
        if (mp_dict_add_i64(d, "hot", 3, 1, NULL) != 0 ||
            mp_dict_add_i64(d, &k, sizeof k, 2, NULL) != 0)
            return 1;
    }
    return 0;
}

static void test_dict_add_i64_from_two_processes_loses_nothing(void **state)
{
    (void)state;
    mp_dict *d = mp_dict_new();
    pid_t p1 = mpt_fork(child_adds, d), p2 = mpt_fork(child_adds, d);
    assert_int_equal(mpt_wait(p1), 0);
    assert_int_equal(mpt_wait(p2), 0);
    int64_t v;
    size_t n;
    assert_int_equal(mp_dict_get(d, "hot", 3, &v, 8, &n), 0);
    assert_true(v == 2 * ADDS);
    for (int k = 0; k < 100; k++) {
        assert_int_equal(mp_dict_get(d, &k, sizeof k, &v, 8, &n), 0);
        assert_true(v == 2 * 2 * ADDS / 100);
    }
    assert_int_equal(mp_dict_len(d), 101);
    mp_dict_free(d);
}

/* ---- made on either side of a fork --------------------------------------------------- */

static int fds[2][2]; /* [0]: parent -> child, [1]: child -> parent */

static int child_late_dict(void *arg)
{
    (void)arg;
    mp_dict *made_by_parent;
    if (read(fds[0][0], &made_by_parent, sizeof made_by_parent) != sizeof made_by_parent)
        return 2;
    char *s = NULL;
    if (mp_dict_get_str(made_by_parent, "from", &s) != 0 || strcmp(s, "parent") != 0)
        return 3;
    free(s);
    mp_dict *mine = mp_dict_new();
    if (mine == NULL || mp_dict_set_str(mine, "from", "child") != 0 ||
        mp_dict_set_str(made_by_parent, "answer", "yes") != 0)
        return 4;
    if (write(fds[1][1], &mine, sizeof mine) != sizeof mine)
        return 5;
    return 0;
}

static void test_dict_made_after_fork_works_in_both_processes(void **state)
{
    (void)state;
    assert_int_equal(pipe(fds[0]), 0);
    assert_int_equal(pipe(fds[1]), 0);
    pid_t pid = mpt_fork(child_late_dict, NULL);
    mp_dict *d = mp_dict_new();
    assert_int_equal(mp_dict_set_str(d, "from", "parent"), 0);
    assert_int_equal(write(fds[0][1], &d, sizeof d), sizeof d);
    mp_dict *theirs = NULL;
    assert_int_equal(read(fds[1][0], &theirs, sizeof theirs), sizeof theirs);
    assert_int_equal(mpt_wait(pid), 0);
    char *s = NULL;
    assert_int_equal(mp_dict_get_str(theirs, "from", &s), 0);
    assert_string_equal(s, "child");
    free(s);
    assert_int_equal(mp_dict_get_str(d, "answer", &s), 0);
    assert_string_equal(s, "yes");
    free(s);
    mp_dict_free(theirs);
    mp_dict_free(d);
    for (int i = 0; i < 2; i++) {
        close(fds[i][0]);
        close(fds[i][1]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        mpt_test(test_dict_set_get_every_size),
        mpt_test(test_dict_missing_key_and_small_buffer),
        mpt_test(test_dict_empty_key_and_empty_value),
        mpt_test(test_dict_value_changes_size_in_both_directions),
        mpt_test(test_dict_add_i64_counts_from_zero),
        mpt_test(test_dict_clear_empties_and_dict_stays_usable),
        mpt_test(test_dict_items_in_insertion_order_and_stop),
        mpt_test(test_dict_bad_arguments_are_einval),
        mpt_test(test_dict_grows_to_100k_keys_and_shrinks),
        mpt_test(test_dict_random_ops_match_model),
        mpt_test(test_dict_two_processes_match_their_models),
        mpt_test(test_dict_items_snapshot_is_a_real_state),
        mpt_test(test_dict_add_i64_from_two_processes_loses_nothing),
        mpt_test(test_dict_made_after_fork_works_in_both_processes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
