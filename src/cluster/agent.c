/* agent.c - a node agent (every rank but 0): runs the chunks rank 0
 * sends on the node's own libmp pool and sends the results back.
 *
 * Each WORK becomes one job of one chunk on the local pool, so the chunk
 * runs on one worker, as it would on rank 0's own pool: a task that kills
 * its worker fails that chunk with MP_EWORKERDIED, the local supervisor
 * replaces the worker, and the agent - an MPI rank - lives on. The pool
 * was made before MPI started, so no process of it ever inherits MPI.
 *
 * The agent is one thread: it probes for messages from rank 0, answers
 * the jobs that are ready, and, when a round found nothing, waits for a
 * local job (mp_async_wait_any) or just pauses, as long as the backoff
 * says (MPI gives nothing to sleep on). With recovery it sends a PING
 * when it has said nothing for an interval, and gives up when rank 0 has
 * been silent for node_timeout. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster.h"
#include "mp/error.h"

struct running {
    uint32_t slot; /* rank 0's ticket */
    uint32_t seq;  /* likewise */
    uint64_t n;    /* items */
    mp_async *a;   /* the local job */
};

struct agent {
    mp_pool *pool;
    MPI_Comm comm;
    bool recovery;
    double node_timeout;
    double beat;         /* heartbeat interval */
    struct running *run; /* jobs running here */
    mp_async **handles;  /* their handles, for mp_async_wait_any */
    size_t n, cap;       /* count, allocated */
    struct mp__sends sends;
    void *rbuf;          /* receive buffer */
    size_t rcap;         /* its size */
    double heard;        /* mp__now() of rank 0's last message */
    double told;         /* of our last message to it */
    bool stop;           /* STOP came */
    uint32_t stop_flags; /* its flags */
};

static size_t round8(size_t x)
{
    return (x + 7) & ~(size_t)7;
}

static void send_to_root(struct agent *ag, int tag, void *buf, size_t len)
{
    /* A send that fails leaves rank 0 without this answer; with recovery
     * it will count this node lost, without it there is nothing better
     * to do than go on. */
    (void)mp__send_bytes(&ag->sends, ag->comm, 0, tag, buf, len);
    ag->told = mp__now();
}

/* Answer a chunk that did not run: a state, or a code for every item. */
static void answer_failure(struct agent *ag, uint32_t slot, uint32_t seq, uint64_t n,
                           uint64_t result_size, uint32_t st, int code)
{
    size_t codes = st == MP__CH_FAILED ? round8(n * sizeof(int32_t)) : 0;
    size_t res = st == MP__CH_FAILED ? n * result_size : 0;
    struct mp__wire_result h = {slot, seq, st, 0, n, result_size};
    if (sizeof h + res + codes > MP__CLUSTER_MSG_MAX) {
        /* Even the codes do not fit: the worst answer that does. */
        h.state = MP__CH_DIED;
        res = codes = 0;
    }
    char *m = calloc(1, sizeof h + res + codes);
    if (m == NULL) {
        h.state = MP__CH_DIED;
        res = codes = 0;
        m = malloc(sizeof h);
        if (m == NULL)
            return; /* rank 0 waits for it: nothing can be said */
    }
    memcpy(m, &h, sizeof h);
    for (uint64_t i = 0; codes > 0 && i < n; i++) {
        int32_t c = code;
        memcpy(m + sizeof h + res + i * sizeof c, &c, sizeof c);
    }
    send_to_root(ag, MP__TAG_RESULT, m, sizeof h + res + codes);
}

