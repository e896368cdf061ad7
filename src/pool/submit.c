/* submit.c - putting work into the pool: apply, map and imap, and the
 * debugging check (MP_DEBUG_POINTERS=1) of argument bytes that look like
 * pointers into private memory.
 *
 * A submission is one job block in the shared heap (pool.h), however many
 * items it has: its arguments are copied in once, it is pushed on the
 * pool's incoming stack with one CAS (no lock: a stopped worker never
 * delays a submission) and idle workers are woken. */
#include <errno.h>
#include <inttypes.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heap/heap.h"
#include "mp/error.h"
#include "os/futex.h"
#include "os/thread.h"
#include "pool/pool.h"

/* Argument checks shared by every submission: a pool and a function, an
 * argument array exactly when the items have bytes, and (for a map of n
 * items, n > 0) an array at all. */
static bool bad_submit(mp_pool *p, mp_task_fn fn, const void *args, size_t n, size_t arg_size,
                       bool is_map)
{
    if (p == NULL || fn == NULL || (args != NULL && arg_size == 0))
        return true;
    return n > 0 && args == NULL && (arg_size > 0 || is_map);
}

/* Why the pool takes no work now: 0, MP_ESTATE (a task of the pool would
 * wait for itself), MP_ECLOSED (closed or terminated), MP_EBROKEN. */
static int refuses(mp_pool *p)
{
    if (mp__pool_in_task == p)
        return MP_ESTATE;
    if (atomic_load(&p->state) != MP__POOL_RUN)
        return MP_ECLOSED;
    if (atomic_load(&p->broken) == MP__BROKEN_START)
        return MP_EBROKEN;
    return 0;
}

/* The errno an _async form reports for a refusal (see mp/pool.h), and
 * back for the blocking forms. */
static int errno_of(int code)
{
    switch (code) {
    case MP_ECLOSED:
        return EPIPE;
    case MP_EBROKEN:
        return ENOTRECOVERABLE;
    case MP_ESTATE:
        return EDEADLK;
    default:
        return -code;
    }
}

static int code_of(int err)
{
    switch (err) {
    case EPIPE:
        return MP_ECLOSED;
    case ENOTRECOVERABLE:
        return MP_EBROKEN;
    case EDEADLK:
    case EPERM:
        return MP_ESTATE;
    default:
        return -err;
    }
}

/* ---- MP_DEBUG_POINTERS ---------------------------------------------------- */

/* The check reads /proc/self/maps, so it looks at no more than this many
 * argument bytes per submission: a debugging aid, not a free one. */
#define DEBUG_SCAN_BYTES (64u * 1024u)

/* Private mappings it remembers; more are not looked at. */
#define DEBUG_MAX_RANGES 256

/* Whether MP_DEBUG_POINTERS=1 is set: read once per process (a forked
 * child reads it again), kept as fork generation << 2 | known | on. */
static bool debug_pointers(void)
{
    static _Atomic uint64_t cache;
    uint64_t gen = mp__fork_generation();
    uint64_t v = atomic_load_explicit(&cache, memory_order_relaxed);
    if ((v & 2) && v >> 2 == gen)
        return v & 1;
    const char *e = getenv("MP_DEBUG_POINTERS");
    bool on = e != NULL && strcmp(e, "1") == 0;
    atomic_store_explicit(&cache, gen << 2 | 2 | on, memory_order_relaxed);
    return on;
}

struct range {
    uintptr_t lo, hi;
};

/* The private mappings of this process: anonymous memory, the malloc heap
 * and stacks (a worker forked earlier sees none of their later changes).
 * File mappings (the program, libraries) and shared memory are left out;
 * so is a program's bss, by segment_has. */
static int private_ranges(struct range *r, int cap)
{
    FILE *f = fopen("/proc/self/maps", "re");
    if (f == NULL)
        return 0;
    int n = 0;
    char line[512];
    while (n < cap && fgets(line, sizeof line, f) != NULL) {
        uintptr_t lo, hi;
        char perms[8];
        int path = 0;
        if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %7s %*s %*s %*s %n", &lo, &hi, perms, &path) <
                3 ||
            perms[3] != 'p')
            continue;
        const char *name = path > 0 ? line + path : "";
        if (name[0] == '/' || strncmp(name, "[v", 2) == 0)
            continue; /* a file, or [vdso], [vvar], [vsyscall] */
        r[n++] = (struct range){lo, hi};
    }
    fclose(f);
    return n;
}

