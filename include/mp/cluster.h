/* mp/cluster.h - the same pool across machines, on MPI (libmp_mpi, an
 * optional component: link mp::mp_mpi or `pkg-config --libs mp-mpi`).
 *
 * Start the program under mpirun (Open MPI or MPICH):
 *
 *     mpirun -np 4 ./app                        # one machine: rank 0 + 3 nodes
 *     mpirun --hostfile hosts -np 9 ./app       # several machines
 *
 * Every rank runs main and calls mp_cluster_init. Rank 0 gets an ordinary
 * mp_pool *, and every mp_pool_*, mp_async_* and mp_imap_* call works on
 * it unchanged (map, imap, callbacks, futures, close, join, terminate).
 * Every other rank is a node agent: mp_cluster_init runs the tasks it is
 * sent on a local libmp pool until rank 0 finishes, then returns
 * MP_CLUSTER_SERVED and main returns. A task that crashes kills a libmp
 * worker of its node, not an MPI rank, so MP_EWORKERDIED keeps its
 * meaning and the rest goes on. Started without mpirun, the same program
 * gets a local pool (mp_cluster_init returns MP_CLUSTER_ROOT).
 *
 *     static int square(const void *arg, void *result) { ... }
 *     MP_TASK(square, sizeof(int), sizeof(int))            // at file scope
 *
 *     int main(int argc, char **argv)
 *     {
 *         mp_pool *pool;
 *         int rc = mp_cluster_init(&argc, &argv, NULL, &pool);
 *         if (rc == MP_CLUSTER_SERVED)
 *             return 0;                                    // a node: done
 *         if (rc < 0)
 *             return 1;
 *         mp_pool_map(pool, square, in, n, sizeof *in, out, sizeof *out, 0);
 *         mp_pool_close(pool);
 *         mp_pool_join(pool);
 *         return mp_cluster_finalize() == 0 ? 0 : 1;
 *     }
 *
 * What travels, and what does not:
 * - Tasks are named. Function addresses differ between ranks, so every
 *   task the pool runs is registered under a name, in every rank, before
 *   mp_cluster_init (MP_TASK does it at load). mp_cluster_init compares a
 *   digest of the table (names and sizes) across ranks and fails with
 *   MP_EINVAL when they differ. Submitting an unregistered function, or
 *   one with other sizes than registered, is MP_EINVAL - also on a local
 *   pool, so a program that runs locally runs on a cluster.
 * - Arguments and results travel as bytes: arg_size bytes out, result_size
 *   bytes (or a result of any size, mp_task_result_alloc) back. POINTERS
 *   MEAN NOTHING ON ANOTHER NODE, pointers into libmp's shared heap
 *   included (that heap is one per machine): pass values. A task finds
 *   its data in its arguments, in files, or in what main set up before
 *   mp_cluster_init (every rank runs the same main).
 * - Every rank runs the same program on the same architecture: the byte
 *   order, the sizes of the C types and the libmp version are compared at
 *   start (MP_EINVAL when they differ).
 * - One chunk's arguments, and its results, travel as one MPI message of
 *   at most 2 GiB; a chunk past that fails (MP_ETASK, task error
 *   MP_EMSGSIZE): use a smaller chunksize.
 *
 * Where work runs. Rank 0 has no worker of its own unless root_processes
 * asks for some: it runs main, and a dispatcher thread that hands chunks
 * to the nodes (2 per node worker, more up to about 10 ms of a node's
 * work when its tasks are short) and commits their results; only that
 * thread calls MPI. Each node runs a chunk on one of its workers, as a
 * local pool does. pool.task_timeout and maxtasksperchild apply on the
 * node that runs the chunk.
 *
 * Losing a node (what is survived, exactly). MPI jobs usually die whole:
 * Open MPI aborts every rank when one dies unless mpirun was given
 * --enable-recovery. With recovery on (detected from Open MPI's
 * environment, or forced with MP_CLUSTER_RECOVERY=1 for another MPI that
 * keeps going), rank 0 and the nodes exchange heartbeats:
 * - a node silent for node_timeout (killed, its machine gone, stopped) is
 *   lost: the chunks it held fail with MP_EWORKERDIED, it gets no more
 *   work, and everything else goes on over the other nodes (on rank 0's
 *   own workers when none is left; with none of those either, the pool is
 *   broken: MP_EBROKEN);
 * - a lost rank 0 (the program itself) makes every node stop its workers
 *   and return MP_ETIMEDOUT from mp_cluster_init node_timeout later;
 * - once a node was lost, no rank calls MPI_Finalize (it can hang after a
 *   death): mp_cluster_finalize returns without it, and the program must
 *   not use MPI afterwards.
 * Not survived: the death of a rank without recovery (mpirun ends the
 * job), a node that is only slow but silent past node_timeout (it is
 * treated as lost; its late results are dropped and it leaves on its
 * own), and a network partition that MPI itself reports as fatal.
 *
 * Threads and forks. Under mpirun, mp_cluster_init creates every pool
 * process (rank 0's and each node's workers) before MPI starts; a program
 * that forks after it (mp_process_start, another mp_pool_new) forks an
 * MPI process, which some MPI transports do not allow. */
#ifndef MP_CLUSTER_H
#define MP_CLUSTER_H

#include "common.h"
#include "pool.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What mp_cluster_init returns besides errors (positive, so `rc < 0` is
 * the error test). */
