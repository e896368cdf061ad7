/* test_error.c - the error table: values, names and messages. */
/* ctest-timeout: 30 */
#include "mp_test.h"

static const int all_codes[] = {
#define X(name, value, msg) MP_##name,
    MP_ERRNO_MAP(X)
#undef X
};

static void test_errno_codes_equal_minus_errno(void **state)
{
    (void)state;
    assert_int_equal(MP_OK, 0);
    assert_int_equal(MP_EINVAL, -EINVAL);
    assert_int_equal(MP_ETIMEDOUT, -ETIMEDOUT);
    assert_int_equal(MP_EMSGSIZE, -EMSGSIZE);
    assert_int_equal(MP_ENOMEM, -ENOMEM);
    assert_int_equal(MP_ECANCELED, -ECANCELED);
    assert_int_equal(MP_ENOENT, -ENOENT);
    assert_int_equal(MP_ERANGE, -ERANGE);
}

static void test_library_codes_are_far_from_errno(void **state)
{
    (void)state;
    const int own[] = {MP_EEMPTY, MP_EFULL, MP_ECLOSED, MP_EEOF, MP_ESTATE, MP_EVALUE,
                       MP_ENOTOWNER, MP_EOWNERDEAD, MP_EBROKEN, MP_ETASK, MP_EWORKERDIED,
                       MP_EAUTH};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
        assert_true(own[i] < -4095);
        for (size_t j = 0; j < i; j++)
            assert_int_not_equal(own[i], own[j]);
    }
}

static void test_every_code_has_a_name_and_message(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof all_codes / sizeof all_codes[0]; i++) {
        int c = all_codes[i];
        assert_string_not_equal(mp_strerror(c), "unknown error");
        assert_true(strncmp(mp_err_name(c), "MP_", 3) == 0);
        for (size_t j = 0; j < i; j++) {
            assert_string_not_equal(mp_err_name(c), mp_err_name(all_codes[j]));
            assert_string_not_equal(mp_strerror(c), mp_strerror(all_codes[j]));
        }
    }
    assert_string_equal(mp_err_name(MP_EFULL), "MP_EFULL");
    assert_string_equal(mp_err_name(MP_EINVAL), "MP_EINVAL");
    assert_string_equal(mp_err_name(MP_EWORKERDIED), "MP_EWORKERDIED");
}

static void test_system_errors_and_unknown_codes(void **state)
{
    (void)state;
    assert_string_equal(mp_err_name(-EPIPE), "EPIPE");
    assert_string_equal(mp_strerror(-EPIPE), strerror(EPIPE));
    assert_string_equal(mp_strerror(12345), "unknown error");
    assert_string_equal(mp_strerror(-99999), "unknown error");
    assert_string_equal(mp_err_name(-99999), "UNKNOWN");
}

static void test_version_string_matches_macros(void **state)
{
    (void)state;
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", MP_VERSION_MAJOR, MP_VERSION_MINOR, MP_VERSION_PATCH);
    assert_string_equal(mp_version_string(), want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        mpt_test(test_errno_codes_equal_minus_errno),
        mpt_test(test_library_codes_are_far_from_errno),
        mpt_test(test_every_code_has_a_name_and_message),
        mpt_test(test_system_errors_and_unknown_codes),
        mpt_test(test_version_string_matches_macros),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