/* Whether v lies in a loaded segment of the program or a library (its
 * code, data and bss): the workers have those as they were at the fork,
 * which is what the pointer rule allows. */
static int segment_has(struct dl_phdr_info *info, size_t size, void *v)
{
    (void)size;
    uintptr_t a = *(uintptr_t *)v;
    for (int k = 0; k < info->dlpi_phnum; k++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[k];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && a >= lo && a < lo + ph->p_memsz)
            return 1;
    }
    return 0;
}

/* Warn, once per process, when a word of the arguments holds an address
 * in private memory: the task would read it in another process. */
static void debug_check(const void *args, size_t len)
{
    static _Atomic bool warned;
    if (args == NULL || !debug_pointers() || atomic_load(&warned))
        return;
    struct range r[DEBUG_MAX_RANGES];
    int nr = -1;
    if (len > DEBUG_SCAN_BYTES)
        len = DEBUG_SCAN_BYTES;
    for (size_t off = 0; off + sizeof(uintptr_t) <= len; off += sizeof(uintptr_t)) {
        uintptr_t v;
        memcpy(&v, (const char *)args + off, sizeof v);
        if (v < 4096 || mp__heap_contains((const void *)v))
            continue;
        if (nr < 0)
            nr = private_ranges(r, DEBUG_MAX_RANGES);
        for (int k = 0; k < nr; k++) {
            if (v < r[k].lo || v >= r[k].hi || dl_iterate_phdr(segment_has, &v) != 0)
                continue;
            if (atomic_exchange(&warned, true))
                return;
            fprintf(stderr,
                    "libmp: MP_DEBUG_POINTERS: argument byte %zu holds %p, an address in this "
                    "process's private memory; the task runs in a worker process, which does "
                    "not see it as it is now. Pass the values themselves, or a pointer into the "
                    "shared heap (mp_shared_malloc). Reported once.\n",
                    off, (void *)v);
            return;
        }
    }
}

/* ---- submission ----------------------------------------------------------- */

/* Copy a queued job's arguments in, a few chunks at a time, publishing
 * each step so the workers that claimed them can start (sched.c
 * mp__pool_chunk_ready). Copying into fresh shared pages costs a page
 * allocation per 4 KiB, about as much as a cold map's whole work:
 * overlapping it with the workers nearly halves a big map. Each step is
 * at least MP__PIPELINE_STEP bytes, so tiny chunks do not cost a wake-up
 * each. Nothing to do for a job copied by mp__job_new. */
static void copy_in(struct mp_async *j, const void *args)
{
    uint32_t c = atomic_load(&j->ready);
    if (c == j->nchunks)
        return;
    size_t per = j->chunksize * j->arg_size; /* > 0: a job with no bytes is copied already */
    uint32_t step = per >= MP__PIPELINE_STEP ? 1 : (uint32_t)(MP__PIPELINE_STEP / per);
    while (c < j->nchunks) {
        uint32_t e = j->nchunks - c > step ? c + step : j->nchunks;
        size_t off = (size_t)c * per;
        size_t end = e == j->nchunks ? j->n * j->arg_size : (size_t)e * per;
        memcpy(j->args + off, (const char *)args + off, end - off);
        atomic_store_explicit(&j->ready, e, memory_order_release);
        if (atomic_load(&j->ready_waiters) > 0)
            mp__futex_wake(&j->ready, INT32_MAX);
        c = e;
    }
}

/* Build a job and submit it: the end of every submission, once its
 * arguments are checked. Returns the job, or NULL with errno set: EPIPE
 * (closed), ENOTRECOVERABLE (broken), EDEADLK (from one of the pool's own
 * tasks), EPERM (callbacks outside the pool's creator), ENOMEM, EINVAL
 * (a task the pool does not admit: p->admit). */
