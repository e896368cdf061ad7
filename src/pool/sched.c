/* sched.c - what every claimer of chunks shares: the pool lock and its
 * repair, the incoming stack and the run queue, claim and commit, failing
 * chunks, and the idle protocol of slots. Local workers run on it, and so
 * can a thread that runs chunks elsewhere (pool.h, "claim/commit").
 *
 * Submitters never take the lock: they push onto the incoming stack (one
 * CAS) and wake an idle slot. Whoever takes the lock to claim first moves
 * the whole stack into the FIFO run queue, oldest first. */
#include <errno.h>
#include <string.h>

#include "mp/error.h"
#include "os/alive.h"
#include "os/futex.h"
#include "os/log.h"
#include "os/thread.h"
#include "pool/pool.h"
#include "sync/wait.h"

/* ---- the incoming stack and the run queue ------------------------------ */

void mp__pool_push(mp_pool *p, struct mp_async *j)
{
    struct mp_async *h = atomic_load_explicit(&p->incoming, memory_order_relaxed);
    do
        j->in_next = h;
    while (!atomic_compare_exchange_weak(&p->incoming, &h, j));
}

bool mp__pool_work_visible(mp_pool *p)
{
    return atomic_load(&p->incoming) != NULL || atomic_load(&p->head) != NULL;
}

/* Append the chain h (newest first, through in_next) to the run queue,
 * oldest first. Every store is absolute, so replaying a splice that was
 * cut short by a death gives the same queue (the journal's drain). */
static void splice(mp_pool *p, struct mp_async *h)
{
    struct mp_async *first = NULL;
    for (struct mp_async *j = h, *older; j != NULL; j = older) {
        /* Read the block before writing it: a job is often the first
         * this process touches on its page, and a read fault maps the
         * neighbouring pages the submitter filled too (the kernel's
         * fault-around) where a write fault maps one page. */
        older = j->in_next;
        atomic_signal_fence(memory_order_seq_cst); /* keeps the read first */
        j->next = first;
        first = j;
    }
    if (p->tail == h)
        return; /* appended already: a replay after the tail store */
    if (p->tail != NULL)
        p->tail->next = first;
    else
        atomic_store(&p->head, first);
    p->tail = h;
}

/* Move the incoming stack into the run queue (lock held). The chain is
 * recorded in the journal before it leaves the stack, so a holder that
 * dies on the way loses nothing. */
static void drain(mp_pool *p)
{
    struct mp_async *h = atomic_load(&p->incoming);
    if (h == NULL)
        return;
    do
        p->jr.drain = h;
    while (!atomic_compare_exchange_weak(&p->incoming, &h, NULL));
    splice(p, h);
    p->jr.drain = NULL;
}

/* Unlink the run queue's first job, j, and drop the queue's reference on
 * it (lock held). Tail first, so a half-done unlink leaves a valid list. */
static void unlink_head(mp_pool *p, struct mp_async *j)
{
    struct mp_async *next = j->next;
    if (next == NULL)
        p->tail = NULL;
    atomic_store(&p->head, next);
    mp__job_unref(j);
}

/* ---- commit ------------------------------------------------------------ */

/* A commit's stores after the state change: its place in the commit order
 * and the count. Absolute values, so a replay is harmless. */
static void commit_stores(struct mp_async *j, uint32_t c, uint32_t d)
{
    j->order[d] = c + 1;
    atomic_store(&j->ndone, d + 1); /* seq_cst: pairs with cancel's count */
}

bool mp__pool_finish(mp_pool *p, struct mp_async *j, uint32_t c, uint32_t st)
{
    uint32_t cur = atomic_load(&j->chunk_st[c]);
    if (mp__ch_final(cur))
        return false;
    struct mp__pool_journal *jr = &p->jr;
    uint32_t d = atomic_load_explicit(&j->ndone, memory_order_relaxed);
    jr->chunk = c;
    jr->st = st;
    jr->done = d;
    jr->tid = mp__tid();
    atomic_store_explicit(&jr->job, j, memory_order_release);
    /* A CAS: an unclaimed chunk may be cancelled meanwhile (no lock). */
    bool complete = false;
    if (atomic_compare_exchange_strong(&j->chunk_st[c], &cur, st)) {
        commit_stores(j, c, d);
        complete = mp__job_try_complete(j);
    }
    atomic_store_explicit(&jr->job, NULL, memory_order_release);
    return complete;
}

/* True when j is on the due-callback list (lock held: the callback thread
 * takes the list only under the lock, so it cannot change but by pushes
 * in front). */
