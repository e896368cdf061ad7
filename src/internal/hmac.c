/* hmac.c - HMAC (RFC 2104) over the two digests the handshake needs. */
#include "hmac.h"

#include <string.h>

#include "md5.h"
#include "sha256.h"

/* Both digests have 64-byte blocks. */
#define BLOCK 64

/* One digest behind a common face, so HMAC is written once. */
typedef union {
    mp__md5_ctx md5;
    mp__sha256_ctx sha256;
} hash_ctx;

static void h_init(mp__hmac_alg alg, hash_ctx *c)
{
    if (alg == MP__HMAC_MD5)
        mp__md5_init(&c->md5);
    else
        mp__sha256_init(&c->sha256);
}

static void h_update(mp__hmac_alg alg, hash_ctx *c, const void *p, size_t n)
{
    if (alg == MP__HMAC_MD5)
        mp__md5_update(&c->md5, p, n);
    else
        mp__sha256_update(&c->sha256, p, n);
}

static void h_final(mp__hmac_alg alg, hash_ctx *c, unsigned char *out)
{
    if (alg == MP__HMAC_MD5)
        mp__md5_final(&c->md5, out);
    else
        mp__sha256_final(&c->sha256, out);
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
    hash_ctx c;
    /* K0: the key padded with zeros, or its digest if it is too long. */
    if (keylen > BLOCK) {
        h_init(alg, &c);
        h_update(alg, &c, key, keylen);
        h_final(alg, &c, k0);
    } else if (keylen > 0) {
        memcpy(k0, key, keylen);
    }
    /* H((K0 ^ ipad) || msg) */
    for (int i = 0; i < BLOCK; i++)
        pad[i] = k0[i] ^ 0x36;
    h_init(alg, &c);
    h_update(alg, &c, pad, BLOCK);
    if (len > 0)
        h_update(alg, &c, msg, len);
    h_final(alg, &c, inner);
    /* H((K0 ^ opad) || inner) */
    for (int i = 0; i < BLOCK; i++)
        pad[i] = k0[i] ^ 0x5c;
    h_init(alg, &c);
    h_update(alg, &c, pad, BLOCK);
    h_update(alg, &c, inner, size);
    h_final(alg, &c, out);
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
