/* dispatch.c - rank 0's dispatcher thread: the cluster's only user of MPI
 * on rank 0. It claims chunks of the user's pool as "remote worker slots"
 * (pool.h, claim/commit), sends each to a node, and commits the node's
 * results the way a local worker commits its own, so map, imap,
 * callbacks, futures, close, join and terminate work unchanged.
 *
 * Slots. The pool has its local workers' slots (root_processes, often
 * none), then the doorbell - the slot the dispatcher idles on, which
 * submitters wake like an idle worker - then per_node slots for each
 * node, one per chunk it holds. A node holds at most cap chunks
 * (MP__CLUSTER_DEPTH per worker it has, more when its chunks are short:
 * cluster.h), so the queue stays on rank 0 and a node that finishes early
 * gets the next chunk.
 *
 * Tickets. A chunk goes out as (slot, seq): the slot's claim count. A
 * result that names a slot of another node, a slot not holding a claim,
 * or an old seq is dropped: it can only come from a node already lost.
 *
 * Node loss (recovery only). Any message is a sign of life; a node silent
 * for node_timeout is lost: its claims fail with MP__CH_DIED
 * (MP_EWORKERDIED), its sends are forgotten, its later messages dropped.
 * When no node is left and rank 0 has no worker, the pool is broken.
 *
 * Stop. Finalize frees the pool (terminate) and sets stop; the dispatcher
 * tells every live node STOP, commits what still comes until each says
 * BYE (MPI's ordering: nothing of that node follows), waits for its own
 * sends, and finalizes MPI unless a node was lost. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster.h"
#include "mp/error.h"
#include "os/alive.h"
#include "os/futex.h"
#include "sync/wait.h"

struct node {
    int rank;     /* its MPI rank */
    int workers;  /* its worker processes */
    int cap;      /* chunks it may hold at once */
    int held;     /* chunks it holds */
    int base;     /* its first slot */
    double last;  /* mp__now() of its last result */
    double gap;   /* average time between its results while busy, or 0 */
    double heard; /* mp__now() of its last message */
    double told;  /* of our last message to it */
    bool lost;    /* silent past node_timeout: nothing more to or from it */
    bool bye;     /* it said BYE */
};

struct rslot {
    struct mp__claim cl; /* the claim, while busy */
    uint32_t seq;        /* claims made through this slot */
    bool busy;           /* holds a claim */
    bool sent;           /* its chunk went out (else its arguments are not in yet) */
    double since;        /* mp__now() when it was first found not ready */
};

struct disp {
    struct mp__root *r;
    mp_pool *p;
    MPI_Comm comm;
    int nnodes;                  /* ranks 1..size-1 */
    struct node *nodes;          /* [rank - 1] */
    int first;                   /* the first remote slot (the doorbell's next) */
    struct rslot *slots;         /* [slot - first]: per_node per node */
    int *batch;                  /* slots claimed by one feed */
    struct mp_async **lost_jobs; /* per_node: the jobs of a lost node's claims */
    bool *lost_done;             /* per_node: whether failing each completed its job */
    int next;                    /* the node a feed starts with (round robin) */
    int held;                    /* chunks out, all nodes */
    int unsent;                  /* claims whose arguments the submitter is still copying */
    bool lost_any;               /* some node was lost */
    double beat;                 /* heartbeat interval (recovery) */
    struct mp__sends sends;
    void *rbuf;  /* receive buffer */
    size_t rcap; /* its size */
};

static int doorbell(const struct disp *d)
{
    return d->p->nworkers;
}

static struct rslot *rslot(struct disp *d, int slot)
{
    return &d->slots[slot - d->first];
}

static struct node *node_of_slot(struct disp *d, int slot)
{
    return &d->nodes[(slot - d->first) / d->r->per_node];
}

/* Publish the counts mp_cluster_nodes and mp_cluster_workers read. */
static void publish_counts(struct disp *d)
{
    int nodes = 1, workers = d->p->nworkers;
    for (int i = 0; i < d->nnodes; i++)
        if (!d->nodes[i].lost) {
            nodes++;
            workers += d->nodes[i].workers;
        }
    atomic_store(&d->r->nodes, nodes);
    atomic_store(&d->r->workers, workers);
}

/* ---- commit -------------------------------------------------------------- */

