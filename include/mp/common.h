/* mp/common.h - what every libmp header shares: the export marker, the
 * version, and the timeout convention. */
#ifndef MP_COMMON_H
#define MP_COMMON_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* MP_EXTERN marks the public symbols; everything else in libmp.so is hidden
 * (the library is built with -fvisibility=hidden). */
#if defined(__GNUC__)
#define MP_EXTERN __attribute__((visibility("default")))
#else
#define MP_EXTERN
#endif

#define MP_VERSION_MAJOR 0
#define MP_VERSION_MINOR 1
#define MP_VERSION_PATCH 0
#define MP_VERSION_HEX                                                                   \
    ((MP_VERSION_MAJOR << 16) | (MP_VERSION_MINOR << 8) | MP_VERSION_PATCH)

/* Timeouts are seconds as a double, as in Python. MP_FOREVER blocks until
 * done; 0 (or any negative value) never blocks; NaN is MP_EINVAL. Waits run
 * on CLOCK_MONOTONIC and are restarted after signals (EINTR). */
#define MP_FOREVER INFINITY

/* mp_version_string returns "MAJOR.MINOR.PATCH" of the library that is
 * linked, which may differ from the MP_VERSION_* macros a program was built
 * with. The string is static. */
MP_EXTERN const char *mp_version_string(void);

#ifdef __cplusplus
}
#endif
#endif /* MP_COMMON_H */
