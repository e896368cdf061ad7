/* registry.c - the cluster's task table: tasks registered by name, so
 * that a chunk names its task the same way on every rank.
 *
 * Function addresses differ between ranks (ASLR: &square was
 * 0x561d8d9883f0 on one rank and 0x55a46f84d3f0 on another), so a chunk
 * carries the task's index in the table sorted by name, which is the same
 * on every rank once the tables are equal (mp_cluster_init compares their
 * digests). Registrations come from MP_TASK constructors, before main and
 * maybe before libmp's own start-up code ran, so the table is guarded by
 * a plain pthread mutex in private memory (libmp's own lock wants thread
 * ids set up at load) and is frozen, read-only, from mp_cluster_init on. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster.h"
#include "crypto/sha256.h"
#include "mp/error.h"

/* The longest name: a name is a C identifier in practice. */
#define NAME_MAX_BYTES 255

static struct {
    pthread_mutex_t mu;     /* guards everything until frozen */
    struct mp__task *v;     /* by name once frozen */
    size_t n, cap;          /* count, allocated */
    struct mp__task **byfn; /* frozen: pointers into v sorted by fn */
    int error;              /* a registration failed (MP_EINVAL) */
    _Atomic bool frozen;    /* mp__task_freeze ran: read-only */
} reg = {.mu = PTHREAD_MUTEX_INITIALIZER};

MP_EXTERN int mp_task_register(const char *name, mp_task_fn fn, size_t arg_size, size_t result_size)
{
    if (atomic_load(&reg.frozen))
        return MP_ESTATE;
    size_t len = name != NULL ? strnlen(name, NAME_MAX_BYTES + 1) : 0;
    int rc = 0;
    pthread_mutex_lock(&reg.mu);
    if (atomic_load(&reg.frozen)) {
        rc = MP_ESTATE;
        goto out_unlock;
    }
    if (len == 0 || len > NAME_MAX_BYTES || fn == NULL) {
        rc = MP_EINVAL;
        goto out_error;
    }
    for (size_t i = 0; i < reg.n; i++) {
        const struct mp__task *t = &reg.v[i];
        bool same_name = strcmp(t->name, name) == 0;
        if (!same_name && t->fn != fn)
            continue;
        /* Registering the same thing twice is harmless; a name or a
         * function that would mean two things is not. */
        if (same_name && t->fn == fn && t->arg_size == arg_size && t->result_size == result_size)
            goto out_unlock;
        rc = MP_EINVAL;
        goto out_error;
    }
    if (reg.n == reg.cap) {
        size_t cap = reg.cap ? reg.cap * 2 : 16;
        struct mp__task *v = realloc(reg.v, cap * sizeof *v);
        if (v == NULL) {
            rc = MP_ENOMEM;
            goto out_error;
        }
        reg.v = v;
        reg.cap = cap;
    }
    char *copy = strdup(name);
    if (copy == NULL) {
        rc = MP_ENOMEM;
        goto out_error;
    }
    reg.v[reg.n++] = (struct mp__task){copy, fn, arg_size, result_size};
    goto out_unlock;

out_error:
    /* Remembered, so a failure inside MP_TASK (which cannot report it)
     * still stops mp_cluster_init. */
    reg.error = MP_EINVAL;
out_unlock:
    pthread_mutex_unlock(&reg.mu);
    return rc;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct mp__task *)a)->name, ((const struct mp__task *)b)->name);
}

static int by_fn(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)(*(struct mp__task *const *)a)->fn;
    uintptr_t y = (uintptr_t)(*(struct mp__task *const *)b)->fn;
    return (x > y) - (x < y);
}

int mp__task_freeze(void)
{
    pthread_mutex_lock(&reg.mu);
    int rc = reg.error;
    if (rc == 0 && !atomic_load(&reg.frozen)) {
        qsort(reg.v, reg.n, sizeof *reg.v, by_name);
        reg.byfn = malloc((reg.n ? reg.n : 1) * sizeof *reg.byfn);
        if (reg.byfn == NULL) {
            rc = MP_EINVAL;
        } else {
            for (size_t i = 0; i < reg.n; i++)
                reg.byfn[i] = &reg.v[i];
            qsort(reg.byfn, reg.n, sizeof *reg.byfn, by_fn);
        }
    }
    /* Frozen even on failure: mp_cluster_init runs once. */
    atomic_store(&reg.frozen, true);
    pthread_mutex_unlock(&reg.mu);
    return rc;
}

void mp__task_digest(unsigned char out[32])
{
    mp__sha256_ctx c;
    mp__sha256_init(&c);
    uint64_t n = reg.n;
    mp__sha256_update(&c, &n, sizeof n);
    for (size_t i = 0; i < reg.n; i++) {
        const struct mp__task *t = &reg.v[i];
        uint64_t sizes[2] = {t->arg_size, t->result_size};
        mp__sha256_update(&c, t->name, strlen(t->name) + 1);
        mp__sha256_update(&c, sizes, sizeof sizes);
    }
    mp__sha256_final(&c, out);
}

const struct mp__task *mp__task_at(uint32_t i)
{
    return atomic_load(&reg.frozen) && i < reg.n ? &reg.v[i] : NULL;
}

int mp__task_find(mp_task_fn fn, uint32_t *index)
{
    if (!atomic_load(&reg.frozen) || reg.byfn == NULL)
        return MP_EINVAL;
    size_t lo = 0, hi = reg.n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uintptr_t f = (uintptr_t)reg.byfn[mid]->fn;
        if (f == (uintptr_t)fn) {
            *index = (uint32_t)(reg.byfn[mid] - reg.v);
            return 0;
        }
        if (f < (uintptr_t)fn)
            lo = mid + 1;
        else
            hi = mid;
    }
    return MP_EINVAL;
}

int mp__task_admit(mp_task_fn fn, size_t arg_size, size_t result_size)
{
    uint32_t i;
    if (mp__task_find(fn, &i) != 0)
        return MP_EINVAL;
    const struct mp__task *t = &reg.v[i];
    if ((t->arg_size != MP_TASK_ANY_SIZE && t->arg_size != arg_size) ||
        (t->result_size != MP_TASK_ANY_SIZE && t->result_size != result_size))
        return MP_EINVAL;
    return 0;
}