#define MP_CLUSTER_ROOT   1 /* rank 0, or no mpirun: use *pool */
#define MP_CLUSTER_SERVED 2 /* a node agent that has served until the end: return from main */

/* A registered size that matches any submission's. */
#define MP_TASK_ANY_SIZE SIZE_MAX

/* Seconds of silence after which a node counts as lost, by default. */
#define MP_CLUSTER_NODE_TIMEOUT 10.0

typedef struct {
    /* Each node's pool: processes is workers per node (0: the node's CPUs
     * shared among the ranks mpirun placed on it); the initializer (and
     * initarg, each rank's own: every rank builds the same opts) runs in
     * every worker of every node; maxtasksperchild and task_timeout apply
     * where the chunk runs. Without mpirun: the local pool's options. */
    mp_pool_opts pool;
    /* Workers on rank 0 itself under mpirun: 0 = none (rank 0 only
     * dispatches, as in mpi4py.futures). */
    int root_processes;
    /* With recovery (see above): seconds of silence before a node, or
     * rank 0, counts as lost; 0 = MP_CLUSTER_NODE_TIMEOUT. Rank 0's value
     * is the one every rank uses. */
    double node_timeout;
} mp_cluster_opts;

/* mp_task_register names a task for the cluster: fn runs wherever a
 * chunk is sent, looked up by name. arg_size and result_size are the
 * sizes every submission of fn must use (MP_TASK_ANY_SIZE: any). Call it
 * in every rank, before mp_cluster_init (MP_TASK does so at load); the
 * order does not matter. Returns 0, MP_EINVAL (NULL or empty name, a name
 * over 255 bytes, NULL fn, a name or function registered already with
 * something else: registering the same again is 0), MP_ENOMEM, or
 * MP_ESTATE after mp_cluster_init. A failed registration also makes mp_cluster_init
 * fail (MP_EINVAL), so one inside MP_TASK is not lost. Thread-safe. */
MP_EXTERN int mp_task_register(const char *name, mp_task_fn fn, size_t arg_size,
                               size_t result_size);

/* MP_TASK(fn, arg_size, result_size) registers fn under its own name when
 * the program loads. Use it at file scope, once per task. */
#define MP_TASK(fn, arg_size, result_size)                                                         \
    __attribute__((constructor)) static void mp_task_register_##fn(void)                           \
    {                                                                                              \
        (void)mp_task_register(#fn, fn, arg_size, result_size);                                    \
    }

/* mp_cluster_init starts the cluster; call it once, in main, in every
 * rank, before any other MPI use (it calls MPI_Init_thread; argc and argv
 * go to it and may be NULL). opts may be NULL (defaults).
 *
 * | returns             | where                                               |
 * |---------------------|-----------------------------------------------------|
 * | MP_CLUSTER_ROOT     | rank 0, or not under mpirun: *pool is the pool      |
 * | MP_CLUSTER_SERVED   | other ranks, after rank 0 finished: return from main |
 * | MP_EINVAL           | NULL pool, bad opts, task tables or architectures   |
 * |                     | that differ between ranks, a failed registration    |
 * | MP_ESTATE           | called before (even if it failed: MPI starts once)  |
 * | MP_ETIMEDOUT        | other ranks: rank 0 was lost (recovery only)        |
 * | -EIO                | MPI failed, its rank or size is not the launcher's, |
 * |                     | or the launcher gave a rank without a world size    |
 * | MP_ENOMEM, -errno   | the pool could not be made (as mp_pool_new_opts)   |
 *
 * On any failure every rank fails alike where it can, *pool is NULL, and
 * MPI is finalized. A node agent blocks here for the program's whole run.
 * Rank 0 returns once every rank has started. */
MP_EXTERN int mp_cluster_init(int *argc, char ***argv, const mp_cluster_opts *opts, mp_pool **pool);

/* mp_cluster_finalize ends the cluster on rank 0: frees the pool (unless
 * the program freed it: mp_pool_free is fine; anything not joined fails
 * with MP_ECLOSED, as mp_pool_free does), tells every node to stop, and
 * finalizes MPI (not after a lost node, see above). Blocks until the
 * nodes have stopped (with recovery: at most node_timeout for a silent
 * one). Returns 0, or MP_ESTATE when the cluster is not running on this
 * rank. On a node agent, and without mpirun, it frees what
 * mp_cluster_init made and returns 0. It runs at exit if the program did
 * not call it. */
MP_EXTERN int mp_cluster_finalize(void);

/* mp_cluster_nodes returns how many ranks serve the pool now, rank 0
 * included (1 without mpirun); lost nodes no longer count. MP_ESTATE
 * before mp_cluster_init or after mp_cluster_finalize. Never blocks. */
MP_EXTERN int mp_cluster_nodes(void);

/* mp_cluster_workers returns how many worker processes run tasks on those
 * ranks (rank 0's own included). MP_ESTATE as mp_cluster_nodes. */
MP_EXTERN int mp_cluster_workers(void);

/* mp_cluster_rank returns the MPI rank of the node this process belongs
 * to: in a task, the rank of the node running it; 0 on rank 0 and
 * without mpirun. Never fails. */
MP_EXTERN int mp_cluster_rank(void);

#ifdef __cplusplus
}
#endif
#endif /* MP_CLUSTER_H */