/* Start a WORK message's chunk on the local pool. */
static void on_work(struct agent *ag, const char *m, size_t len)
{
    struct mp__wire_work w;
    if (len < sizeof w)
        return;
    memcpy(&w, m, sizeof w);
    const struct mp__task *t = mp__task_at(w.task);
    uint64_t bytes;
    if (t == NULL || w.n == 0 || (w.arg_size == 0 && w.n != 1) ||
        __builtin_mul_overflow(w.n, w.arg_size, &bytes) || len - sizeof w != bytes) {
        answer_failure(ag, w.slot, w.seq, w.n, w.result_size, MP__CH_FAILED, MP_EINVAL);
        return;
    }
    if (ag->n == ag->cap) {
        size_t cap = ag->cap ? ag->cap * 2 : 16;
        struct running *run = realloc(ag->run, cap * sizeof *run);
        if (run != NULL)
            ag->run = run;
        mp_async **h = run != NULL ? realloc(ag->handles, cap * sizeof *h) : NULL;
        if (h == NULL) {
            answer_failure(ag, w.slot, w.seq, w.n, w.result_size, MP__CH_FAILED, MP_ENOMEM);
            return;
        }
        ag->handles = h;
        ag->cap = cap;
    }
    const char *args = w.arg_size ? m + sizeof w : NULL;
    /* One chunk of all n items: it runs on one worker (a map needs
     * argument bytes; a task without them is a single apply). */
    mp_async *a = w.arg_size ? mp_pool_map_async(ag->pool, t->fn, args, w.n, w.arg_size,
                                                 w.result_size, w.n, NULL)
                             : mp_pool_apply_async(ag->pool, t->fn, NULL, 0, w.result_size, NULL);
    if (a == NULL) {
        int err = errno;
        uint32_t st = err == ENOTRECOVERABLE ? MP__CH_BROKEN
                      : err == EPIPE         ? MP__CH_CLOSED
                                             : MP__CH_FAILED;
        answer_failure(ag, w.slot, w.seq, w.n, w.result_size, st, -err);
        return;
    }
    ag->run[ag->n] = (struct running){w.slot, w.seq, w.n, a};
    ag->handles[ag->n] = a;
    ag->n++;
}

/* Send a finished local job's outcome: its chunk's state, results, item
 * codes and results of any size (cluster.h, RESULT). */
static void answer(struct agent *ag, const struct running *x)
{
    struct mp_async *j = x->a;
    uint32_t st = atomic_load(&j->chunk_st[0]);
    bool has_results = st == MP__CH_OK || st == MP__CH_FAILED;
    size_t res = has_results ? x->n * j->result_size : 0;
    size_t codes = st == MP__CH_FAILED ? round8(x->n * sizeof(int32_t)) : 0;
    size_t total = sizeof(struct mp__wire_result) + res + codes;
    uint32_t nbig = 0;
    struct mp__result *big = has_results ? atomic_load(&j->big[0]) : NULL;
    for (struct mp__result *r = big; r != NULL; r = r->next) {
        total += sizeof(struct mp__wire_big) + round8(r->len);
        nbig++;
        if (total > MP__CLUSTER_MSG_MAX)
            break;
    }
    if (total > MP__CLUSTER_MSG_MAX) {
        answer_failure(ag, x->slot, x->seq, x->n, j->result_size, MP__CH_FAILED, MP_EMSGSIZE);
        return;
    }
    char *m = malloc(total);
    if (m == NULL) {
        answer_failure(ag, x->slot, x->seq, x->n, j->result_size, MP__CH_FAILED, MP_ENOMEM);
        return;
    }
    struct mp__wire_result h = {x->slot, x->seq, st, nbig, x->n, j->result_size};
    char *o = m;
    memcpy(o, &h, sizeof h);
    o += sizeof h;
    if (res > 0)
        memcpy(o, j->results, res);
    o += res;
    if (codes > 0) {
        memset(o, 0, codes);
        memcpy(o, j->status, x->n * sizeof(int32_t));
        o += codes;
    }
    for (struct mp__result *r = big; r != NULL; r = r->next) {
        struct mp__wire_big b = {r->item, r->len};
        memcpy(o, &b, sizeof b);
        o += sizeof b;
        memcpy(o, r + 1, r->len);
        memset(o + r->len, 0, round8(r->len) - r->len);
        o += round8(r->len);
    }
    send_to_root(ag, MP__TAG_RESULT, m, total);
}

/* Answer every local job that is ready. True when one was. */
static bool reap(struct agent *ag)
{
    bool any = false;
    for (size_t i = 0; i < ag->n;) {
        if (!mp_async_ready(ag->run[i].a)) {
            i++;
            continue;
        }
        answer(ag, &ag->run[i]);
        mp_async_free(ag->run[i].a);
        ag->run[i] = ag->run[--ag->n];
        ag->handles[i] = ag->handles[ag->n];
        any = true;
    }
    return any;
}

/* Receive what rank 0 sent. True when something came. */
static bool drain(struct agent *ag)
{
    bool any = false;
    while (!ag->stop) {
        int flag = 0;
        MPI_Status st;
        if (MPI_Iprobe(0, MPI_ANY_TAG, ag->comm, &flag, &st) != MPI_SUCCESS || !flag)
            break;
        size_t len;
        if (mp__recv(ag->comm, &st, &ag->rbuf, &ag->rcap, &len) != 0)
            break; /* out of memory: the message waits for the next look */
        any = true;
        ag->heard = mp__now();
        if (st.MPI_TAG == MP__TAG_WORK) {
            on_work(ag, ag->rbuf, len);
        } else if (st.MPI_TAG == MP__TAG_STOP) {
            ag->stop = true;
            if (len >= sizeof ag->stop_flags)
                memcpy(&ag->stop_flags, ag->rbuf, sizeof ag->stop_flags);
        }
    }
    return any;
}

