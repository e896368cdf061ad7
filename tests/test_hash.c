/* test_hash.c - libmp's MD5, SHA-256 and HMAC against the published test
 * vectors (RFC 1321, FIPS 180-4 examples, RFC 2104/2202, RFC 4231). */
/* ctest-timeout: 30 */
#include "mp_test.h"

#include "crypto/hmac.h"

static void hex(const unsigned char *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
}

/* check_digest hashes msg whole, then fed in uneven pieces (so pieces
 * end at odd places in the 64-byte blocks); both must give want, in hex. */
static void check_digest(mp__hmac_alg alg, const char *msg, size_t len, const char *want)
{
    unsigned char d[MP__HMAC_MAX];
    char h[2 * MP__HMAC_MAX + 1];
    mp__hash_ctx c;
    mp__hash_init(&c, alg);
    mp__hash_update(&c, msg, len);
    mp__hash_final(&c, d);
    hex(d, mp__hmac_size(alg), h);
    assert_string_equal(h, want);
    mp__hash_init(&c, alg);
    for (size_t i = 0, step = 1; i < len; i += step, step = step * 3 % 71 + 1)
        mp__hash_update(&c, msg + i, i + step > len ? len - i : step);
    mp__hash_final(&c, d);
    hex(d, mp__hmac_size(alg), h);
    assert_string_equal(h, want);
}

static void check_hmac(mp__hmac_alg alg, const void *key, size_t keylen, const void *msg,
                       size_t len, const char *want)
{
    unsigned char d[MP__HMAC_MAX];
    char h[2 * MP__HMAC_MAX + 1];
    size_t n = mp__hmac(alg, key, keylen, msg, len, d);
    assert_int_equal(n, mp__hmac_size(alg));
    hex(d, n, h);
    assert_string_equal(h, want);
}

#define S(x) x, sizeof(x) - 1

/* RFC 1321, appendix A.5. */
static void test_md5_matches_rfc1321_suite(void **state)
{
    (void)state;
    check_digest(MP__HMAC_MD5, S(""), "d41d8cd98f00b204e9800998ecf8427e");
    check_digest(MP__HMAC_MD5, S("a"), "0cc175b9c0f1b6a831c399e269772661");
    check_digest(MP__HMAC_MD5, S("abc"), "900150983cd24fb0d6963f7d28e17f72");
    check_digest(MP__HMAC_MD5, S("message digest"), "f96b697d7cb7938d525a2f31aaf161d0");
    check_digest(MP__HMAC_MD5, S("abcdefghijklmnopqrstuvwxyz"), "c3fcd3d76192e4007dfb496cca67e13b");
    check_digest(MP__HMAC_MD5, S("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
                 "d174ab98d277d9f5a5611c2c9f419d9f");
    check_digest(MP__HMAC_MD5,
                 S("1234567890123456789012345678901234567890"
                   "1234567890123456789012345678901234567890"),
                 "57edf4a22be3c955ac49da2e2107b67a");
}

/* FIPS 180-4's examples (one block, two blocks, a million 'a'). */
static void test_sha256_matches_fips180_examples(void **state)
{
    (void)state;
    check_digest(MP__HMAC_SHA256, S(""),
                 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    check_digest(MP__HMAC_SHA256, S("abc"),
                 "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    check_digest(MP__HMAC_SHA256, S("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
                 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    char *million = malloc(1000000);
    memset(million, 'a', 1000000);
    check_digest(MP__HMAC_SHA256, million, 1000000,
                 "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(million);
}

/* RFC 2104 appendix (cases 1-3) and RFC 2202 (a key longer than a block). */
static void test_hmac_md5_matches_rfc2104_and_rfc2202(void **state)
{
    (void)state;
    unsigned char k[80], d[50];
    memset(k, 0x0b, 16);
    check_hmac(MP__HMAC_MD5, k, 16, S("Hi There"), "9294727a3638bb1c13f48ef8158bfc9d");
    check_hmac(MP__HMAC_MD5, S("Jefe"), S("what do ya want for nothing?"),
               "750c783e6ab0b503eaa86e310a5db738");
    memset(k, 0xaa, sizeof k);
    memset(d, 0xdd, sizeof d);
    check_hmac(MP__HMAC_MD5, k, 16, d, 50, "56be34521d144c88dbb8c733f0e8b3f6");
    check_hmac(MP__HMAC_MD5, k, 80, S("Test Using Larger Than Block-Size Key - Hash Key First"),
               "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd");
}

/* RFC 4231, test cases 1, 2, 3, 6 and 7. */
static void test_hmac_sha256_matches_rfc4231(void **state)
{
    (void)state;
    unsigned char k[131], d[50];
    memset(k, 0x0b, 20);
    check_hmac(MP__HMAC_SHA256, k, 20, S("Hi There"),
               "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    check_hmac(MP__HMAC_SHA256, S("Jefe"), S("what do ya want for nothing?"),
               "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    memset(k, 0xaa, sizeof k);
    memset(d, 0xdd, sizeof d);
    check_hmac(MP__HMAC_SHA256, k, 20, d, 50,
               "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
    check_hmac(MP__HMAC_SHA256, k, 131, S("Test Using Larger Than Block-Size Key - Hash Key First"),
               "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    check_hmac(MP__HMAC_SHA256, k, 131,
               S("This is a test using a larger than block-size key and a larger than "
                 "block-size data. The key needs to be hashed before being used by the HMAC "
                 "algorithm."),
               "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

static void test_ct_equal_compares_every_byte(void **state)
{
    (void)state;
    unsigned char a[32], b[32];
    memset(a, 7, sizeof a);
    memcpy(b, a, sizeof b);
    assert_true(mp__ct_equal(a, b, 32));
    assert_true(mp__ct_equal(a, b, 0));
    b[31] ^= 1;
    assert_false(mp__ct_equal(a, b, 32));
    assert_true(mp__ct_equal(a, b, 31));
    b[31] ^= 1;
    b[0] ^= 0x80;
    assert_false(mp__ct_equal(a, b, 32));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        mpt_test(test_md5_matches_rfc1321_suite),
        mpt_test(test_sha256_matches_fips180_examples),
        mpt_test(test_hmac_md5_matches_rfc2104_and_rfc2202),
        mpt_test(test_hmac_sha256_matches_rfc4231),
        mpt_test(test_ct_equal_compares_every_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
