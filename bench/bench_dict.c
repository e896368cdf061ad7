/* bench_dict.c - libmp's shared dict (Python's Manager().dict()).
 *
 *   bench_dict mix fig=F procs=2 keys=10000 seconds=T
 *       operations/s of 50% get, 50% set of 8-byte keys and values over
 *       `keys` keys (all present beforehand), from `procs` processes
 *   bench_dict add fig=F procs=2 seconds=T
 *       mp_dict_add_i64 on one hot key, operations/s over all processes
 *
 * The loops are those of bench/py/bench_dict.py, floor_dict.c and
 * peer_boost_dict.cpp, so every column does the same work. */
#include "bench.h"
#include "mp.h"

typedef struct {
    mp_dict *d;
    uint64_t keys; /* key space of the mix */
    uint64_t rng;  /* this process's random state */
    int owner;     /* 1 + the worker rng was seeded for */
} dict_ctx;

static int mix_op(void *arg)
{
    dict_ctx *c = arg;
    uint64_t r = bench_rand(&c->rng, &c->owner);
    uint64_t k = (r >> 1) % c->keys, v = r;
    if (r & 1)
        return mp_dict_set(c->d, &k, sizeof k, &v, sizeof v);
    size_t n;
    return mp_dict_get(c->d, &k, sizeof k, &v, sizeof v, &n);
}

/* warm reads every key once in each worker before the clock starts. */
static int warm(void *arg)
{
    dict_ctx *c = arg;
    for (uint64_t k = 0; k < c->keys; k++) {
        uint64_t v;
        size_t n;
        if (mp_dict_get(c->d, &k, sizeof k, &v, sizeof v, &n) != 0)
            return 1;
    }
    return 0;
}

static int add_op(void *arg)
{
    dict_ctx *c = arg;
    uint64_t k = 0;
    return mp_dict_add_i64(c->d, &k, sizeof k, 1, NULL);
}

int main(int argc, char **argv)
{
    const char *mode = bench_mode(argc, argv);
    const char *fig = bench_arg(argc, argv, "fig", mode);
    double seconds = bench_argf(argc, argv, "seconds", 0.2);
    int procs = (int)bench_argl(argc, argv, "procs", 2);
    dict_ctx c = {mp_dict_new(), (uint64_t)bench_argl(argc, argv, "keys", 10000), 0, 0};
    if (c.d == NULL)
        bench_die("mp_dict_new", -errno);
    if (strcmp(mode, "mix") == 0) {
        for (uint64_t k = 0; k < c.keys; k++) {
            int rc = mp_dict_set(c.d, &k, sizeof k, &k, sizeof k);
            if (rc != 0)
                bench_die("mp_dict_set", rc);
        }
        bench_warm = warm;
        bench_result(fig, "libmp", bench_ops(procs, seconds, mix_op, &c), "ops/s");
    } else if (strcmp(mode, "add") == 0) {
        bench_result(fig, "libmp", bench_ops(procs, seconds, add_op, &c), "ops/s");
        int64_t total;
        size_t n;
        uint64_t k = 0;
        if (mp_dict_get(c.d, &k, sizeof k, &total, sizeof total, &n) != 0 || total <= 0)
            bench_die("the counter's total", -EIO);
    } else {
        fprintf(stderr, "usage: %s mix|add [key=value...]\n", argv[0]);
        return 2;
    }
    mp_dict_free(c.d);
    return 0;
}
