/* mp/error.h - libmp's error codes.
 *
 * Every call that can fail returns an int: 0 (MP_OK) on success, or a
 * negative code. Codes that name an errno condition equal -errno
 * (MP_EINVAL == -EINVAL); failures of the system come back as -errno as
 * well. The library's own conditions sit far from the errno range. */
#ifndef MP_ERROR_H
#define MP_ERROR_H

#include <errno.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The one table: XX(name, value, message). */
#define MP_ERRNO_MAP(XX)                                                                 \
    XX(OK, 0, "success")                                                                 \
    XX(ETIMEDOUT, -ETIMEDOUT, "the wait ran out")                                        \
    XX(EEMPTY, -30001, "queue is empty")                                                 \
    XX(EFULL, -30002, "queue is full")                                                   \
    XX(ECLOSED, -30003, "object is closed")                                              \
    XX(EEOF, -30004, "end of file: the other end is closed")                             \
    XX(EMSGSIZE, -EMSGSIZE, "message too large for the buffer or the object")            \
    XX(EINVAL, -EINVAL, "invalid argument")                                              \
    XX(ESTATE, -30005, "call not valid in the object's current state")                   \
    XX(EVALUE, -30006, "released too many times")                                        \
    XX(ENOTOWNER, -30007, "not owned by the calling thread")                             \
    XX(EOWNERDEAD, -30008, "acquired; the previous holder died while holding it")        \
    XX(EBROKEN, -30009, "barrier is broken, or the pool cannot run work")                \
    XX(ETASK, -30010, "the task returned an error")                                      \
    XX(EWORKERDIED, -30011, "the worker running the task died")                          \
    XX(EAUTH, -30012, "authentication failed")                                           \
    XX(ENOMEM, -ENOMEM, "out of memory")                                                 \
    XX(ECANCELED, -ECANCELED, "the work was cancelled before it started")                \
    XX(ENOENT, -ENOENT, "no such key")                                                   \
    XX(ERANGE, -ERANGE, "index out of range")

enum {
#define MP__ERR_ENUM(name, value, msg) MP_##name = (value),
    MP_ERRNO_MAP(MP__ERR_ENUM)
#undef MP__ERR_ENUM
};

/* mp_strerror returns a static message for any libmp code, the system's
 * message for any other -errno value, and "unknown error" otherwise. */
MP_EXTERN const char *mp_strerror(int code);

/* mp_err_name returns the code's name ("MP_EFULL", "MP_EINVAL"; "EPIPE" style
 * for other -errno values), or "UNKNOWN". The string is static. */
MP_EXTERN const char *mp_err_name(int code);

#ifdef __cplusplus
}
#endif
#endif /* MP_ERROR_H */
