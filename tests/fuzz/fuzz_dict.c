/* fuzz_dict.c - libFuzzer target: random sequences of mp_dict and mp_list
 * operations (set/get/del/contains/add_i64/clear/items, the _timed, _alloc
 * and _str forms, bursts of keys that grow and rebuild tables, too-small
 * buffers, Python indexes far out of range, bad arguments), checked call
 * by call against a plain model: a vector of key/value pairs in insertion
 * order, and a vector of items.
 *
 * fuzz-requires: src/dict/dict.c src/dict/list.c
 *
 * One process, so no call can wait for anyone: every timeout (0,
 * negative, forever) must succeed. A mismatch aborts. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mp.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_dict: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);    \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define CHECK_RC(got, want)                                                                        \
    do {                                                                                           \
        int got_ = (got), want_ = (want);                                                          \
        if (got_ != want_) {                                                                       \
            fprintf(stderr, "fuzz_dict: %s:%d: %s returned %s, expected %s\n", __FILE__, __LINE__, \
                    #got, mp_err_name(got_), mp_err_name(want_));                                  \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define MODEL_MAX 1024     /* keys (and list items) the model keeps at most */
#define BIG       (150000) /* a value beyond the heap's small blocks */
#define BURST     64

struct input {
    const uint8_t *p;
    size_t n;
};

static uint8_t take8(struct input *in)
{
    if (in->n == 0)
        return 0;
    in->n--;
    return *in->p++;
}

/* A value length: often 8 (the in-place path), mostly small, now and then
 * around the sizes where storage changes, rarely large. */
static size_t take_len(struct input *in)
{
    uint8_t k = take8(in);
    switch (k % 8) {
    case 0:
        return 0;
    case 1:
    case 2:
        return 8;
    case 3:
        return (size_t)take8(in) * 16 + take8(in) % 16;
    case 4:
        return k == 4 ? BIG : 7 + k % 3;
    default:
        return take8(in) % 40;
    }
}

static double any_timeout(struct input *in)
{
    static const double t[] = {0.0, -1.0, 1e-6, INFINITY, 5.0};
    return t[take8(in) % 5];
}

/* ---- the models ---------------------------------------------------------- */

struct bytes {
    size_t len;
    unsigned char *b;
};

static struct {
    mp_dict *d;
    mp_list *l;
    struct bytes k[MODEL_MAX], v[MODEL_MAX]; /* the dict, in insertion order */
    size_t n;
    struct bytes it[MODEL_MAX]; /* the list */
    size_t ln;
    unsigned serial; /* makes every value's bytes different */
} M;

static struct bytes make(size_t len)
{
    struct bytes b = {len, malloc(len + 1)};
    for (size_t i = 0; i < len; i++)
        b.b[i] = (unsigned char)(M.serial * 13 + i * 7 + (i >> 8));
    M.serial++;
    return b;
}

static struct bytes dup(const void *p, size_t len)
{
    struct bytes b = {len, malloc(len + 1)};
    memcpy(b.b, p, len);
    return b;
}

/* A key: short ones from a small set (so operations meet), or raw input
 * bytes (any length up to 40, zeros included). */
static struct bytes take_key(struct input *in)
{
    uint8_t k = take8(in);
    if (k < 200) {
        char s[16];
        int n = snprintf(s, sizeof s, "k%u", k % 50);
        return dup(s, k % 50 == 0 ? 0 : (size_t)n);
    }
    size_t len = k % 41;
    struct bytes b = {len, malloc(len + 1)};
    for (size_t i = 0; i < len; i++)
        b.b[i] = take8(in);
    return b;
}

static long find(const struct bytes *key)
{
    for (size_t i = 0; i < M.n; i++)
        if (M.k[i].len == key->len && memcmp(M.k[i].b, key->b, key->len) == 0)
            return (long)i;
    return -1;
}

static void model_del(long i)
{
    free(M.k[i].b);
    free(M.v[i].b);
    memmove(&M.k[i], &M.k[i + 1], (M.n - (size_t)i - 1) * sizeof M.k[0]);
    memmove(&M.v[i], &M.v[i + 1], (M.n - (size_t)i - 1) * sizeof M.v[0]);
    M.n--;
}

/* model_set stores v under key (taking both), keeping the key's place. */
static void model_set(struct bytes key, struct bytes v)
{
    long i = find(&key);
    if (i >= 0) {
        free(key.b);
        free(M.v[i].b);
        M.v[i] = v;
        return;
    }
    M.k[M.n] = key;
    M.v[M.n++] = v;
}

static void model_clear(void)
{
    while (M.n > 0)
        model_del((long)M.n - 1);
}

