/* sha256.h - SHA-256 (FIPS 180-4), for the "{sha256}" HMAC of CPython
 * 3.12's connection handshake. */
#ifndef MP_INTERNAL_SHA256_H
#define MP_INTERNAL_SHA256_H

#include "crypto/digest.h"

#define MP__SHA256_SIZE 32

typedef struct {
    uint32_t h[8];      /* chaining state H0..H7 */
    mp__digest_buf buf; /* bytes hashed so far and a partial block */
} mp__sha256_ctx;

void mp__sha256_init(mp__sha256_ctx *c);
void mp__sha256_update(mp__sha256_ctx *c, const void *data, size_t n);
/* mp__sha256_final writes the 32-byte digest; c must be initialised again
 * before reuse. */
void mp__sha256_final(mp__sha256_ctx *c, unsigned char out[MP__SHA256_SIZE]);

#endif
