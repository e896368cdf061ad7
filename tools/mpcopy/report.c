/* report.c - what mpcopy prints besides the bar: error lines on stderr and
 * the -v list on stdout, with names quoted the way cp quotes them, so that a
 * name holding a newline or an escape sequence stays on one line and cannot
 * drive the terminal. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpcopy.h"

/* Write all of buf (a pipe may take it in parts). */
static void write_all(int fd, const char *buf, size_t n)
{
    for (size_t done = 0; done < n;) {
        ssize_t w = write(fd, buf + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        done += (size_t)w;
    }
}

void mpc_msg(const char *fmt, ...)
{
    /* The whole line is built first and written at once, so the lines of
     * different workers never mix, and a long path never pushes the
     * reason out of a fixed buffer. */
    char small[1024];
    const char *head = mpc.bar ? "\r\033[Kmpcopy: " : "mpcopy: ";
    size_t hl = strlen(head);
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (k < 0)
        return;
    size_t n = hl + (size_t)k + 1;
    char *buf = n + 1 <= sizeof small ? small : malloc(n + 1);
    if (buf == NULL)
        return;
    memcpy(buf, head, hl);
    va_start(ap, fmt);
    vsnprintf(buf + hl, (size_t)k + 1, fmt, ap);
    va_end(ap);
    buf[n - 1] = '\n';
    write_all(STDERR_FILENO, buf, n);
    if (buf != small)
        free(buf);
}

/* "root/rel/name" (the parts that are there) in a malloc'd string. */
static char *join3(const char *root, const char *rel, const char *name)
{
    bool r = rel != NULL && *rel != '\0';
    bool nm = name != NULL && *name != '\0';
    size_t n = strlen(root) + (r ? strlen(rel) + 1 : 0) + (nm ? strlen(name) + 1 : 0) + 1;
    char *p = malloc(n);
    if (p != NULL)
        snprintf(p, n, "%s%s%s%s%s", root, r ? "/" : "", r ? rel : "", nm ? "/" : "",
                 nm ? name : "");
    return p;
}

void mpc_fail_why(const char *root, const char *rel, const char *name, const char *why)
{
    char *path = join3(root, rel, name);
    char *q = NULL;
    if (path != NULL) {
        size_t n = mpc_quote(NULL, 0, path, true) + 1;
        if ((q = malloc(n)) != NULL)
            mpc_quote(q, n, path, true);
    }
    mpc_msg("%s: %s", q ? q : root, why);
    free(q);
    free(path);
    atomic_fetch_add_explicit(&mpc_count->failed, 1, memory_order_relaxed);
}

void mpc_fail(const char *root, const char *rel, const char *name, int err)
{
    mpc_fail_why(root, rel, name, strerror(err));
}

/* ---- quoting ----------------------------------------------------------- */

/* Bytes of the UTF-8 character at s when it is valid and printable (no C1
 * control), else 0. */
static size_t utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    size_t n;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp < 0xa0)
        return 0;
    return n;
}

/* Bytes of the printable character at s (0: it needs an escape). */
static size_t printable(const unsigned char *s)
{
    if (*s >= 0x20 && *s < 0x7f)
        return 1;
    return *s >= 0x80 && mpc.utf8 ? utf8_len(s) : 0;
}

struct out {
    char *buf;
    size_t cap, len; /* len counts what did not fit too */
};

static void put(struct out *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++, o->len++)
        if (o->len + 1 < o->cap)
            o->buf[o->len] = s[i];
}

static void put_escape(struct out *o, unsigned char c)
{
    static const char letters[] = "abtnvfr"; /* \a (7) to \r (13) */
    char e[5] = {'\\', 0, 0, 0, 0};
    if (c >= 7 && c <= 13) {
        e[1] = letters[c - 7];
        put(o, e, 2);
    } else {
        e[1] = (char)('0' + (c >> 6));
        e[2] = (char)('0' + ((c >> 3) & 7));
        e[3] = (char)('0' + (c & 7));
        put(o, e, 4);
    }
}

size_t mpc_quote(char *buf, size_t cap, const char *s, bool only_if_needed)
{
    const unsigned char *u = (const unsigned char *)s;
    bool special = false, squote = false, dq_unsafe = false;
    for (size_t i = 0; u[i];) {
        size_t n = printable(u + i);
        if (n == 0) {
            special = true;
            n = 1;
        } else if (u[i] == '\'') {
            squote = true;
        } else if (strchr("\"$`\\", u[i]) != NULL) {
            dq_unsafe = true;
        }
        i += n;
    }
    struct out o = {buf, cap, 0};
    if (!special && only_if_needed) {
        put(&o, s, strlen(s));
    } else if (!special && squote && !dq_unsafe) {
        put(&o, "\"", 1); /* it's -> "it's", as cp writes it */
        put(&o, s, strlen(s));
        put(&o, "\"", 1);
    } else {
        /* '...' for printable runs, $'...' for escapes: a'$'\n''b */
        bool dollar = false;
        put(&o, "'", 1);
        for (size_t i = 0; u[i];) {
            size_t n = printable(u + i);
            if (n == 0) {
                if (!dollar)
                    put(&o, "'$'", 3);
                dollar = true;
                put_escape(&o, u[i]);
                n = 1;
            } else if (u[i] == '\'') {
                put(&o, "'\\''", 4); /* closes either kind of quote */
                dollar = false;
            } else {
                if (dollar)
                    put(&o, "''", 2);
                dollar = false;
                put(&o, s + i, n);
            }
            i += n;
        }
        put(&o, "'", 1);
    }
    if (cap > 0)
        buf[o.len < cap ? o.len : cap - 1] = '\0';
    return o.len;
}

/* ---- -v lines ----------------------------------------------------------- */

void mpc_vflush(struct mpc_vout *v)
{
    write_all(STDOUT_FILENO, v->buf, v->len);
    v->len = 0;
}

void mpc_vline(struct mpc_vout *v, const char *rel, const char *name)
{
    char small[1024];
    size_t pn = strlen(rel) + strlen(name) + 2;
    char *path = pn <= sizeof small ? small : malloc(pn);
    if (path == NULL)
        return;
    snprintf(path, pn, "%s%s%s", rel, *rel ? "/" : "", name);
    size_t need = mpc_quote(NULL, 0, path, false) + 2; /* newline, NUL */
    if (v->len + need > sizeof v->buf)
        mpc_vflush(v);
    if (need <= sizeof v->buf) {
        mpc_quote(v->buf + v->len, need, path, false);
        v->len += need - 1;
        v->buf[v->len - 1] = '\n';
    } else {
        char *q = malloc(need);
        if (q != NULL) {
            mpc_quote(q, need, path, false);
            q[need - 2] = '\n';
            write_all(STDOUT_FILENO, q, need - 1);
            free(q);
        }
    }
    if (path != small)
        free(path);
}