/* Size nd's window from the gap between its results (cluster.h,
 * MP__CLUSTER_QUEUE_TIME): a result that comes while every worker of the
 * node had a chunk measures how fast the node gets through them. */
static void measure(struct disp *d, struct node *nd)
{
    double now = mp__now();
    if (nd->held >= nd->workers && nd->last > 0) {
        double g = now - nd->last;
        nd->gap = nd->gap > 0 ? nd->gap + (g - nd->gap) / 8 : g;
        double ahead = nd->gap > 0 ? MP__CLUSTER_QUEUE_TIME / nd->gap : 0;
        int cap = nd->workers + (ahead < d->r->per_node ? (int)ahead + 1 : d->r->per_node);
        if (cap < MP__CLUSTER_DEPTH * nd->workers)
            cap = MP__CLUSTER_DEPTH * nd->workers;
        nd->cap = cap < d->r->per_node ? cap : d->r->per_node;
    }
    nd->last = now;
}

/* Make slot's chunk final with st, wake its waiters, free the slot. */
static void finish(struct disp *d, int slot, uint32_t st)
{
    struct rslot *rs = rslot(d, slot);
    mp__pool_lock(d->p, NULL);
    bool done = mp__pool_commit(d->p, slot, &rs->cl, st);
    mp__pool_unlock(d->p);
    mp__pool_release(&rs->cl, done);
    rs->busy = false;
    node_of_slot(d, slot)->held--;
    d->held--;
}

/* Fail every item of slot's chunk with code (MP_ETASK with that task
 * error): what cannot even be sent. */
static void fail_items(struct disp *d, int slot, int code)
{
    struct mp__claim *cl = &rslot(d, slot)->cl;
    bool failed = false;
    for (size_t i = cl->lo; i < cl->lo + cl->n; i++)
        mp__pool_claim_status(cl, i, code, &failed);
    finish(d, slot, MP__CH_FAILED);
}

/* ---- chunks out ------------------------------------------------------------ */

/* Whether chunk c's arguments are in. A big job's are copied in by its
 * submitter after it is queued (pool.h); mp__pool_chunk_ready would block
 * until then, and the dispatcher must keep serving MPI meanwhile, so it
 * looks at the count first and calls it only once it is there. */
static bool args_in(const struct mp_async *j, uint32_t c)
{
    return atomic_load_explicit(&j->ready, memory_order_acquire) > c;
}

/* Send slot's chunk to its node, or leave it for a later look when its
 * arguments are not in yet. True when it was dealt with. */
static bool send_work(struct disp *d, int slot)
{
    struct rslot *rs = rslot(d, slot);
    struct mp__claim *cl = &rs->cl;
    struct mp_async *j = cl->job;
    struct node *nd = node_of_slot(d, slot);
    if (!args_in(j, cl->chunk)) {
        double now = mp__now();
        if (rs->since == 0)
            rs->since = now;
        /* A submitter that died before copying never will: the chunk
         * fails, as a local worker's would (mp__pool_chunk_ready). */
        if (now - rs->since < MP__WAIT_SLICE || mp__tid_alive(j->owner_tid))
            return false;
        finish(d, slot, MP__CH_DIED);
        return true;
    }
    (void)mp__pool_chunk_ready(j, cl->chunk); /* in already: for its memory ordering */
    uint32_t task;
    if (mp__task_find(j->fn, &task) != 0) { /* the admit hook let nothing else in */
        fail_items(d, slot, MP_EINVAL);
        return true;
    }
    size_t bytes = cl->n * j->arg_size; /* no overflow: the job holds them */
    if (bytes > MP__CLUSTER_MSG_MAX - sizeof(struct mp__wire_work)) {
        fail_items(d, slot, MP_EMSGSIZE);
        return true;
    }
    char *buf = malloc(sizeof(struct mp__wire_work) + bytes);
    if (buf == NULL) {
        fail_items(d, slot, MP_ENOMEM);
        return true;
    }
    struct mp__wire_work w = {
        .slot = (uint32_t)slot,
        .seq = rs->seq,
        .task = task,
        .n = cl->n,
        .arg_size = j->arg_size,
        .result_size = j->result_size,
    };
    memcpy(buf, &w, sizeof w);
    if (bytes > 0)
        memcpy(buf + sizeof w, cl->args, bytes);
    int rc = mp__send_bytes(&d->sends, d->comm, nd->rank, MP__TAG_WORK, buf, sizeof w + bytes);
    if (rc != 0) {
        fail_items(d, slot, rc);
        return true;
    }
    nd->told = mp__now();
    return true;
}