/* ---- whole-state checks ------------------------------------------------------ */

struct walk {
    size_t at;
    int stop_at; /* stop (return 9) after this many; -1 never */
};

static int check_item(const void *key, size_t klen, const void *val, size_t vlen, void *ud)
{
    struct walk *w = ud;
    CHECK(w->at < M.n);
    CHECK(klen == M.k[w->at].len && (klen == 0 || memcmp(key, M.k[w->at].b, klen) == 0));
    CHECK(vlen == M.v[w->at].len && (vlen == 0 || memcmp(val, M.v[w->at].b, vlen) == 0));
    w->at++;
    return (int)w->at == w->stop_at ? 9 : 0;
}

static void check_all(void)
{
    struct walk w = {0, -1};
    CHECK_RC(mp_dict_items(M.d, check_item, &w), 0);
    CHECK(w.at == M.n);
    CHECK(mp_dict_len(M.d) == M.n);
    CHECK(mp_list_len(M.l) == M.ln);
    for (size_t i = 0; i < M.ln; i++) {
        void *p = NULL;
        size_t len = 0;
        CHECK_RC(mp_list_get_alloc(M.l, (ptrdiff_t)i, &p, &len), 0);
        CHECK(len == M.it[i].len && memcmp(p, M.it[i].b, len) == 0);
        free(p);
    }
}

/* ---- dict operations ------------------------------------------------------------ */

static void op_set(struct input *in, uint8_t what)
{
    struct bytes key = take_key(in), v = make(take_len(in));
    if (find(&key) < 0 && M.n == MODEL_MAX) {
        free(key.b);
        free(v.b);
        return;
    }
    const void *kp = key.len == 0 && (what & 1) ? NULL : key.b;
    const void *vp = v.len == 0 && (what & 2) ? NULL : v.b;
    int rc = what & 4 ? mp_dict_set_timed(M.d, kp, key.len, vp, v.len, any_timeout(in))
                      : mp_dict_set(M.d, kp, key.len, vp, v.len);
    CHECK_RC(rc, 0);
    model_set(key, v);
}

static void op_get(struct input *in, uint8_t what)
{
    struct bytes key = take_key(in);
    long i = find(&key);
    size_t want = i >= 0 ? M.v[i].len : 0;
    size_t cap;
    switch (what % 4) {
    case 0:
        cap = 0;
        break;
    case 1:
        cap = want > 0 ? want - 1 : 3;
        break;
    case 2:
        cap = want;
        break;
    default:
        cap = BIG + 8;
        break;
    }
    unsigned char *buf = malloc(cap + 1);
    size_t len = 777777;
    int rc = mp_dict_get(M.d, key.b, key.len, cap > 0 ? buf : NULL, cap, &len);
    if (i < 0) {
        CHECK_RC(rc, MP_ENOENT);
        CHECK(len == 777777);
        CHECK(!mp_dict_contains(M.d, key.b, key.len));
    } else if (want > cap) {
        CHECK_RC(rc, MP_EMSGSIZE);
        CHECK(len == want);
    } else {
        CHECK_RC(rc, 0);
        CHECK(len == want && memcmp(buf, M.v[i].b, want) == 0);
        CHECK(mp_dict_contains(M.d, key.b, key.len));
    }
    free(buf);
    free(key.b);
}

static void op_get_alloc(struct input *in, uint8_t what)
{
    struct bytes key = take_key(in);
    long i = find(&key);
    void *p = (void *)&M;
    size_t len = 0;
    if (what & 1) {
        /* The string form: NUL-terminated, keys without an inner NUL. */
        if (memchr(key.b, 0, key.len) == NULL) {
            key.b[key.len] = '\0';
            char *s = NULL;
            int rc = mp_dict_get_str(M.d, (const char *)key.b, &s);
            CHECK_RC(rc, i >= 0 ? 0 : MP_ENOENT);
            if (i >= 0) {
                CHECK(s[M.v[i].len] == '\0' && memcmp(s, M.v[i].b, M.v[i].len) == 0);
                free(s);
            }
        }
        free(key.b);
        return;
    }
    int rc = mp_dict_get_alloc(M.d, key.b, key.len, &p, &len);
    if (i < 0) {
        CHECK_RC(rc, MP_ENOENT);
        CHECK(p == (void *)&M);
    } else {
        CHECK_RC(rc, 0);
        CHECK(p != NULL && len == M.v[i].len && memcmp(p, M.v[i].b, len) == 0);
        free(p);
    }
    free(key.b);
}

