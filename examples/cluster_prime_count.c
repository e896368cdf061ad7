/* cluster_prime_count.c - count the primes below N over a cluster: the
 * range is cut into pieces, each node sieves the pieces it is sent, and
 * rank 0 adds the counts up.
 *
 *     mpirun -np 3 ./cluster_prime_count 100000000
 *     mpirun --hostfile hosts -np 9 ./cluster_prime_count 1000000000
 *     ./cluster_prime_count 10000000        # no mpirun: a local pool
 *
 * In Python with mpi4py.futures:
 *
 *     def count(lo_hi):
 *         lo, hi = lo_hi
 *         return sum(1 for n in range(lo, hi) if is_prime(n))
 *
 *     with MPIPoolExecutor() as ex:
 *         print(sum(ex.map(count, pieces)))
 *
 * A piece travels as two numbers and comes back as one: what crosses the
 * network is tiny beside the work, which is how a cluster pays off. */
#include "example_util.h"

#include <mp/cluster.h>
#include <stdint.h>

struct piece {
    uint64_t lo, hi; /* count the primes in [lo, hi) */
};

struct count {
    uint64_t primes; /* how many */
    int32_t rank;    /* the rank that counted them */
    int32_t pad;
};

/* A segmented sieve of Eratosthenes over [lo, hi): the small primes up to
 * sqrt(hi) cross out their multiples in the segment. */
static int count_primes(const void *arg, void *result)
{
    const struct piece *pc = arg;
    uint64_t lo = pc->lo < 2 ? 2 : pc->lo, hi = pc->hi;
    struct count *out = result;
    *out = (struct count){0, mp_cluster_rank(), 0};
    if (hi <= lo)
        return 0;
    uint64_t root = (uint64_t)sqrt((double)hi) + 1;
    char *small = calloc(root + 1, 1), *seg = calloc(hi - lo, 1);
    if (small == NULL || seg == NULL) {
        free(small);
        free(seg);
        return ENOMEM;
    }
    for (uint64_t p = 2; p <= root; p++) {
        if (small[p])
            continue;
        for (uint64_t m = p * p; m <= root; m += p)
            small[m] = 1;
        uint64_t first = (lo + p - 1) / p * p;
        if (first < p * p)
            first = p * p;
        for (uint64_t m = first; m < hi; m += p)
            seg[m - lo] = 1;
    }
    for (uint64_t i = 0; i < hi - lo; i++)
        out->primes += !seg[i];
    free(small);
    free(seg);
    return 0;
}
MP_TASK(count_primes, sizeof(struct piece), sizeof(struct count))

int main(int argc, char **argv)
{
    mp_pool *pool;
    int rc = mp_cluster_init(&argc, &argv, NULL, &pool);
    if (rc == MP_CLUSTER_SERVED)
        return 0;
    CHECK(rc < 0 ? rc : 0);

    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 10000000;
    enum { PIECES = 64 };
    struct piece pieces[PIECES];
    struct count counts[PIECES];
    for (int i = 0; i < PIECES; i++)
        pieces[i] = (struct piece){n * (uint64_t)i / PIECES, n * (uint64_t)(i + 1) / PIECES};
    /* One piece per chunk: the nodes take the next as they finish. */
    CHECK(
        mp_pool_map(pool, count_primes, pieces, PIECES, sizeof *pieces, counts, sizeof *counts, 1));
    uint64_t total = 0;
    int per_rank[64] = {0};
    for (int i = 0; i < PIECES; i++) {
        total += counts[i].primes;
        if (counts[i].rank >= 0 && counts[i].rank < 64)
            per_rank[counts[i].rank]++;
    }
    printf("primes below %llu: %llu\n", (unsigned long long)n, (unsigned long long)total);
    for (int r = 0; r < 64; r++)
        if (per_rank[r] > 0)
            printf("rank %d counted %d pieces\n", r, per_rank[r]);
    CHECK(mp_pool_close(pool));
    CHECK(mp_pool_join(pool));
    CHECK(mp_cluster_finalize());
    return 0;
}