static bool cb_listed(mp_pool *p, const struct mp_async *j)
{
    for (struct mp_async *x = atomic_load(&p->cb_head); x != NULL; x = atomic_load(&x->cb_next))
        if (x == j)
            return true;
    return false;
}

/* The lock was taken from a holder that died: finish what its journal
 * says it was doing. A drain: splice the chain unless it never left the
 * stack. A commit: redo the stores if the state changed, complete the job
 * if nobody did, and redo the hand-over to the callback thread if the
 * dead holder completed it but may not have pushed it. */
static void repair(mp_pool *p)
{
    struct mp__pool_journal *jr = &p->jr;
    if (jr->drain != NULL) {
        bool still_incoming = false;
        for (struct mp_async *x = atomic_load(&p->incoming); x != NULL; x = x->in_next)
            if (x == jr->drain)
                still_incoming = true;
        if (!still_incoming)
            splice(p, jr->drain);
        jr->drain = NULL;
    }
    struct mp_async *j = atomic_load(&jr->job);
    if (j == NULL)
        return;
    bool wake = false;
    if (atomic_load(&j->chunk_st[jr->chunk]) == jr->st) {
        if (atomic_load(&j->ndone) == jr->done)
            commit_stores(j, jr->chunk, jr->done);
        uint32_t who = atomic_load(&j->completed);
        if (who == 0) {
            wake = mp__job_try_complete(j);
        } else if (who == (uint32_t)jr->tid) {
            if (j->has_cb && atomic_load(&j->cb_state) == MP__CB_NONE && !cb_listed(p, j))
                mp__job_cb_push(j);
            wake = true; /* its wake-ups may be missing too; extra ones are harmless */
        }
    }
    atomic_store(&jr->job, NULL);
    if (wake)
        mp__job_completed_wake(j);
}

int mp__pool_lock(mp_pool *p, const mp__deadline *d)
{
    int rc = d != NULL ? mp__lock_acquire(&p->lock, d) : mp__lock_hold(&p->lock);
    if (rc == MP_EOWNERDEAD) {
        mp__log(MP_LOG_WARN, "pool %p: its lock was taken over from a dead holder%s", (void *)p,
                atomic_load(&p->jr.job) != NULL || p->jr.drain != NULL ? "; its journal replayed"
                                                                       : "");
        repair(p);
        rc = 0;
    }
    return rc;
}

void mp__pool_unlock(mp_pool *p)
{
    mp__lock_release(&p->lock);
}

/* ---- claim and commit -------------------------------------------------- */

bool mp__pool_claim(mp_pool *p, int slot, struct mp__claim *cl)
{
    struct mp__pool_slot *s = &p->slots[slot];
    /* Seeking, before looking at the stack (seq_cst): a submitter that
     * pushes meanwhile and sees it needs to wake nobody. */
    atomic_store(&s->sleep, MP__W_SEEKING);
    drain(p);
    struct mp_async *j;
    while ((j = atomic_load_explicit(&p->head, memory_order_relaxed)) != NULL) {
        while (j->next_chunk < j->nchunks) {
            uint32_t c = j->next_chunk;
            uint32_t pend = MP__CH_PENDING;
            if (atomic_load_explicit(&j->chunk_st[c], memory_order_relaxed) == pend) {
                /* Record the claim in the slot before marking the chunk,
                 * so that whoever finds this claimer dead can fail it; a
                 * slot naming a chunk it never marked fails nothing. */
                atomic_fetch_add(&j->refs, 1);
                s->chunk = c;
                s->job = j;
                if (atomic_compare_exchange_strong(&j->chunk_st[c], &pend,
                                                   MP__CH_CLAIMED | (uint32_t)slot)) {
                    atomic_store_explicit(&s->sleep, MP__W_ACTIVE, memory_order_relaxed);
                    j->next_chunk = c + 1;
                    if (c + 1 == j->nchunks)
                        unlink_head(p, j); /* the claim's reference keeps it */
                    cl->job = j;
                    cl->chunk = c;
                    size_t hi;
                    mp__job_item_range(j, c, &cl->lo, &hi);
                    cl->n = hi - cl->lo;
                    cl->args = j->arg_size ? j->args + cl->lo * j->arg_size : NULL;
                    cl->results = j->result_size ? j->results + cl->lo * j->result_size : NULL;
                    return true;
                }
                s->job = NULL; /* cancelled first; the queue's reference keeps j */
                atomic_fetch_sub(&j->refs, 1);
            }
            j->next_chunk = c + 1;
        }
        unlink_head(p, j); /* every chunk claimed or cancelled */
    }
    return false;
}

