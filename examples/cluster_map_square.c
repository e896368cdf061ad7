/* cluster_map_square.c - pool_map_square.c on a cluster: the same map of
 * a hundred squares, its tasks run by the other MPI ranks.
 *
 *     mpirun -np 3 ./cluster_map_square     # rank 0 + two nodes
 *     ./cluster_map_square                  # no mpirun: a local pool
 *
 * Python's nearest is mpi4py.futures (run with `mpiexec -n 3 python -m
 * mpi4py.futures square.py`):
 *
 *     def function_square(data):
 *         return data*data
 *
 *     if __name__ == '__main__':
 *         with MPIPoolExecutor() as pool:
 *             print("Pool     :", list(pool.map(function_square, range(100))))
 *
 * Every rank runs main. The task is registered by name (MP_TASK), since
 * its address differs from rank to rank; rank 0 gets an ordinary pool,
 * the others serve until rank 0 finishes. The task also says which rank
 * ran it, to show where the work went. */
#include "example_util.h"

#include <mp/cluster.h>

struct square {
    long value; /* the square */
    int rank;   /* the rank whose worker computed it */
};

static int function_square(const void *arg, void *result)
{
    long data = *(const long *)arg;
    *(struct square *)result = (struct square){data * data, mp_cluster_rank()};
    return 0;
}
MP_TASK(function_square, sizeof(long), sizeof(struct square))

int main(int argc, char **argv)
{
    mp_pool *pool;
    int rc = mp_cluster_init(&argc, &argv, NULL, &pool);
    if (rc == MP_CLUSTER_SERVED)
        return 0; /* a node: it has run its share */
    CHECK(rc < 0 ? rc : 0);

    long inputs[100];
    struct square outputs[100];
    for (long i = 0; i < 100; i++)
        inputs[i] = i;
    CHECK(mp_pool_map(pool, function_square, inputs, 100, sizeof *inputs, outputs, sizeof *outputs,
                      0));
    CHECK(mp_pool_close(pool));
    CHECK(mp_pool_join(pool));
    printf("Pool     : [");
    for (int i = 0; i < 100; i++)
        printf(i ? ", %ld" : "%ld", outputs[i].value);
    printf("]\n");

    int nodes = mp_cluster_nodes(), per_rank[64] = {0};
    for (int i = 0; i < 100; i++)
        if (outputs[i].rank >= 0 && outputs[i].rank < 64)
            per_rank[outputs[i].rank]++;
    printf("ranks    : %d\n", nodes);
    for (int r = 0; r < nodes && r < 64; r++)
        if (per_rank[r] > 0)
            printf("rank %d computed %d squares\n", r, per_rank[r]);
    CHECK(mp_cluster_finalize());
    return 0;
}
