/* worker.c - a worker process: its initializer, then claim, run and
 * commit chunks until the pool closes; and mp_task_result_alloc, which
 * only a running task may call. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mp/error.h"
#include "os/clock.h"
#include "pool/pool.h"

mp_pool *mp__pool_in_task;

/* The task running on this thread, for mp_task_result_alloc. */
static __thread struct {
    struct mp_async *job; /* NULL outside a task */
    uint32_t chunk;
    size_t item;
} task;

MP_EXTERN void *mp_task_result_alloc(size_t size)
{
    if (task.job == NULL) {
        errno = EPERM;
        return NULL;
    }
    return mp__job_result_put(task.job, task.chunk, task.item, size);
}

/* Run the claimed chunk. Results go straight into the job's slots; a
 * failing item records its code. When results overwrite the arguments in
 * place (mp__job_new), the task writes into a zeroed buffer of ours, so it
 * never sees its argument change under it, and the slot takes the result
 * afterwards. A chunk runs at most once (a dead worker's chunk fails), so
 * no argument is needed again once its item has run. */
static uint32_t run_chunk(struct mp__claim *cl)
{
    struct mp_async *j = cl->job;
    const char *arg = cl->args;
    char *res = cl->results;
    bool in_place = res != NULL && (const char *)res == arg;
    _Alignas(16) char tmp[MP__IN_PLACE_MAX];
    bool failed = false;
    task.job = j;
    task.chunk = cl->chunk;
    for (size_t i = cl->lo; i < cl->lo + cl->n; i++) {
        task.item = i;
        int rc;
        if (in_place) {
            memset(tmp, 0, j->result_size);
            rc = j->fn(arg, tmp);
            memcpy(res, tmp, j->result_size);
        } else {
            rc = j->fn(arg, res);
        }
        if (rc != 0)
            mp__pool_claim_status(cl, i, rc, &failed);
        if (arg != NULL)
            arg += j->arg_size;
        if (res != NULL)
            res += j->result_size;
    }
    task.job = NULL;
    return failed ? MP__CH_FAILED : MP__CH_OK;
}

_Noreturn void mp__pool_worker_main(mp_pool *p, int idx)
{
    struct mp__pool_slot *s = &p->slots[idx];
    mp__pool_in_task = p;
    if (p->initializer != NULL)
        p->initializer(p->initarg);
    atomic_store(&s->inited, 1);
    atomic_fetch_add(&p->inits, 1);

    size_t done = 0;
    struct mp__claim cl;
    mp__pool_lock(p, NULL);
    for (;;) {
        uint32_t state = atomic_load(&p->state);
        if (state == MP__POOL_TERMINATE)
            break;
        if (!mp__pool_claim(p, idx, &cl)) {
            if (state == MP__POOL_CLOSE)
                break; /* closed and nothing left (the claim drained the stack) */
            mp__pool_unlock(p);
            mp__pool_idle(p, idx, NULL);
            mp__pool_lock(p, NULL);
            continue;
        }
        /* No wake-up to pass on: every push woke a slot of its own, or
         * found them all busy (each will look again when it is done). */
        mp__pool_unlock(p);

        uint32_t st = MP__CH_DIED;
        if (mp__pool_chunk_ready(cl.job, cl.chunk)) {
            /* Never 0, which means "not running". */
            atomic_store(&s->run_since, (uint64_t)(mp__now() * 1e9) | 1);
            st = run_chunk(&cl);
        }

        /* From here the worker only commits and looks for the next chunk:
         * a submitter that pushes meanwhile need wake nobody else (unless
         * this is the worker's last chunk). */
        if (p->maxtasks == 0 || done + 1 < p->maxtasks)
            atomic_store(&s->sleep, MP__W_SEEKING);
        mp__pool_lock(p, NULL);
        bool complete = mp__pool_commit(p, idx, &cl, st);
        if (complete || cl.job->kind == MP__JOB_IMAP || cl.job->kind == MP__JOB_IMAP_UNORDERED) {
            /* Waiters to wake: not under the lock. */
            mp__pool_unlock(p);
            mp__pool_release(&cl, complete);
            mp__pool_lock(p, NULL);
        } else {
            mp__pool_release(&cl, false); /* not the last reference: the job is not complete */
        }
        if (p->maxtasks != 0 && ++done >= p->maxtasks)
            break; /* the supervisor forks a fresh worker in this place */
    }
    mp__pool_unlock(p);
    fflush(NULL);
    _exit(0);
}
