/* hmac.c - HMAC (RFC 2104) over the two digests the handshake needs. */
#include "crypto/hmac.h"

#include <string.h>

#define BLOCK MP__DIGEST_BLOCK /* both digests' block size */

void mp__hash_init(mp__hash_ctx *c, mp__hmac_alg alg)
{
    c->alg = alg;
    if (alg == MP__HMAC_MD5)
        mp__md5_init(&c->u.md5);
    else
        mp__sha256_init(&c->u.sha256);
}

void mp__hash_update(mp__hash_ctx *c, const void *p, size_t n)
{
    if (c->alg == MP__HMAC_MD5)
        mp__md5_update(&c->u.md5, p, n);
    else
        mp__sha256_update(&c->u.sha256, p, n);
}

void mp__hash_final(mp__hash_ctx *c, unsigned char *out)
{
    if (c->alg == MP__HMAC_MD5)
        mp__md5_final(&c->u.md5, out);
    else
        mp__sha256_final(&c->u.sha256, out);
}

size_t mp__hmac_size(mp__hmac_alg alg)
{
    return alg == MP__HMAC_MD5 ? MP__MD5_SIZE : MP__SHA256_SIZE;
}

size_t mp__hmac(mp__hmac_alg alg, const void *key, size_t keylen, const void *msg, size_t len,
                unsigned char out[MP__HMAC_MAX])
{
    size_t size = mp__hmac_size(alg);
    unsigned char k0[BLOCK] = {0}, pad[BLOCK], inner[MP__HMAC_MAX];
    mp__hash_ctx c;
    /* K0: the key padded with zeros, or its digest if it is too long. */
    if (keylen > BLOCK) {
        mp__hash_init(&c, alg);
        mp__hash_update(&c, key, keylen);
        mp__hash_final(&c, k0);
    } else if (keylen > 0) {
        memcpy(k0, key, keylen);
    }
    /* H((K0 ^ ipad) || msg) */
    for (int i = 0; i < BLOCK; i++)
        pad[i] = k0[i] ^ 0x36;
    mp__hash_init(&c, alg);
    mp__hash_update(&c, pad, BLOCK);
    if (len > 0)
        mp__hash_update(&c, msg, len);
    mp__hash_final(&c, inner);
    /* H((K0 ^ opad) || inner) */
    for (int i = 0; i < BLOCK; i++)
        pad[i] = k0[i] ^ 0x5c;
    mp__hash_init(&c, alg);
    mp__hash_update(&c, pad, BLOCK);
    mp__hash_update(&c, inner, size);
    mp__hash_final(&c, out);
    return size;
}

bool mp__ct_equal(const void *a, const void *b, size_t n)
{
    const volatile unsigned char *x = a, *y = b;
    unsigned char diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= x[i] ^ y[i];
    return diff == 0;
}
