/* peer_naive_ring.c - the naive shared-memory queue a C programmer writes
 * first: a ring of fixed slots behind one process-shared pthread mutex,
 * with a "not empty" and a "not full" condition variable. The baseline a
 * library queue must clearly beat.
 *
 *   peer_naive_ring tput fig=F size=BYTES pairs=N seconds=T depth=SLOTS
 *   peer_naive_ring rt   fig=F size=BYTES seconds=T
 *
 * Every producer and consumer uses one ring (pairs share it); depth 0
 * (an unbounded queue elsewhere) gets 1024 slots. */
#include <pthread.h>

#include "bench.h"

typedef struct {
    pthread_mutex_t mu;       /* guards everything below */
    pthread_cond_t not_empty; /* consumers wait here */
    pthread_cond_t not_full;  /* producers wait here */
    uint64_t head, tail;      /* slots taken, slots filled (ever) */
    uint32_t slots, stride;   /* slot count; bytes per slot (length + payload) */
    unsigned char data[];
} naive;

static naive *naive_new(uint32_t slots, size_t size)
{
    size_t stride = (size + sizeof(uint64_t) + 7) & ~(size_t)7;
    naive *r = bench_shared(sizeof *r + slots * stride);
    pthread_mutexattr_t ma;
    pthread_condattr_t ca;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    pthread_condattr_init(&ca);
    pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(&r->mu, &ma);
    pthread_cond_init(&r->not_empty, &ca);
    pthread_cond_init(&r->not_full, &ca);
    r->slots = slots;
    r->stride = (uint32_t)stride;
    return r;
}

static int chan_put(void *ctx, int chan, const void *msg, size_t len)
{
    naive *r = ((naive **)ctx)[chan];
    pthread_mutex_lock(&r->mu);
    while (r->tail - r->head == r->slots)
        pthread_cond_wait(&r->not_full, &r->mu);
    unsigned char *slot = r->data + (r->tail % r->slots) * r->stride;
    uint64_t n = len;
    memcpy(slot, &n, sizeof n);
    memcpy(slot + sizeof n, msg, len);
    r->tail++;
    pthread_cond_signal(&r->not_empty);
    pthread_mutex_unlock(&r->mu);
    return 0;
}

static long chan_get(void *ctx, int chan, void *buf, size_t cap)
{
    naive *r = ((naive **)ctx)[chan];
    pthread_mutex_lock(&r->mu);
    while (r->tail == r->head)
        pthread_cond_wait(&r->not_empty, &r->mu);
    unsigned char *slot = r->data + (r->head % r->slots) * r->stride;
    uint64_t n;
    memcpy(&n, slot, sizeof n);
    if (n > cap)
        n = cap;
    memcpy(buf, slot + sizeof n, n);
    r->head++;
    pthread_cond_signal(&r->not_full);
    pthread_mutex_unlock(&r->mu);
    return (long)n;
}

int main(int argc, char **argv)
{
    const char *mode = bench_mode(argc, argv);
    const char *fig = bench_arg(argc, argv, "fig", mode);
    size_t size = (size_t)bench_argl(argc, argv, "size", 8);
    double seconds = bench_argf(argc, argv, "seconds", 0.2);
    naive *q[8];
    bench_chan ch = {chan_put, chan_get, q};

    if (strcmp(mode, "tput") == 0) {
        int pairs = (int)bench_argl(argc, argv, "pairs", 1);
        long depth = bench_argl(argc, argv, "depth", 1024);
        if (pairs < 1 || pairs > 8)
            bench_die("pairs", -EINVAL);
        q[0] = naive_new(depth > 0 ? (uint32_t)depth : 1024, size);
        for (int i = 1; i < pairs; i++)
            q[i] = q[0];
        bench_result(fig, "naive_ring", bench_tput(&ch, pairs, size, seconds), "msgs/s");
    } else if (strcmp(mode, "rt") == 0) {
        q[0] = naive_new(64, 256);
        q[1] = naive_new(64, 256);
        bench_result(fig, "naive_ring", bench_rt(&ch, size, seconds), "us");
    } else {
        fprintf(stderr, "usage: %s tput|rt [key=value...]\n", argv[0]);
        return 2;
    }
    return 0;
}