static struct mp_async *job_start(mp_pool *p, size_t hdr_size, int kind, mp_task_fn fn,
                                  const void *args, size_t n, size_t arg_size, size_t result_size,
                                  size_t chunksize, const mp_callbacks *cb)
{
    /* A pool may take only some tasks (a cluster: registered ones). */
    if (p->admit != NULL && p->admit(fn, arg_size, result_size) != 0) {
        errno = EINVAL;
        return NULL;
    }
    int rc = refuses(p);
    if (rc != 0) {
        errno = errno_of(rc);
        return NULL;
    }
    struct mp_async *j =
        mp__job_new(p, hdr_size, kind, fn, args, n, arg_size, result_size, chunksize);
    if (j == NULL)
        return NULL;
    if (cb != NULL && (cb->callback != NULL || cb->error_callback != NULL)) {
        j->cb = *cb;
        j->has_cb = true;
        rc = mp__pool_cb_register(p, j);
        if (rc != 0) {
            atomic_store(&j->refs, 1); /* nobody else has seen it */
            mp__job_unref(j);
            errno = rc == MP_ESTATE ? EPERM : -rc;
            return NULL;
        }
    }
    debug_check(args, n * arg_size);
    if (j->nchunks == 0) {
        /* Nothing to run: complete now (callbacks still run). */
        if (mp__job_try_complete(j))
            mp__job_completed_wake(j);
        return j;
    }
    mp__pool_push(p, j);
    mp__pool_wake_idle(p, j->nchunks);
    copy_in(j, args);
    return j;
}

MP_EXTERN mp_async *mp_pool_apply_async(mp_pool *p, mp_task_fn fn, const void *arg, size_t arg_size,
                                        size_t result_size, const mp_callbacks *cb)
{
    if (bad_submit(p, fn, arg, 1, arg_size, false)) {
        errno = EINVAL;
        return NULL;
    }
    return job_start(p, sizeof(struct mp_async), MP__JOB_APPLY, fn, arg, 1, arg_size, result_size,
                     1, cb);
}

MP_EXTERN int mp_pool_apply(mp_pool *p, mp_task_fn fn, const void *arg, size_t arg_size,
                            void *result, size_t result_size)
{
    if (bad_submit(p, fn, arg, 1, arg_size, false) || (result == NULL && result_size > 0))
        return MP_EINVAL;
    mp_async *a = mp_pool_apply_async(p, fn, arg, arg_size, result_size, NULL);
    if (a == NULL)
        return code_of(errno);
    int rc = mp_async_get(a, result, MP_FOREVER);
    mp_async_free(a);
    return rc;
}

/* Checks and submits a map-shaped job (map_async, imap, imap_unordered).
 * Returns it, or NULL with errno set (EINVAL, and those of job_start). */
static struct mp_async *map_start(mp_pool *p, size_t hdr_size, int kind, mp_task_fn fn,
                                  const void *args, size_t n, size_t arg_size, size_t result_size,
                                  size_t chunksize, const mp_callbacks *cb)
{
    if (bad_submit(p, fn, args, n, arg_size, true)) {
        errno = EINVAL;
        return NULL;
    }
    return job_start(p, hdr_size, kind, fn, args, n, arg_size, result_size, chunksize, cb);
}

MP_EXTERN mp_async *mp_pool_map_async(mp_pool *p, mp_task_fn fn, const void *args, size_t n,
                                      size_t arg_size, size_t result_size, size_t chunksize,
                                      const mp_callbacks *cb)
{
    return map_start(p, sizeof(struct mp_async), MP__JOB_MAP, fn, args, n, arg_size, result_size,
                     chunksize, cb);
}

MP_EXTERN int mp_pool_map(mp_pool *p, mp_task_fn fn, const void *args, size_t n, size_t arg_size,
                          void *results, size_t result_size, size_t chunksize)
{
    if (bad_submit(p, fn, args, n, arg_size, true) || (n > 0 && results == NULL && result_size > 0))
        return MP_EINVAL;
    int rc = refuses(p);
    if (rc != 0 || n == 0)
        return rc;
    mp_async *a = mp_pool_map_async(p, fn, args, n, arg_size, result_size, chunksize, NULL);
    if (a == NULL)
        return code_of(errno);
    rc = mp_async_get(a, results, MP_FOREVER);
    mp_async_free(a);
    return rc;
}

MP_EXTERN mp_imap *mp_pool_imap(mp_pool *p, mp_task_fn fn, const void *args, size_t n,
                                size_t arg_size, size_t result_size, size_t chunksize)
{
    return (mp_imap *)map_start(p, sizeof(struct mp_imap), MP__JOB_IMAP, fn, args, n, arg_size,
                                result_size, chunksize, NULL);
}

MP_EXTERN mp_imap *mp_pool_imap_unordered(mp_pool *p, mp_task_fn fn, const void *args, size_t n,
                                          size_t arg_size, size_t result_size, size_t chunksize)
{
    return (mp_imap *)map_start(p, sizeof(struct mp_imap), MP__JOB_IMAP_UNORDERED, fn, args, n,
                                arg_size, result_size, chunksize, NULL);
}
