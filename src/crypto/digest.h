/* digest.h - the framing MD5 and SHA-256 share (Merkle-Damgard): bytes
 * are buffered into 64-byte blocks for a block function, and the message
 * ends with 0x80, zeros and its bit length. Each hash keeps only its
 * block function, its start state and its byte order. */
#ifndef MP_INTERNAL_DIGEST_H
#define MP_INTERNAL_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MP__DIGEST_BLOCK 64 /* both hashes' block size in bytes */

/* mp__digest_block_fn mixes one 64-byte block into the chaining state h. */
typedef void mp__digest_block_fn(uint32_t *h, const unsigned char *block);

/* The buffering half of a hash context. */
typedef struct {
    uint64_t len;                        /* bytes hashed so far */
    unsigned char buf[MP__DIGEST_BLOCK]; /* a partial block: len % 64 bytes */
} mp__digest_buf;

/* mp__digest_update feeds n bytes of data: each block completed goes
 * through block(h, ...), what is left of a block waits in b. */
void mp__digest_update(mp__digest_buf *b, uint32_t *h, mp__digest_block_fn *block, const void *data,
                       size_t n);

/* mp__digest_pad ends the message: 0x80, zeros up to 56 mod 64, then the
 * length in bits as 8 bytes, big-endian (SHA-256) or little-endian (MD5).
 * Afterwards h holds the final state and b must be reset before reuse. */
void mp__digest_pad(mp__digest_buf *b, uint32_t *h, mp__digest_block_fn *block, bool big_endian);

#endif