/* Send the claimed chunks whose arguments came in since. True when one
 * was dealt with. */
static bool send_waiting(struct disp *d)
{
    bool any = false;
    for (int i = 0; d->unsent > 0 && i < d->nnodes * d->r->per_node; i++) {
        struct rslot *rs = &d->slots[i];
        if (rs->busy && !rs->sent && send_work(d, d->first + i)) {
            rs->sent = true;
            d->unsent--;
            any = true;
        }
    }
    return any;
}

/* A free slot of nd (it holds fewer than cap chunks, so there is one). */
static int free_slot(struct disp *d, const struct node *nd)
{
    for (int k = 0; k < d->r->per_node; k++)
        if (!rslot(d, nd->base + k)->busy)
            return nd->base + k;
    return -1;
}

/* Claim chunks for every node with room, one per node in turn, under one
 * hold of the pool lock, then send them. True when something went out. */
static bool feed(struct disp *d)
{
    mp_pool *p = d->p;
    if (atomic_load(&p->state) == MP__POOL_TERMINATE || !mp__pool_work_visible(p))
        return false;
    int nb = 0;
    mp__pool_lock(p, NULL);
    for (bool more = true; more;) {
        more = false;
        for (int k = 0; k < d->nnodes; k++) {
            struct node *nd = &d->nodes[(d->next + k) % d->nnodes];
            if (nd->lost || nd->held >= nd->cap)
                continue;
            int slot = free_slot(d, nd);
            struct rslot *rs = rslot(d, slot);
            if (!mp__pool_claim(p, slot, &rs->cl)) {
                /* A claim marks its slot as seeking work, for submitters
                 * to count on; this slot will not look again (the
                 * dispatcher idles on the doorbell), so it is put back as
                 * busy, and a submitter wakes the doorbell instead. */
                atomic_store(&p->slots[slot].sleep, MP__W_ACTIVE);
                goto out_unlock;
            }
            rs->busy = true;
            rs->sent = false;
            rs->since = 0;
            rs->seq++;
            nd->held++;
            d->held++;
            d->batch[nb++] = slot;
            more = true;
        }
    }
out_unlock:;
    bool left = atomic_load_explicit(&p->head, memory_order_relaxed) != NULL;
    mp__pool_unlock(p);
    d->next = d->nnodes > 0 ? (d->next + 1) % d->nnodes : 0;
    /* Work no node has room for: rank 0's own idle workers may take it. */
    if (left && p->nworkers > 0)
        mp__pool_wake_idle(p, 1);
    for (int i = 0; i < nb; i++) {
        if (send_work(d, d->batch[i]))
            rslot(d, d->batch[i])->sent = true;
        else
            d->unsent++;
    }
    return nb > 0;
}

/* ---- results in ------------------------------------------------------------ */

static size_t round8(size_t x)
{
    return (x + 7) & ~(size_t)7;
}

/* Commit a RESULT from nd; a malformed one fails the chunk as if the node
 * had died running it (between equal binaries it cannot happen). */
