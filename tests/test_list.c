/* test_list.c - mp_list: Python's indexes and IndexError, every call's
 * contract, random operations against a private list, and appends from
 * two processes at once. */
/* ctest-timeout: 120 */
#include "mp_test.h"

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dULL;
}

static int64_t get_i64(mp_list *l, ptrdiff_t i)
{
    int64_t v = -999;
    size_t n = 0;
    if (mp_list_get(l, i, &v, sizeof v, &n) != 0 || n != 8)
        return -998;
    return v;
}

static void test_list_indexes_are_pythons(void **state)
{
    (void)state;
    mp_list *l = mp_list_new();
    assert_non_null(l);
    for (int64_t i = 0; i < 5; i++)
        assert_int_equal(mp_list_append(l, &i, sizeof i), 0);
    assert_int_equal(mp_list_len(l), 5);
    assert_int_equal(get_i64(l, 0), 0);
    assert_int_equal(get_i64(l, 4), 4);
    assert_int_equal(get_i64(l, -1), 4);
    assert_int_equal(get_i64(l, -5), 0);
    int64_t v;
    size_t n;
    assert_int_equal(mp_list_get(l, 5, &v, sizeof v, &n), MP_ERANGE);
    assert_int_equal(mp_list_get(l, -6, &v, sizeof v, &n), MP_ERANGE);
    assert_int_equal(mp_list_get(l, PTRDIFF_MIN, &v, sizeof v, &n), MP_ERANGE);
    assert_int_equal(mp_list_get(l, PTRDIFF_MAX, &v, sizeof v, &n), MP_ERANGE);
    int64_t x = 40;
    assert_int_equal(mp_list_set(l, -2, &x, sizeof x), 0);
    assert_int_equal(get_i64(l, 3), 40);
    assert_int_equal(mp_list_set(l, 5, &x, sizeof x), MP_ERANGE);
    /* pop(1), pop(), pop(-3): [0, 1, 2, 40, 4] -> [0, 2, 40] -> [2, 40]. */
    assert_int_equal(mp_list_pop(l, 1, &v, sizeof v, &n), 0);
    assert_int_equal(v, 1);
    assert_int_equal(mp_list_pop(l, -1, &v, sizeof v, &n), 0);
    assert_int_equal(v, 4);
    assert_int_equal(mp_list_pop(l, -3, &v, sizeof v, &n), 0);
    assert_int_equal(v, 0);
    assert_int_equal(mp_list_len(l), 2);
    assert_int_equal(get_i64(l, 0), 2);
    assert_int_equal(get_i64(l, 1), 40);
    assert_int_equal(mp_list_pop(l, 2, &v, sizeof v, &n), MP_ERANGE);
    assert_int_equal(mp_list_len(l), 2);
    mp_list_free(l);
}

