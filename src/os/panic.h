/* panic.h - the one way out when libmp finds its own bug. */
#ifndef MP_INTERNAL_PANIC_H
#define MP_INTERNAL_PANIC_H

/* mp__panic prints "libmp: panic: <message>" to stderr and aborts. Only for
 * conditions that can mean nothing but a libmp bug or corrupted shared
 * state: a pthread call returning EINVAL, a ring header that makes no sense.
 * Never for bad input from the user, which gets an MP_E* code. */
_Noreturn void mp__panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
