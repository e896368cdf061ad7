/* cluster.c - the cluster API (mp/cluster.h): which role this rank has,
 * its pool, the start of MPI, and the end.
 *
 * The role is known before MPI starts, from the launcher's environment,
 * because every pool process must be forked before MPI_Init (an MPI
 * process should not fork, and a worker must not inherit MPI state):
 *   - no launcher, or a single rank: a local pool, no MPI at all;
 *   - rank 0: the user's pool, with remote slots sized for the launcher's
 *     rank count, and the dispatcher thread, which starts MPI itself
 *     (only it calls MPI on rank 0);
 *   - another rank: the node's pool, then the agent loop in this thread.
 * Rank 0 returns as soon as every rank has passed the handshake; an
 * agent returns when rank 0 has finished. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/cluster.h"
#include "mp/error.h"
#include "mp/process.h"
#include "os/futex.h"
#include "sync/wait.h"

/* The cluster's life in this process. */
enum { ST_NONE, ST_LOCAL, ST_ROOT, ST_SERVED, ST_ENDED };

static struct {
    _Atomic int state;    /* ST_* */
    _Atomic bool started; /* mp_cluster_init ran (once per process) */
    int rank;             /* the MPI rank (0 without mpirun), inherited by workers */
    pid_t pid;            /* the process that ran mp_cluster_init */
    mp_pool *pool;        /* LOCAL, ROOT: the user's pool; we hold a reference */
    struct mp__root root; /* ROOT */
} g;

/* ---- the launcher's environment -------------------------------------------- */

/* The first of names set in the environment, as a non-negative int, or -1. */
static int env_int(const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *v = getenv(names[i]);
        if (v == NULL || *v == '\0')
            continue;
        char *end;
        long x = strtol(v, &end, 10);
        if (*end == '\0' && x >= 0 && x <= INT32_MAX)
            return (int)x;
    }
    return -1;
}

/* This rank and the world size as the launcher says them (Open MPI,
 * MPICH's Hydra, PMIx); rank -1 when not started by one. */
