/* md5.h - MD5 (RFC 1321), for the HMAC-MD5 of CPython's connection
 * handshake. Not for anything that needs collision resistance. */
#ifndef MP_INTERNAL_MD5_H
#define MP_INTERNAL_MD5_H

#include "crypto/digest.h"

#define MP__MD5_SIZE 16

typedef struct {
    uint32_t h[4];      /* chaining state A, B, C, D */
    mp__digest_buf buf; /* bytes hashed so far and a partial block */
} mp__md5_ctx;

void mp__md5_init(mp__md5_ctx *c);
void mp__md5_update(mp__md5_ctx *c, const void *data, size_t n);
/* mp__md5_final writes the 16-byte digest; c must be initialised again
 * before reuse. */
void mp__md5_final(mp__md5_ctx *c, unsigned char out[MP__MD5_SIZE]);

#endif