void mp__pool_claim_status(struct mp__claim *cl, size_t i, int code, bool *failed)
{
    struct mp_async *j = cl->job;
    /* status[] is read only for chunks that commit as failed, so it is
     * cleared only when an item first fails. */
    if (!*failed) {
        memset(&j->status[cl->lo], 0, cl->n * sizeof *j->status);
        *failed = true;
    }
    j->status[i] = code;
}

bool mp__pool_commit(mp_pool *p, int slot, const struct mp__claim *cl, uint32_t st)
{
    struct mp__pool_slot *s = &p->slots[slot];
    struct mp_async *j = cl->job;
    bool done = false;
    /* Terminate or a time limit may have made it final first. */
    if (atomic_load(&j->chunk_st[cl->chunk]) == (MP__CH_CLAIMED | (uint32_t)slot))
        done = mp__pool_finish(p, j, cl->chunk, st);
    s->job = NULL; /* after the commit: a death between leaves a claim of a final chunk */
    atomic_store_explicit(&s->run_since, 0, memory_order_relaxed);
    return done;
}

void mp__pool_release(const struct mp__claim *cl, bool done)
{
    struct mp_async *j = cl->job;
    if (done)
        mp__job_completed_wake(j);
    else if (j->kind == MP__JOB_IMAP || j->kind == MP__JOB_IMAP_UNORDERED)
        mp__job_chunk_wake(j); /* an imap hands out each chunk as it is final */
    mp__job_unref(j);
}

struct mp_async *mp__pool_fail_claim(mp_pool *p, int slot, uint32_t st, bool *done)
{
    struct mp__pool_slot *s = &p->slots[slot];
    struct mp_async *j = s->job;
    *done = false;
    if (j == NULL)
        return NULL;
    uint32_t c = s->chunk;
    if (atomic_load(&j->chunk_st[c]) == (MP__CH_CLAIMED | (uint32_t)slot))
        *done = mp__pool_finish(p, j, c, st);
    /* The claimer is gone: results it made for a chunk that failed will
     * never be read (a chunk it committed keeps them). */
    uint32_t fin = atomic_load(&j->chunk_st[c]);
    if (fin != MP__CH_OK && fin != MP__CH_FAILED)
        mp__job_results_drop(j, c);
    s->job = NULL;
    atomic_store_explicit(&s->run_since, 0, memory_order_relaxed);
    return j;
}

void mp__pool_fail_all(mp_pool *p, uint32_t st)
{
    drain(p);
    struct mp_async *j;
    while ((j = atomic_load_explicit(&p->head, memory_order_relaxed)) != NULL) {
        for (uint32_t c = j->next_chunk; c < j->nchunks; c++)
            if (mp__pool_finish(p, j, c, st))
                mp__job_completed_wake(j);
        j->next_chunk = j->nchunks;
        unlink_head(p, j); /* may free j */
    }
    /* Claimed chunks: their claims keep the jobs alive, and their owners
     * (killed next, or gone) clear the claims. */
    for (int i = 0; i < p->nslots; i++) {
        struct mp__pool_slot *s = &p->slots[i];
        struct mp_async *cj = s->job;
        if (cj != NULL && atomic_load(&cj->chunk_st[s->chunk]) == (MP__CH_CLAIMED | (uint32_t)i) &&
            mp__pool_finish(p, cj, s->chunk, st))
            mp__job_completed_wake(cj);
    }
}

/* ---- the supervisor's liveness ------------------------------------------ */

bool mp__pool_sup_alive(mp_pool *p)
{
    return atomic_load(&p->sup_state) != MP__SUP_EXITED && mp__tid_alive(p->sup_pid);
}

int mp__pool_check_alive(mp_pool *p, const mp__deadline *d)
{
    if (mp__pool_sup_alive(p))
        return 0;
    if (mp__pool_lock(p, d) != 0)
        return MP_ETIMEDOUT;
    /* Gone without saying so: killed from outside. Its workers die with
     * it (PR_SET_PDEATHSIG), so nobody will finish their chunks. */
    bool killed = atomic_load(&p->sup_state) != MP__SUP_EXITED;
    if (killed && atomic_load(&p->broken) == MP__BROKEN_NO) {
        atomic_store(&p->broken, MP__BROKEN_SUPERVISOR);
        atomic_store(&p->state, MP__POOL_TERMINATE);
    }
    uint32_t b = atomic_load(&p->broken);
    mp__pool_fail_all(p, b == MP__BROKEN_SUPERVISOR ? MP__CH_DIED
                         : b == MP__BROKEN_START    ? MP__CH_BROKEN
                                                    : MP__CH_CLOSED);
    /* The claims of workers known dead are dropped here, since no
     * supervisor will; a worker whose pid may still run keeps its claim
     * (a leak, never a use after free). */
    for (int i = 0; killed && i < p->nworkers; i++) {
        struct mp__pool_slot *s = &p->slots[i];
        if (s->job == NULL || (s->pid > 0 && mp__tid_alive(s->pid)))
            continue;
        bool done;
        struct mp_async *j = mp__pool_fail_claim(p, i, MP__CH_DIED, &done);
        mp__pool_release(&(struct mp__claim){.job = j}, done);
    }
    mp__pool_unlock(p);
    return 0;
}

