/* hmac.h - HMAC (RFC 2104) over MD5 or SHA-256. */
#ifndef MP_INTERNAL_HMAC_H
#define MP_INTERNAL_HMAC_H

#include <stdbool.h>
#include <stddef.h>

#include "crypto/md5.h"
#include "crypto/sha256.h"

typedef enum {
    MP__HMAC_MD5,    /* 16-byte MAC: Python <= 3.11's handshake */
    MP__HMAC_SHA256, /* 32-byte MAC: Python >= 3.12's "{sha256}" */
} mp__hmac_alg;

#define MP__HMAC_MAX 32 /* the largest MAC size */

/* The digest under an HMAC, chosen at run time: one face over MD5 and
 * SHA-256, so HMAC (and the tests of both digests) are written once. */
typedef struct {
    mp__hmac_alg alg; /* which of the two the union holds */
    union {
        mp__md5_ctx md5;
        mp__sha256_ctx sha256;
    } u;
} mp__hash_ctx;

/* mp__hash_init starts c as a digest of kind alg; mp__hash_update feeds it
 * n bytes; mp__hash_final writes mp__hmac_size(alg) bytes to out, after
 * which c must be started again before reuse. */
void mp__hash_init(mp__hash_ctx *c, mp__hmac_alg alg);
void mp__hash_update(mp__hash_ctx *c, const void *p, size_t n);
void mp__hash_final(mp__hash_ctx *c, unsigned char *out);

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