static void launcher(int *rank, int *size)
{
    static const char *const ranks[] = {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"};
    static const char *const sizes[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"};
    *rank = env_int(ranks, sizeof ranks / sizeof *ranks);
    *size = env_int(sizes, sizeof sizes / sizeof *sizes);
}

/* Ranks the launcher put on this machine, or 1. */
static int local_ranks(void)
{
    static const char *const names[] = {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"};
    int n = env_int(names, sizeof names / sizeof *names);
    return n > 0 ? n : 1;
}

/* Heartbeats and node loss: Open MPI's mpirun --enable-recovery, or asked
 * for (another MPI that keeps a job going when a rank dies). */
static bool recovery_on(void)
{
    static const char *const names[] = {"OMPI_MCA_orte_enable_recovery",
                                        "PRTE_MCA_prte_enable_recovery", "MP_CLUSTER_RECOVERY"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        const char *v = getenv(names[i]);
        if (v != NULL && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0))
            return true;
    }
    return false;
}

/* ---- starting ------------------------------------------------------------------ */

static int code_of_errno(int err)
{
    return err == 0 ? MP_ENOMEM : -err;
}

static int start_local(const mp_cluster_opts *o, int table, mp_pool **pool)
{
    if (table != 0)
        return table;
    mp_pool *p = mp_pool_new_opts(&o->pool);
    if (p == NULL)
        return code_of_errno(errno);
    p->admit = mp__task_admit;
    atomic_fetch_add(&p->refs, 1); /* ours, so finalize can tell a freed pool */
    g.pool = p;
    atomic_store(&g.state, ST_LOCAL);
    *pool = p;
    return MP_CLUSTER_ROOT;
}

/* A rank that could not make its pool still joins the handshake, so that
 * every rank fails with its code instead of waiting for it. */
static int fail_together(int *argc, char ***argv, int rank, int size, int table, int code)
{
    struct mp__hello h;
    mp__hello_fill(&h, table, code);
    MPI_Comm comm;
    struct mp__verdict v;
    int32_t *workers = rank == 0 ? calloc((size_t)size, sizeof *workers) : NULL;
    int rc = mp__mpi_start(argc, argv, rank, size, &h, false, 0, &comm, &v, workers);
    free(workers);
    if (rc == 0) { /* cannot be: our own hello fails the check */
        mp__mpi_end(&comm, false);
        rc = code;
    }
    atomic_store(&g.state, ST_ENDED);
    return rc;
}

static int start_agent(const mp_cluster_opts *o, int *argc, char ***argv, int rank, int size,
                       int table)
{
    mp_pool_opts po = o->pool;
    if (po.processes == 0) {
        int w = mp_cpu_count() / local_ranks();
        po.processes = w > 0 ? w : 1;
    }
    mp_pool *local = mp_pool_new_opts(&po);
    if (local == NULL)
        return fail_together(argc, argv, rank, size, table, code_of_errno(errno));
    struct mp__hello h;
    mp__hello_fill(&h, table, po.processes);
    int rc = mp__agent_serve(local, argc, argv, rank, size, &h);
    atomic_store(&g.state, rc == MP_CLUSTER_SERVED ? ST_SERVED : ST_ENDED);
    return rc;
}

static void at_exit(void)
{
    /* Only in the process that started the cluster, not in its children. */
    if (getpid() == g.pid)
        (void)mp_cluster_finalize();
}

static int start_root(const mp_cluster_opts *o, int *argc, char ***argv, int size, int table,
                      mp_pool **pool)
{
    struct mp__root *r = &g.root;
    int cpus = mp_cpu_count();
    int planned = o->pool.processes > cpus ? o->pool.processes : cpus;
    if (planned < MP__CLUSTER_MIN_NODE_WORKERS)
        planned = MP__CLUSTER_MIN_NODE_WORKERS;
    int per_node = MP__CLUSTER_DEPTH * planned;
    int root_workers = o->root_processes;
    /* The pool's owner field keeps slot numbers below MP__CH_OWNER_MAX. */
    if ((long long)per_node * (size - 1) + 1 + root_workers > (long long)MP__CH_OWNER_MAX)
        return fail_together(argc, argv, 0, size, table, MP_EINVAL);

    mp_pool_opts po = o->pool;
    po.processes = root_workers > 0 ? root_workers : -1;
    mp_pool *p = mp__pool_new_slots(&po, 1 + per_node * (size - 1));
    if (p == NULL)
        return fail_together(argc, argv, 0, size, table, code_of_errno(errno));
    p->admit = mp__task_admit;
    atomic_fetch_add(&p->refs, 1); /* ours: the dispatcher uses the pool until it ends */

    memset(r, 0, sizeof *r);
    r->pool = p;
    r->argc = argc;
    r->argv = argv;
    r->size = size;
    r->per_node = per_node;
    r->recovery = recovery_on();
    r->node_timeout = o->node_timeout > 0 ? o->node_timeout : MP_CLUSTER_NODE_TIMEOUT;
    mp__hello_fill(&r->hello, table, p->nworkers);

    /* The dispatcher takes no signal: the program's handlers run on its
     * own threads. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int err = pthread_create(&r->thread, NULL, mp__dispatch_main, r);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err != 0) {
        mp__pool_unref(p);
        mp_pool_free(p);
        return fail_together(argc, argv, 0, size, table, -err);
    }
    mp__deadline forever = {.forever = true};
    uint32_t phase;
    while ((phase = atomic_load(&r->phase)) == MP__ROOT_STARTING)
        mp__wait(&r->phase, phase, &forever, NULL, NULL);
    if (phase == MP__ROOT_FAILED) {
        pthread_join(r->thread, NULL);
        mp__pool_unref(p);
        mp_pool_free(p);
        atomic_store(&g.state, ST_ENDED);
        return atomic_load(&r->code);
    }
    /* A map's default chunks spread over every worker of the cluster. */
    p->spread = atomic_load(&r->workers);
    g.pool = p;
    atomic_store(&g.state, ST_ROOT);
    atexit(at_exit);
    *pool = p;
    return MP_CLUSTER_ROOT;
}

MP_EXTERN int mp_cluster_init(int *argc, char ***argv, const mp_cluster_opts *opts, mp_pool **pool)
{
    if (pool == NULL)
        return MP_EINVAL;
    *pool = NULL;
    mp_cluster_opts o = {0};
    if (opts != NULL)
        o = *opts;
    if (o.root_processes < 0 || isnan(o.node_timeout) || o.node_timeout < 0 || o.pool.processes < 0)
        return MP_EINVAL;
    if (atomic_exchange(&g.started, true))
        return MP_ESTATE;
    int table = mp__task_freeze();
    int rank, size;
    launcher(&rank, &size);
    g.pid = getpid();
    g.rank = rank > 0 ? rank : 0; /* before any fork: workers inherit it */
    mp__cluster_spin = local_ranks() >= mp_cpu_count() ? 0 : MP__CLUSTER_SPIN;
    if (rank < 0 || size == 1)
        return start_local(&o, table, pool);
    if (size < 1 || rank >= size) {
        atomic_store(&g.state, ST_ENDED);
        return -EIO; /* a launcher we cannot read: no world size */
    }
    if (rank == 0)
        return start_root(&o, argc, argv, size, table, pool);
    return start_agent(&o, argc, argv, rank, size, table);
}

/* ---- the end ---------------------------------------------------------------- */

/* Free the pool unless the program did (mp_pool_free clears its private
 * part; our reference keeps the rest readable), then drop our reference. */
static void release_pool(mp_pool *p)
{
    if (p->local != NULL)
        mp_pool_free(p);
    mp__pool_unref(p);
}

MP_EXTERN int mp_cluster_finalize(void)
{
    int st = atomic_load(&g.state);
    switch (st) {
    case ST_LOCAL:
        if (!atomic_compare_exchange_strong(&g.state, &st, ST_ENDED))
            return MP_ESTATE;
        release_pool(g.pool);
        g.pool = NULL;
        return 0;
    case ST_ROOT:
        if (!atomic_compare_exchange_strong(&g.state, &st, ST_ENDED))
            return MP_ESTATE;
        /* Terminate first, so no chunk is claimed past this point and
         * every chunk a node still runs is final already. */
        if (g.pool->local != NULL)
            mp_pool_free(g.pool);
        mp__dispatch_stop(&g.root);
        pthread_join(g.root.thread, NULL);
        mp__pool_unref(g.pool);
        g.pool = NULL;
        return 0;
    case ST_SERVED:
        return atomic_compare_exchange_strong(&g.state, &st, ST_ENDED) ? 0 : MP_ESTATE;
    default:
        return MP_ESTATE;
    }
}

MP_EXTERN int mp_cluster_nodes(void)
{
    switch (atomic_load(&g.state)) {
    case ST_LOCAL:
        return 1;
    case ST_ROOT:
        return atomic_load(&g.root.nodes);
    default:
        return MP_ESTATE;
    }
}

MP_EXTERN int mp_cluster_workers(void)
{
    switch (atomic_load(&g.state)) {
    case ST_LOCAL:
        return g.pool->nworkers;
    case ST_ROOT:
        return atomic_load(&g.root.workers);
    default:
        return MP_ESTATE;
    }
}

MP_EXTERN int mp_cluster_rank(void)
{
    return g.rank;
}
