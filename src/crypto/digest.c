/* digest.c - block buffering and length padding shared by MD5 and
 * SHA-256 (RFC 1321 section 3.1-3.2, FIPS 180-4 section 5.1.1). */
#include "crypto/digest.h"

#include <string.h>

void mp__digest_update(mp__digest_buf *b, uint32_t *h, mp__digest_block_fn *block, const void *data,
                       size_t n)
{
    const unsigned char *p = data;
    if (n == 0)
        return;
    size_t used = (size_t)(b->len % MP__DIGEST_BLOCK);
    b->len += n;
    /* Complete the partial block first, if there is one. */
    if (used > 0) {
        size_t take = MP__DIGEST_BLOCK - used < n ? MP__DIGEST_BLOCK - used : n;
        memcpy(b->buf + used, p, take);
        p += take;
        n -= take;
        if (used + take < MP__DIGEST_BLOCK)
            return;
        block(h, b->buf);
    }
    /* Whole blocks straight from the caller's memory, no copy. */
    for (; n >= MP__DIGEST_BLOCK; p += MP__DIGEST_BLOCK, n -= MP__DIGEST_BLOCK)
        block(h, p);
    if (n > 0)
        memcpy(b->buf, p, n);
}

void mp__digest_pad(mp__digest_buf *b, uint32_t *h, mp__digest_block_fn *block, bool big_endian)
{
    static const unsigned char pad[MP__DIGEST_BLOCK] = {0x80};
    uint64_t bits = b->len * 8; /* before the padding adds to len */
    size_t used = (size_t)(b->len % MP__DIGEST_BLOCK);
    mp__digest_update(b, h, block, pad, used < 56 ? 56 - used : 120 - used);
    unsigned char lenb[8];
    for (int i = 0; i < 8; i++)
        lenb[i] = (unsigned char)(bits >> (big_endian ? 56 - 8 * i : 8 * i));
    mp__digest_update(b, h, block, lenb, 8);
}
