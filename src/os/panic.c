/* panic.c - report a libmp bug and abort. */
#include "os/panic.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

_Noreturn void mp__panic(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* stdio may be in any state here: write(2) the line in one call. */
    char line[600];
    int n = snprintf(line, sizeof line, "libmp: panic: %s (pid %d)\n", msg, (int)getpid());
    if (n > 0) {
        ssize_t w = write(STDERR_FILENO, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
        (void)w;
    }
    abort();
}
