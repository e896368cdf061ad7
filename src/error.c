/* error.c - names and messages for every libmp code, from the one table. */
#include "mp/error.h"

#include <string.h>

#define MP__STR(x) #x
#define MP__XSTR(x) MP__STR(x)

MP_EXTERN const char *mp_version_string(void)
{
    return MP__XSTR(MP_VERSION_MAJOR) "." MP__XSTR(MP_VERSION_MINOR) "." MP__XSTR(MP_VERSION_PATCH);
}

MP_EXTERN const char *mp_strerror(int code)
{
    switch (code) {
#define MP__ERR_MSG(name, value, msg)                                                    \
    case MP_##name:                                                                      \
        return msg;
        MP_ERRNO_MAP(MP__ERR_MSG)
#undef MP__ERR_MSG
    default:
        break;
    }
    /* Any other -errno from a failed system call: the system's words. */
    if (code < 0 && code > -4096) {
        const char *desc = strerrordesc_np(-code);
        if (desc != NULL)
            return desc;
    }
    return "unknown error";
}

MP_EXTERN const char *mp_err_name(int code)
{
    switch (code) {
#define MP__ERR_NAME(name, value, msg)                                                   \
    case MP_##name:                                                                      \
        return "MP_" #name;
        MP_ERRNO_MAP(MP__ERR_NAME)
#undef MP__ERR_NAME
    default:
        break;
    }
    if (code < 0 && code > -4096) {
        const char *name = strerrorname_np(-code);
        if (name != NULL)
            return name;
    }
    return "UNKNOWN";
}