/* With recovery: a PING when we said nothing for a beat; false once rank
 * 0 has been silent past node_timeout. */
static bool heartbeat(struct agent *ag)
{
    if (!ag->recovery)
        return true;
    double now = mp__now();
    if (now - ag->heard > ag->node_timeout)
        return false;
    if (now - ag->told >= ag->beat)
        send_to_root(ag, MP__TAG_PING, NULL, 0);
    return true;
}

/* Serve until STOP (true) or rank 0's loss (false). */
static bool serve(struct agent *ag)
{
    struct mp__backoff bo = {0};
    while (!ag->stop) {
        bool event = drain(ag);
        event |= reap(ag);
        mp__sends_test(&ag->sends);
        if (!heartbeat(ag))
            return false;
        if (event) {
            mp__backoff_event(&bo);
            continue;
        }
        /* Busy workers wake us when they finish: no need to spin then;
         * and with a chunk waiting behind them no need to look at MPI
         * before one finishes (cluster.h, MP__CLUSTER_PAUSE_STOCKED). */
        bool stocked = ag->n > (size_t)ag->pool->nworkers;
        double step = stocked ? MP__CLUSTER_PAUSE_STOCKED
                              : mp__backoff_next(&bo, ag->n > 0 ? 0 : mp__cluster_spin);
        if (step == 0)
            continue;
        size_t idx;
        if (ag->n > 0)
            (void)mp_async_wait_any(ag->handles, ag->n, step, &idx);
        else
            mp__sleep(step);
    }
    return true;
}

/* After STOP: drop what still runs (rank 0 terminated its pool first),
 * say BYE, and wait until rank 0 has taken every message. */
static bool say_bye(struct agent *ag)
{
    mp_pool_terminate(ag->pool);
    for (size_t i = 0; i < ag->n; i++)
        mp_async_free(ag->run[i].a);
    ag->n = 0;
    send_to_root(ag, MP__TAG_BYE, NULL, 0);
    struct mp__backoff bo = {0};
    double since = mp__now();
    while (mp__sends_pending(&ag->sends, -1) > 0) {
        if (mp__sends_test(&ag->sends)) {
            mp__backoff_event(&bo);
            continue;
        }
        if (ag->recovery && mp__now() - since > ag->node_timeout)
            return false;
        double step = mp__backoff_next(&bo, mp__cluster_spin);
        if (step > 0)
            mp__sleep(step);
    }
    return true;
}

int mp__agent_serve(mp_pool *local, int *argc, char ***argv, int rank, int size,
                    const struct mp__hello *mine)
{
    struct agent ag = {.pool = local};
    struct mp__verdict v;
    int rc = mp__mpi_start(argc, argv, rank, size, mine, false, 0, &ag.comm, &v, NULL);
    if (rc != 0) {
        mp_pool_free(local);
        return rc;
    }
    ag.recovery = v.recovery != 0;
    ag.node_timeout = v.node_timeout;
    ag.beat = v.node_timeout / MP__CLUSTER_BEATS;
    ag.heard = ag.told = mp__now();

    /* This is the program's thread: its timer slack goes back after. */
    long slack = mp__timer_slack(MP__CLUSTER_TIMER_SLACK_NS);
    bool clean = serve(&ag) && say_bye(&ag);
    if (slack >= 0)
        mp__timer_slack(slack);
    rc = clean ? MP_CLUSTER_SERVED : MP_ETIMEDOUT;
    for (size_t i = 0; i < ag.n; i++)
        mp_async_free(ag.run[i].a);
    mp_pool_free(local);
    /* A rank was lost (or rank 0 is): MPI_Finalize could hang. */
    mp__mpi_end(&ag.comm, !clean || (ag.stop_flags & MP__STOP_SKIP_FINALIZE));
    for (size_t i = 0; clean && i < ag.sends.n; i++)
        free(ag.sends.v[i].buf);
    free(ag.sends.v);
    free(ag.rbuf);
    free(ag.handles);
    free(ag.run);
    return rc;
}