static void on_result(struct disp *d, struct node *nd, const char *m, size_t len)
{
    struct mp__wire_result h;
    if (len < sizeof h)
        return;
    memcpy(&h, m, sizeof h);
    int slot = (int)h.slot;
    if (slot < nd->base || slot >= nd->base + d->r->per_node)
        return;
    struct rslot *rs = rslot(d, slot);
    if (!rs->busy || rs->seq != h.seq)
        return; /* not this claim's answer */
    measure(d, nd);
    struct mp__claim *cl = &rs->cl;
    struct mp_async *j = cl->job;
    uint32_t st = h.state;
    bool has_results = st == MP__CH_OK || st == MP__CH_FAILED;
    if (h.n != cl->n || h.result_size != j->result_size || !mp__ch_final(st) ||
        st == MP__CH_CANCELLED) {
        finish(d, slot, MP__CH_DIED);
        return;
    }
    size_t off = sizeof h;
    size_t res_bytes = has_results ? cl->n * j->result_size : 0;
    size_t code_bytes = st == MP__CH_FAILED ? round8(cl->n * sizeof(int32_t)) : 0;
    if (len - off < res_bytes || len - off - res_bytes < code_bytes) {
        finish(d, slot, MP__CH_DIED);
        return;
    }
    if (res_bytes > 0)
        memcpy(cl->results, m + off, res_bytes);
    off += res_bytes;
    bool failed = false;
    if (st == MP__CH_FAILED) {
        for (size_t i = 0; i < cl->n; i++) {
            int32_t code;
            memcpy(&code, m + off + i * sizeof code, sizeof code);
            if (code != 0)
                mp__pool_claim_status(cl, cl->lo + i, code, &failed);
        }
        off += code_bytes;
    }
    for (uint32_t b = 0; has_results && b < h.nbig; b++) {
        struct mp__wire_big big;
        if (len - off < sizeof big) {
            finish(d, slot, MP__CH_DIED);
            return;
        }
        memcpy(&big, m + off, sizeof big);
        off += sizeof big;
        if (big.item >= cl->n || len - off < big.len) {
            finish(d, slot, MP__CH_DIED);
            return;
        }
        void *dst = mp__job_result_put(j, cl->chunk, cl->lo + big.item, big.len);
        if (dst != NULL)
            memcpy(dst, m + off, big.len);
        else /* the result cannot be kept here: that item fails */
            mp__pool_claim_status(cl, cl->lo + big.item, MP_ENOMEM, &failed);
        off += round8(big.len);
        if (off > len)
            off = len;
    }
    if (has_results)
        st = failed ? MP__CH_FAILED : MP__CH_OK;
    finish(d, slot, st);
}

/* Receive everything that has arrived. True when something did. */
static bool drain(struct disp *d)
{
    bool any = false;
    for (;;) {
        int flag = 0;
        MPI_Status st;
        if (MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, d->comm, &flag, &st) != MPI_SUCCESS || !flag)
            return any;
        size_t len;
        if (mp__recv(d->comm, &st, &d->rbuf, &d->rcap, &len) != 0)
            return any; /* out of memory: the message waits for the next look */
        any = true;
        if (st.MPI_SOURCE < 1 || st.MPI_SOURCE > d->nnodes)
            continue;
        struct node *nd = &d->nodes[st.MPI_SOURCE - 1];
        if (nd->lost)
            continue; /* declared dead: its chunks were failed already */
        nd->heard = mp__now();
        if (st.MPI_TAG == MP__TAG_RESULT)
            on_result(d, nd, d->rbuf, len);
        else if (st.MPI_TAG == MP__TAG_BYE)
            nd->bye = true;
    }
}

/* ---- heartbeats and node loss --------------------------------------------- */

/* nd fell silent: fail what it held, forget it. When nobody is left to
 * run anything, the pool is broken. */
static void lose(struct disp *d, struct node *nd)
{
    mp_pool *p = d->p;
    nd->lost = true;
    d->lost_any = true;
    /* Counted out before its chunks fail, so whoever sees them fail sees
     * the node gone. */
    publish_counts(d);
    struct mp_async **jobs = d->lost_jobs;
    bool *done = d->lost_done;
    int nj = 0;
    bool alone = p->nworkers == 0;
    for (int i = 0; i < d->nnodes; i++)
        alone = alone && d->nodes[i].lost;
    mp__pool_lock(p, NULL);
    for (int k = 0; k < d->r->per_node; k++) {
        int slot = nd->base + k;
        struct rslot *rs = rslot(d, slot);
        if (!rs->busy)
            continue;
        jobs[nj] = mp__pool_fail_claim(p, slot, MP__CH_DIED, &done[nj]);
        nj++;
        if (!rs->sent)
            d->unsent--;
        rs->busy = false;
        d->held--;
    }
    nd->held = 0;
    if (alone && atomic_load(&p->broken) == MP__BROKEN_NO) {
        atomic_store(&p->broken, MP__BROKEN_START);
        mp__pool_fail_all(p, MP__CH_BROKEN);
    }
    mp__pool_unlock(p);
    for (int i = 0; i < nj; i++)
        if (jobs[i] != NULL)
            mp__pool_release(&(struct mp__claim){.job = jobs[i]}, done[i]);
    mp__sends_forget(&d->sends, nd->rank);
}