/* ---- idle slots ---------------------------------------------------------- */

void mp__pool_wake_idle(mp_pool *p, uint32_t want)
{
    /* Cheapest first: a seeking slot will see the push anyway; a spinning
     * one takes it without a system call on either side; a sleeping one
     * costs a futex wake and a context switch. Each slot taken serves one
     * unit of want. */
    for (uint32_t kind = MP__W_SEEKING; kind <= MP__W_SLEEPING && want > 0; kind++) {
        for (int i = 0; i < p->nslots && want > 0; i++) {
            struct mp__pool_slot *s = &p->slots[i];
            /* seq_cst: ordered after the caller's push (the other side
             * stores its state, then looks for work). */
            uint32_t old = atomic_load(&s->sleep);
            if (old != kind || !atomic_compare_exchange_strong(&s->sleep, &old, MP__W_ACTIVE))
                continue;
            want--;
            if (old == MP__W_SEEKING)
                continue;
            atomic_fetch_add(&s->wake, 1);
            if (old == MP__W_SLEEPING)
                mp__futex_wake(&s->wake, 1);
        }
    }
}

int mp__pool_idle(mp_pool *p, int slot, const mp__deadline *d)
{
    struct mp__pool_slot *s = &p->slots[slot];
    mp__deadline forever = {.forever = true};
    if (d == NULL)
        d = &forever;
    uint32_t w = atomic_load(&s->wake);
    int rc = 0;
    atomic_store(&s->sleep, MP__W_SPINNING);
    /* A submitter in a loop refills the queue within microseconds: a
     * spinning slot is claimed without a system call on either side. But
     * one idle slot spins at a time: more would only take CPUs from the
     * submitter and the busy workers (on two cores with two workers, two
     * spinners cost apply_async a third of its throughput). A spinner
     * that dies is forgotten by the supervisor (mp__pool_spinner_gone). */
    bool woken = mp__pool_work_visible(p);
    uint32_t none = 0, me = (uint32_t)slot + 1;
    if (!woken && atomic_compare_exchange_strong(&p->spinner, &none, me)) {
        woken = mp__spin(&s->wake, w, d);
        atomic_compare_exchange_strong(&p->spinner, &me, 0);
    }
    if (!woken) {
        uint32_t spinning = MP__W_SPINNING;
        if (atomic_compare_exchange_strong(&s->sleep, &spinning, MP__W_SLEEPING)) {
            while (rc == 0 && atomic_load(&s->wake) == w && !mp__pool_work_visible(p) &&
                   atomic_load(&p->state) == MP__POOL_RUN)
                rc = mp__wait(&s->wake, w, d, NULL, NULL) == MP_ETIMEDOUT ? MP_ETIMEDOUT : 0;
        }
    }
    atomic_store(&s->sleep, MP__W_ACTIVE);
    return rc;
}

void mp__pool_spinner_gone(mp_pool *p, int slot)
{
    uint32_t me = (uint32_t)slot + 1;
    atomic_compare_exchange_strong(&p->spinner, &me, 0);
}

/* ---- arguments copied in after the push ---------------------------------- */

static bool submitter_alive(void *job)
{
    return mp__tid_alive(((struct mp_async *)job)->owner_tid);
}

bool mp__pool_chunk_ready(struct mp_async *j, uint32_t c)
{
    mp__deadline forever = {.forever = true};
    bool spun = false;
    for (;;) {
        uint32_t r = atomic_load_explicit(&j->ready, memory_order_acquire);
        if (r > c)
            return true;
        if (!spun) {
            spun = true;
            if (mp__spin(&j->ready, r, NULL))
                continue;
        }
        atomic_fetch_add(&j->ready_waiters, 1);
        int rc = 0;
        if (atomic_load(&j->ready) == r)
            rc = mp__wait(&j->ready, r, &forever, submitter_alive, j);
        atomic_fetch_sub(&j->ready_waiters, 1);
        /* The submitter died before copying this chunk in: nobody is left
         * to want its results, and the chunk fails. */
        if (rc == MP_EOWNERDEAD)
            return atomic_load_explicit(&j->ready, memory_order_acquire) > c;
    }
}