static void op_del(struct input *in, uint8_t what)
{
    struct bytes key = take_key(in);
    long i = find(&key);
    int rc = what & 1 ? mp_dict_del_timed(M.d, key.b, key.len, any_timeout(in))
                      : mp_dict_del(M.d, key.b, key.len);
    CHECK_RC(rc, i >= 0 ? 0 : MP_ENOENT);
    if (i >= 0)
        model_del(i);
    free(key.b);
}

static void op_add(struct input *in, uint8_t what)
{
    struct bytes key = take_key(in);
    long i = find(&key);
    uint64_t mag = take8(in);
    mag <<= take8(in) % 64;
    int64_t delta = (int64_t)(mag - (what & 1 ? 300 : 0));
    int64_t result = 0x5a5a;
    int64_t *rp = what & 2 ? NULL : &result;
    if (i < 0 && M.n == MODEL_MAX) {
        free(key.b);
        return;
    }
    int rc = what & 4 ? mp_dict_add_i64_timed(M.d, key.b, key.len, delta, rp, any_timeout(in))
                      : mp_dict_add_i64(M.d, key.b, key.len, delta, rp);
    if (i >= 0 && M.v[i].len != 8) {
        CHECK_RC(rc, MP_EVALUE);
        CHECK(result == 0x5a5a);
        free(key.b);
        return;
    }
    CHECK_RC(rc, 0);
    uint64_t old = 0;
    if (i >= 0)
        memcpy(&old, M.v[i].b, 8);
    uint64_t sum = old + (uint64_t)delta;
    if (rp != NULL)
        CHECK(memcmp(&result, &sum, 8) == 0);
    model_set(key, dup(&sum, 8));
}

static void op_misc(struct input *in, uint8_t what)
{
    switch (what % 6) {
    case 0:
        CHECK_RC(what & 8 ? mp_dict_clear_timed(M.d, any_timeout(in)) : mp_dict_clear(M.d), 0);
        model_clear();
        break;
    case 1: {
        /* A burst of fresh keys, then most of them deleted again: tables
         * grow, fill with dead slots and get rebuilt. */
        size_t n = 1 + take8(in) % BURST;
        for (size_t j = 0; j < n && M.n < MODEL_MAX; j++) {
            char s[24];
            int len = snprintf(s, sizeof s, "burst%u", M.serial);
            struct bytes v = make(j % 3 ? 8 : j % 50);
            CHECK_RC(mp_dict_set(M.d, s, (size_t)len, v.b, v.len), 0);
            model_set(dup(s, (size_t)len), v);
            if (j % 4 != 0) {
                struct bytes k = {(size_t)len, (unsigned char *)s};
                CHECK_RC(mp_dict_del(M.d, s, (size_t)len), 0);
                model_del(find(&k));
            }
        }
        break;
    }
    case 2: {
        struct walk w = {0, 1 + take8(in) % 8};
        int rc = what & 8 ? mp_dict_items_timed(M.d, check_item, &w, any_timeout(in))
                          : mp_dict_items(M.d, check_item, &w);
        CHECK_RC(rc, M.n >= (size_t)w.stop_at ? 9 : 0);
        break;
    }
    case 3: {
        /* Bad arguments change nothing. */
        size_t len;
        CHECK_RC(mp_dict_set(M.d, NULL, 1, "v", 1), MP_EINVAL);
        CHECK_RC(mp_dict_set(M.d, "k1", 2, NULL, 1), MP_EINVAL);
        CHECK_RC(mp_dict_set_timed(M.d, "k1", 2, "v", 1, NAN), MP_EINVAL);
        CHECK_RC(mp_dict_get(M.d, "k1", 2, NULL, 1, &len), MP_EINVAL);
        CHECK_RC(mp_dict_del_timed(M.d, "k1", 2, NAN), MP_EINVAL);
        CHECK_RC(mp_dict_add_i64(M.d, NULL, 3, 1, NULL), MP_EINVAL);
        CHECK_RC(mp_dict_clear_timed(M.d, NAN), MP_EINVAL);
        CHECK_RC(mp_list_append(M.l, NULL, 1), MP_EINVAL);
        CHECK_RC(mp_list_pop(M.l, 0, NULL, 1, &len), MP_EINVAL);
        CHECK_RC(mp_list_set_timed(M.l, 0, "v", 1, NAN), MP_EINVAL);
        check_all();
        break;
    }
    case 4: {
        struct bytes key = take_key(in), v = make(take8(in) % 20);
        if (memchr(key.b, 0, key.len) == NULL && memchr(v.b, 0, v.len) == NULL &&
            (find(&key) >= 0 || M.n < MODEL_MAX)) {
            key.b[key.len] = v.b[v.len] = '\0';
            CHECK_RC(mp_dict_set_str(M.d, (const char *)key.b, (const char *)v.b), 0);
            model_set(key, v);
        } else {
            free(key.b);
            free(v.b);
        }
        break;
    }
    default:
        check_all();
        break;
    }
}