static void heartbeats(struct disp *d)
{
    if (!d->r->recovery)
        return;
    double now = mp__now();
    for (int i = 0; i < d->nnodes; i++) {
        struct node *nd = &d->nodes[i];
        if (nd->lost || nd->bye)
            continue;
        if (now - nd->heard > d->r->node_timeout) {
            lose(d, nd);
        } else if (now - nd->told >= d->beat &&
                   mp__send_bytes(&d->sends, d->comm, nd->rank, MP__TAG_PING, NULL, 0) == 0) {
            nd->told = now;
        }
    }
}

/* ---- the loop ------------------------------------------------------------- */

static bool room(const struct disp *d)
{
    for (int i = 0; i < d->nnodes; i++)
        if (!d->nodes[i].lost && d->nodes[i].held < d->nodes[i].cap)
            return true;
    return false;
}

/* How long results may wait unread while chunks are out (cluster.h,
 * MP__CLUSTER_PAUSE_STOCKED): 0 when a node holds no chunk beyond its
 * workers' (or is not measured yet), else half the time the least
 * stocked node takes to run through its waiting chunks. */
static double stocked_for(const struct disp *d)
{
    double t = MP__CLUSTER_PAUSE_STOCKED;
    for (int i = 0; i < d->nnodes; i++) {
        const struct node *nd = &d->nodes[i];
        if (nd->lost || nd->held == 0)
            continue;
        if (nd->held <= nd->workers || nd->gap == 0)
            return 0;
        double w = (nd->held - nd->workers) * nd->gap / 2;
        t = w < t ? w : t;
    }
    return t;
}

/* Wait a little when a round found nothing to do: for a submission on
 * the doorbell when a node has room, else for the stop word; while
 * results are awaited, as long as the stocked nodes allow, or else as
 * the backoff says (at most MP__CLUSTER_PAUSE_BUSY); when none are,
 * until the next heartbeat is due (or a submission, or stop). */
static void pause_round(struct disp *d, struct mp__backoff *bo)
{
    double wait = d->held > 0 ? stocked_for(d) : 0;
    if (wait <= MP__CLUSTER_PAUSE_BUSY) {
        double step = mp__backoff_next(bo, mp__cluster_spin);
        if (step == 0)
            return;
        wait = d->held == 0                    ? (d->r->recovery ? d->beat : MP_FOREVER)
               : step < MP__CLUSTER_PAUSE_BUSY ? step
                                               : MP__CLUSTER_PAUSE_BUSY;
    }
    mp__deadline dl;
    mp__deadline_init(&dl, wait);
    if (atomic_load(&d->p->state) == MP__POOL_RUN && room(d))
        mp__pool_idle(d->p, doorbell(d), &dl);
    else if (atomic_load(&d->r->stop) == 0)
        mp__wait(&d->r->stop, 0, &dl, NULL, NULL);
}

static void run(struct disp *d)
{
    struct mp__backoff bo = {0};
    while (atomic_load(&d->r->stop) == 0) {
        bool event = drain(d);
        event |= send_waiting(d);
        event |= feed(d);
        mp__sends_test(&d->sends);
        heartbeats(d);
        if (event)
            mp__backoff_event(&bo);
        else
            pause_round(d, &bo);
    }
}

/* The stop protocol (top of file). */
static void stop_nodes(struct disp *d)
{
    uint32_t flags = d->lost_any ? MP__STOP_SKIP_FINALIZE : 0;
    for (int i = 0; i < d->nnodes; i++) {
        struct node *nd = &d->nodes[i];
        if (nd->lost)
            continue;
        uint32_t *m = malloc(sizeof *m);
        if (m != NULL)
            *m = flags;
        /* Without memory a node still stops: an empty STOP. */
        mp__send_bytes(&d->sends, d->comm, nd->rank, MP__TAG_STOP, m, m ? sizeof *m : 0);
        nd->told = mp__now();
    }
    struct mp__backoff bo = {0};
    for (;;) {
        bool event = drain(d);
        event |= mp__sends_test(&d->sends);
        heartbeats(d);
        bool all = true;
        for (int i = 0; i < d->nnodes; i++)
            all = all && (d->nodes[i].lost || d->nodes[i].bye);
        if (all && mp__sends_pending(&d->sends, -1) == 0)
            break;
        if (event) {
            mp__backoff_event(&bo);
            continue;
        }
        double step = mp__backoff_next(&bo, mp__cluster_spin);
        if (step > 0)
            mp__sleep(step);
    }
    /* Chunks the nodes dropped when they stopped (the pool was terminated
     * first, so they are final already): give the claims back. */
    for (int slot = d->first; slot < d->first + d->nnodes * d->r->per_node; slot++) {
        if (!rslot(d, slot)->busy)
            continue;
        bool done;
        mp__pool_lock(d->p, NULL);
        struct mp_async *j = mp__pool_fail_claim(d->p, slot, MP__CH_CLOSED, &done);
        mp__pool_unlock(d->p);
        if (j != NULL)
            mp__pool_release(&(struct mp__claim){.job = j}, done);
        rslot(d, slot)->busy = false;
    }
}

