/* fuzz_conn.c - libFuzzer target: the connection reader fed arbitrary
 * bytes by its peer. The input (after three control bytes) is written raw to
 * the other end of an mp_pipe, in two parts with receives in between,
 * then the peer closes. Every receive is checked against a reference
 * parser of CPython's framing (4-byte big-endian signed length, or -1 and
 * an 8-byte length): whole messages come out exactly, a partial one is
 * MP_ETIMEDOUT and stays, an oversized one is MP_EMSGSIZE and stays, a
 * message cut by the close is never returned, a negative length is
 * -EPROTO, and the end is MP_EEOF.
 *
 * fuzz-requires: src/conn/pipe.c */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "mp.h"

/* The receive buffer: a few dozen bytes at most, chosen by the input, and
 * allocated to its exact size, so that short inputs reach the edges and
 * ASan sees a write one byte past it. */
static size_t cap;
static uint8_t *buf;

/* What the reference parser sees at the head of the stream. */
enum frame { WHOLE, PARTIAL, BAD };

/* parse looks at the unread bytes p[0..n): a whole message (its payload at
 * *payload, *len bytes, *used bytes in all), a partial one (*known when
 * its header is complete, *len then set), or a header CPython never
 * sends. long_form tells whether the 8-byte form was used. */
static enum frame parse(const uint8_t *p, size_t n, const uint8_t **payload, uint64_t *len,
                        bool *known, size_t *used, bool *long_form)
{
    *len = 0;
    *known = false;
    *long_form = false;
    if (n < 4)
        return PARTIAL;
    int32_t h = (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
    size_t hdr = 4;
    uint64_t l;
    if (h >= 0) {
        l = (uint64_t)h;
    } else if (h == -1) {
        *long_form = true;
        if (n < 12)
            return PARTIAL;
        l = 0;
        for (int i = 0; i < 8; i++)
            l = l << 8 | p[4 + i];
        hdr = 12;
    } else {
        return BAD;
    }
    *len = l;
    *known = true;
    if (n - hdr < l)
        return PARTIAL;
    *payload = p + hdr;
    *used = hdr + (size_t)l;
    return WHOLE;
}

static void write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        CHECK(w > 0);
        p += w;
        n -= (size_t)w;
    }
}

/* receive_some takes messages while the reference says whole ones are
 * there, then checks the next receive's answer. At the end of the stream
 * (eof) that is MP_EEOF, else MP_ETIMEDOUT. Returns false when the stream
 * cannot go on (a bad header or an oversized message). */
static bool receive_some(mp_conn *c, const uint8_t *data, size_t total, size_t *pos, bool eof,
                         uint8_t mode)
{
    for (int k = 0;; k++) {
        const uint8_t *payload = NULL;
        uint64_t want = 0;
        size_t used = 0;
        bool long_form, known;
        enum frame f = parse(data + *pos, total - *pos, &payload, &want, &known, &used, &long_form);
        bool use_alloc = (mode >> (k % 8)) & 1;
        /* The 8-byte form for a length that fits 4 bytes: CPython never
         * sends it, so -EPROTO is a fair answer too. */
        bool odd_form = known && long_form && want <= 0x7fffffff;
        size_t len = 0;
        void *m = NULL;
        int rc =
            use_alloc ? mp_conn_recv_alloc(c, &m, &len, 0) : mp_conn_recv(c, buf, cap, &len, 0);
        if (f == BAD) {
            CHECK(rc == -EPROTO);
            return false;
        }
        if (odd_form && rc == -EPROTO)
            return false;
        if (f == WHOLE && (use_alloc || want <= cap)) {
            CHECK(rc == 0);
            CHECK(len == want);
            CHECK(want == 0 || memcmp(use_alloc ? m : (void *)buf, payload, (size_t)want) == 0);
            free(m);
            *pos += used;
            CHECK(mp_conn_poll(c, 0) >= 0);
            continue;
        }
        free(m);
        if (f == WHOLE || (!use_alloc && known && want > cap)) {
            /* Longer than the buffer: the length is told, the message
             * stays (or, cut by the close, the stream simply ends). */
            if (f == PARTIAL && eof && rc == MP_EEOF)
                return false;
            CHECK(rc == MP_EMSGSIZE);
            CHECK(len == (want > SIZE_MAX ? SIZE_MAX : want));
            if (f == PARTIAL)
                return false;
            /* Take it whole the other way. */
            CHECK(mp_conn_recv_alloc(c, &m, &len, 0) == 0);
            CHECK(len == want && memcmp(m, payload, (size_t)want) == 0);
            free(m);
            *pos += used;
            continue;
        }
        /* Partial or nothing: wait for more, or the end. */
        if (eof) {
            CHECK(rc == MP_EEOF);
            CHECK(mp_conn_poll(c, 0) == 1);
            CHECK(mp_conn_recv(c, buf, cap, &len, 0) == MP_EEOF);
        } else {
            CHECK(rc == MP_ETIMEDOUT);
        }
        return true;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    bool duplex = data[0] & 1;
    uint8_t mode = data[1];
    cap = data[2] % 48;
    data += 3;
    size -= 3;
    buf = malloc(cap > 0 ? cap : 1);
    size_t split = size == 0 ? 0 : (size_t)(data[0] * 2654435761u) % (size + 1);

    mp_conn *rx, *tx;
    CHECK(mp_pipe(&rx, &tx, duplex) == 0);
    int fd = mp_conn_fileno(tx);
    CHECK(fd >= 0);

    size_t pos = 0;
    write_all(fd, data, split);
    bool go = receive_some(rx, data, split, &pos, false, mode);
    if (go) {
        write_all(fd, data + split, size - split);
        mp_conn_close(tx);
        receive_some(rx, data, size, &pos, true, (uint8_t)(mode >> 1 | mode << 7));
    }
    mp_conn_free(tx);
    mp_conn_free(rx);
    free(buf);
    return 0;
}