/* ---- list operations ------------------------------------------------------------ */

static ptrdiff_t take_index(struct input *in)
{
    uint8_t k = take8(in);
    if (k == 255)
        return PTRDIFF_MIN;
    if (k == 254)
        return PTRDIFF_MAX;
    return (ptrdiff_t)(k % 141) - 70;
}

static bool norm(ptrdiff_t i, size_t *at)
{
    if (i < 0) {
        if (i == PTRDIFF_MIN || (size_t)-i > M.ln)
            return false;
        *at = M.ln - (size_t)-i;
        return true;
    }
    if ((size_t)i >= M.ln)
        return false;
    *at = (size_t)i;
    return true;
}

static void op_list(struct input *in, uint8_t what)
{
    ptrdiff_t i = take_index(in);
    size_t at = 0;
    bool in_range = norm(i, &at);
    switch (what % 4) {
    case 0: {
        if (M.ln == MODEL_MAX)
            return;
        struct bytes v = make(take_len(in));
        int rc = what & 4 ? mp_list_append_timed(M.l, v.b, v.len, any_timeout(in))
                          : mp_list_append(M.l, v.b, v.len);
        CHECK_RC(rc, 0);
        M.it[M.ln++] = v;
        break;
    }
    case 1: {
        struct bytes v = make(take_len(in));
        int rc = what & 4 ? mp_list_set_timed(M.l, i, v.b, v.len, any_timeout(in))
                          : mp_list_set(M.l, i, v.b, v.len);
        CHECK_RC(rc, in_range ? 0 : MP_ERANGE);
        if (in_range) {
            free(M.it[at].b);
            M.it[at] = v;
        } else {
            free(v.b);
        }
        break;
    }
    case 2: {
        size_t want = in_range ? M.it[at].len : 0;
        size_t cap = what & 8 ? (want > 0 ? want - 1 : 0) : BIG + 8;
        unsigned char *buf = malloc(cap + 1);
        size_t len = 777777;
        int rc = what & 4 ? mp_list_pop_timed(M.l, i, cap ? buf : NULL, cap, &len, any_timeout(in))
                          : mp_list_pop(M.l, i, cap ? buf : NULL, cap, &len);
        if (!in_range) {
            CHECK_RC(rc, MP_ERANGE);
        } else if (want > cap) {
            CHECK_RC(rc, MP_EMSGSIZE);
            CHECK(len == want);
        } else {
            CHECK_RC(rc, 0);
            CHECK(len == want && memcmp(buf, M.it[at].b, want) == 0);
            free(M.it[at].b);
            memmove(&M.it[at], &M.it[at + 1], (M.ln - at - 1) * sizeof M.it[0]);
            M.ln--;
        }
        free(buf);
        break;
    }
    default: {
        size_t want = in_range ? M.it[at].len : 0;
        size_t cap = what & 8 ? (want > 0 ? want - 1 : 0) : want;
        unsigned char *buf = malloc(cap + 1);
        size_t len = 777777;
        int rc = mp_list_get(M.l, i, cap ? buf : NULL, cap, &len);
        if (!in_range) {
            CHECK_RC(rc, MP_ERANGE);
        } else if (want > cap) {
            CHECK_RC(rc, MP_EMSGSIZE);
            CHECK(len == want);
        } else {
            CHECK_RC(rc, 0);
            CHECK(len == want && memcmp(buf, M.it[at].b, want) == 0);
        }
        CHECK(mp_list_len(M.l) == M.ln);
        free(buf);
        break;
    }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct input in = {data, size};
    M.d = mp_dict_new();
    M.l = mp_list_new();
    CHECK(M.d != NULL && M.l != NULL);
    for (int steps = 0; in.n > 0 && steps < 300; steps++) {
        uint8_t op = take8(&in), what = take8(&in);
        switch (op % 7) {
        case 0:
            op_set(&in, what);
            break;
        case 1:
            op_get(&in, what);
            break;
        case 2:
            op_get_alloc(&in, what);
            break;
        case 3:
            op_del(&in, what);
            break;
        case 4:
            op_add(&in, what);
            break;
        case 5:
            op_misc(&in, what);
            break;
        default:
            op_list(&in, what);
            break;
        }
    }
    check_all();
    mp_dict_free(M.d);
    mp_list_free(M.l);
    model_clear();
    for (size_t i = 0; i < M.ln; i++)
        free(M.it[i].b);
    memset(&M, 0, sizeof M);
    return 0;
}