/* Allocate the dispatcher's memory before MPI starts, so that a failure
 * here never leaves the nodes waiting in a started cluster. */
static int setup(struct disp *d, struct mp__root *r)
{
    memset(d, 0, sizeof *d);
    d->r = r;
    d->p = r->pool;
    d->comm = MPI_COMM_NULL;
    d->nnodes = r->size - 1;
    d->first = r->pool->nworkers + 1;
    size_t nslots = (size_t)d->nnodes * (size_t)r->per_node;
    d->nodes = calloc((size_t)d->nnodes, sizeof *d->nodes);
    d->slots = calloc(nslots, sizeof *d->slots);
    d->batch = calloc(nslots, sizeof *d->batch);
    d->lost_jobs = calloc((size_t)r->per_node, sizeof *d->lost_jobs);
    d->lost_done = calloc((size_t)r->per_node, sizeof *d->lost_done);
    if (d->nodes == NULL || d->slots == NULL || d->batch == NULL || d->lost_jobs == NULL ||
        d->lost_done == NULL)
        return MP_ENOMEM;
    d->beat = r->node_timeout / MP__CLUSTER_BEATS;
    return 0;
}

static void teardown(struct disp *d)
{
    /* Buffers of sends forgotten (lost nodes) are leaked on purpose. */
    for (size_t i = 0; i < d->sends.n; i++)
        free(d->sends.v[i].buf);
    free(d->sends.v);
    free(d->rbuf);
    free(d->lost_done);
    free(d->lost_jobs);
    free(d->batch);
    free(d->slots);
    free(d->nodes);
}

static void started(struct mp__root *r, uint32_t phase, int code)
{
    atomic_store(&r->code, code);
    atomic_store(&r->phase, phase);
    mp__futex_wake(&r->phase, INT32_MAX);
}

void *mp__dispatch_main(void *arg)
{
    struct mp__root *r = arg;
    mp__timer_slack(MP__CLUSTER_TIMER_SLACK_NS);
    struct disp d;
    int32_t *workers = calloc((size_t)r->size, sizeof *workers);
    int rc = setup(&d, r);
    if (rc == 0 && workers == NULL)
        rc = MP_ENOMEM;
    struct mp__hello hello = r->hello;
    if (rc != 0)
        hello.workers = rc; /* every rank fails alike */
    struct mp__verdict v;
    int start = mp__mpi_start(r->argc, r->argv, 0, r->size, &hello, r->recovery, r->node_timeout,
                              &d.comm, &v, workers);
    if (start != 0) {
        free(workers);
        teardown(&d);
        started(r, MP__ROOT_FAILED, start);
        return NULL;
    }
    double now = mp__now();
    for (int i = 0; i < d.nnodes; i++) {
        struct node *nd = &d.nodes[i];
        nd->rank = i + 1;
        nd->workers = workers[i + 1];
        int cap = MP__CLUSTER_DEPTH * nd->workers;
        nd->cap = cap < r->per_node ? cap : r->per_node;
        nd->base = d.first + i * r->per_node;
        nd->heard = nd->told = now;
    }
    free(workers);
    publish_counts(&d);
    started(r, MP__ROOT_RUNNING, 0);

    run(&d);
    stop_nodes(&d);
    mp__mpi_end(&d.comm, d.lost_any);
    teardown(&d);
    return NULL;
}

void mp__dispatch_stop(struct mp__root *r)
{
    atomic_store(&r->stop, 1);
    mp__futex_wake(&r->stop, INT32_MAX);
    /* An idle dispatcher sleeps on the doorbell. */
    struct mp__pool_slot *s = &r->pool->slots[r->pool->nworkers];
    atomic_fetch_add(&s->wake, 1);
    mp__futex_wake(&s->wake, INT32_MAX);
}
