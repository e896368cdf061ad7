/* fuzz.h - what the fuzz targets share: checks that abort with the place
 * and the call, and a cursor over the fuzzer's input. */
#ifndef MP_FUZZ_H
#define MP_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "mp.h"

/* CHECK(cond) aborts, naming the place, when cond is false. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* CHECK_RC(got, want) aborts when a call returned another code than want. */
#define CHECK_RC(got, want)                                                                        \
    do {                                                                                           \
        int got_ = (got), want_ = (want);                                                          \
        if (got_ != want_) {                                                                       \
            fprintf(stderr, "%s:%d: %s returned %s (%d), expected %s\n", __FILE__, __LINE__, #got, \
                    mp_err_name(got_), got_, mp_err_name(want_));                                  \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* The input, read front to back; past its end every byte reads 0. */
struct input {
    const uint8_t *p;
    size_t n;
};

static inline uint8_t take8(struct input *in)
{
    if (in->n == 0)
        return 0;
    in->n--;
    return *in->p++;
}

#endif
