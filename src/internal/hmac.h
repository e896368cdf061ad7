/* hmac.h - HMAC (RFC 2104) over MD5 or SHA-256. */
#ifndef MP_INTERNAL_HMAC_H
#define MP_INTERNAL_HMAC_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    MP__HMAC_MD5,    /* 16-byte MAC: Python <= 3.11's handshake */
    MP__HMAC_SHA256, /* 32-byte MAC: Python >= 3.12's "{sha256}" */
} mp__hmac_alg;

#define MP__HMAC_MAX 32 /* the largest MAC size */

/* mp__hmac computes HMAC(key, msg) with alg into out and returns the MAC's
 * size in bytes. Keys of any length are allowed (longer than a block: hashed
 * first, as RFC 2104 says). */
size_t mp__hmac(mp__hmac_alg alg, const void *key, size_t keylen, const void *msg, size_t len,
                unsigned char out[MP__HMAC_MAX]);

/* mp__hmac_size returns the MAC size of alg. */
size_t mp__hmac_size(mp__hmac_alg alg);

/* mp__ct_equal compares n bytes in time that does not depend on where they
 * differ, so a MAC check leaks nothing through timing. */
bool mp__ct_equal(const void *a, const void *b, size_t n);

#endif