static void test_list_empty_pops_and_gets_are_erange(void **state)
{
    (void)state;
    mp_list *l = mp_list_new();
    char c;
    size_t n;
    assert_int_equal(mp_list_len(l), 0);
    assert_int_equal(mp_list_get(l, 0, &c, 1, &n), MP_ERANGE);
    assert_int_equal(mp_list_get(l, -1, &c, 1, &n), MP_ERANGE);
    assert_int_equal(mp_list_pop(l, -1, &c, 1, &n), MP_ERANGE);
    assert_int_equal(mp_list_set(l, 0, "x", 1), MP_ERANGE);
    assert_int_equal(mp_list_append(l, NULL, 0), 0); /* an empty item */
    assert_int_equal(mp_list_get(l, 0, NULL, 0, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(mp_list_pop(l, 0, NULL, 0, &n), 0);
    assert_int_equal(mp_list_len(l), 0);
    mp_list_free(l);
}

static void test_list_small_buffer_keeps_the_item(void **state)
{
    (void)state;
    mp_list *l = mp_list_new();
    assert_int_equal(mp_list_append(l, "hello", 5), 0);
    char buf[4];
    size_t n = 0;
    assert_int_equal(mp_list_get(l, 0, buf, sizeof buf, &n), MP_EMSGSIZE);
    assert_int_equal(n, 5);
    n = 0;
    assert_int_equal(mp_list_pop(l, 0, buf, sizeof buf, &n), MP_EMSGSIZE);
    assert_int_equal(n, 5);
    assert_int_equal(mp_list_len(l), 1);
    void *p = NULL;
    assert_int_equal(mp_list_get_alloc(l, -1, &p, &n), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(p, "hello", 5);
    free(p);
    p = (void *)0x1;
    assert_int_equal(mp_list_get_alloc(l, 1, &p, &n), MP_ERANGE);
    assert_ptr_equal(p, (void *)0x1);
    mp_list_free(l);
}

static void test_list_large_items(void **state)
{
    (void)state;
    mp_list *l = mp_list_new();
    size_t big = 300000;
    unsigned char *v = malloc(big), *out = malloc(big);
    for (size_t i = 0; i < big; i++)
        v[i] = (unsigned char)(i * 7);
    assert_int_equal(mp_list_append(l, v, big), 0);
    assert_int_equal(mp_list_append(l, "s", 1), 0);
    size_t n;
    assert_int_equal(mp_list_get(l, 0, out, big, &n), 0);
    assert_int_equal(n, big);
    assert_memory_equal(out, v, big);
    assert_int_equal(mp_list_set(l, 1, v, big), 0);
    assert_int_equal(mp_list_pop(l, 0, out, big, &n), 0);
    assert_memory_equal(out, v, big);
    assert_int_equal(mp_list_len(l), 1);
    free(v);
    free(out);
    mp_list_free(l);
}

static void test_list_bad_arguments_are_einval(void **state)
{
    (void)state;
    mp_list *l = mp_list_new();
    char c;
    size_t n;
    void *p;
    assert_int_equal(mp_list_append(NULL, "x", 1), MP_EINVAL);
    assert_int_equal(mp_list_append(l, NULL, 1), MP_EINVAL);
    assert_int_equal(mp_list_append_timed(l, "x", 1, NAN), MP_EINVAL);
    assert_int_equal(mp_list_get(NULL, 0, &c, 1, &n), MP_EINVAL);
    assert_int_equal(mp_list_get(l, 0, NULL, 1, &n), MP_EINVAL);
    assert_int_equal(mp_list_get(l, 0, &c, 1, NULL), MP_EINVAL);
    assert_int_equal(mp_list_get_alloc(l, 0, NULL, &n), MP_EINVAL);
    assert_int_equal(mp_list_get_alloc(l, 0, &p, NULL), MP_EINVAL);
    assert_int_equal(mp_list_set(NULL, 0, "x", 1), MP_EINVAL);
    assert_int_equal(mp_list_set(l, 0, NULL, 1), MP_EINVAL);
    assert_int_equal(mp_list_set_timed(l, 0, "x", 1, NAN), MP_EINVAL);
    assert_int_equal(mp_list_pop(NULL, 0, &c, 1, &n), MP_EINVAL);
    assert_int_equal(mp_list_pop(l, 0, NULL, 1, &n), MP_EINVAL);
    assert_int_equal(mp_list_pop(l, 0, &c, 1, NULL), MP_EINVAL);
    assert_int_equal(mp_list_pop_timed(l, 0, &c, 1, &n, NAN), MP_EINVAL);
    assert_int_equal(mp_list_len(NULL), 0);
    mp_list_free(NULL);
    assert_int_equal(mp_list_len(l), 0);
    mp_list_free(l);
}

/* A private list of byte strings: the model. */
typedef struct {
    unsigned char *b;
    size_t n;
} mitem;

static void test_list_random_ops_match_model(void **state)
{
    (void)state;
    mp_list *l = mp_list_new();
    mitem *m = NULL;
    size_t len = 0, cap = 0;
    uint64_t s = 99;
    static unsigned char v[70000], out[70000];
    for (int step = 0; step < 40000; step++) {
        uint64_t op = rnd(&s) % 100;
        ptrdiff_t i = (ptrdiff_t)(rnd(&s) % 81) - 40;
        size_t n = rnd(&s) % 50 == 0 ? 60000 + rnd(&s) % 5000 : rnd(&s) % 40;
        for (size_t j = 0; j < n; j++)
            v[j] = (unsigned char)rnd(&s);
        ptrdiff_t at = i < 0 ? i + (ptrdiff_t)len : i;
        bool in = at >= 0 && (size_t)at < len;
        size_t got = 0;
        if (op < 45) {
            assert_int_equal(mp_list_append(l, v, n), 0);
            if (len == cap) {
                cap = cap ? 2 * cap : 16;
                m = realloc(m, cap * sizeof *m);
            }
            m[len].b = malloc(n + 1);
            memcpy(m[len].b, v, n);
            m[len++].n = n;
        } else if (op < 60) {
            assert_int_equal(mp_list_set(l, i, v, n), in ? 0 : MP_ERANGE);
            if (in) {
                free(m[at].b);
                m[at].b = malloc(n + 1);
                memcpy(m[at].b, v, n);
                m[at].n = n;
            }
        } else if (op < 85) {
            assert_int_equal(mp_list_pop(l, i, out, sizeof out, &got), in ? 0 : MP_ERANGE);
            if (in) {
                assert_int_equal(got, m[at].n);
                assert_memory_equal(out, m[at].b, got);
                free(m[at].b);
                memmove(&m[at], &m[at + 1], (len - (size_t)at - 1) * sizeof *m);
                len--;
            }
        } else {
            int rc = mp_list_get(l, i, out, sizeof out, &got);
            assert_int_equal(rc, in ? 0 : MP_ERANGE);
            if (in) {
                assert_int_equal(got, m[at].n);
                assert_memory_equal(out, m[at].b, got);
            }
        }
        assert_int_equal(mp_list_len(l), len);
        if (step % 2000 == 0)
            for (size_t j = 0; j < len; j++) {
                assert_int_equal(mp_list_get(l, (ptrdiff_t)j, out, sizeof out, &got), 0);
                assert_int_equal(got, m[j].n);
                assert_memory_equal(out, m[j].b, got);
            }
    }
    for (size_t j = 0; j < len; j++)
        free(m[j].b);
    free(m);
    mp_list_free(l);
}

#define APPENDS 20000

/* Child: appends its tagged numbers in order. */
static int child_appends(void *arg)
{
    mp_list *l = arg;
    int64_t tag = (int64_t)getpid() << 32;
    for (int64_t i = 0; i < APPENDS; i++) {
        int64_t v = tag | i;
        if (mp_list_append(l, &v, sizeof v) != 0)
            return 1;
    }
    return 0;
}

/* Child: pops from the front and the back while the others append
 * (finds the list empty now and then: MP_ERANGE, and tries again). */
static int child_pops(void *arg)
{
    mp_list *l = arg;
    for (int popped = 0, k = 0; popped < APPENDS / 2; k++) {
        int64_t v;
        size_t n;
        int rc = mp_list_pop(l, k % 2 ? 0 : -1, &v, sizeof v, &n);
        if (rc == 0)
            popped++;
        else if (rc != MP_ERANGE)
            return 1;
    }
    return 0;
}

static void test_list_two_appenders_and_a_popper_lose_nothing(void **state)
{
    (void)state;
    mp_list *l = mp_list_new();
    pid_t a = mpt_fork(child_appends, l), b = mpt_fork(child_appends, l);
    pid_t p = mpt_fork(child_pops, l);
    assert_int_equal(mpt_wait(a), 0);
    assert_int_equal(mpt_wait(b), 0);
    assert_int_equal(mpt_wait(p), 0);
    size_t len = mp_list_len(l);
    assert_int_equal(len, 2 * APPENDS - APPENDS / 2);
    /* Each appender's numbers that are left are still in its order. */
    int64_t last[2] = {-1, -1}, tags[2] = {(int64_t)a << 32, (int64_t)b << 32};
    for (size_t j = 0; j < len; j++) {
        int64_t v = get_i64(l, (ptrdiff_t)j);
        int who = (v & ~0xffffffffLL) == tags[0] ? 0 : 1;
        assert_true((v & ~0xffffffffLL) == tags[who]);
        assert_true((v & 0xffffffffLL) > last[who]);
        last[who] = v & 0xffffffffLL;
    }
    mp_list_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        mpt_test(test_list_indexes_are_pythons),
        mpt_test(test_list_empty_pops_and_gets_are_erange),
        mpt_test(test_list_small_buffer_keeps_the_item),
        mpt_test(test_list_large_items),
        mpt_test(test_list_bad_arguments_are_einval),
        mpt_test(test_list_random_ops_match_model),
        mpt_test(test_list_two_appenders_and_a_popper_lose_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
