/* consumer.c - a program outside the tree, built against an installed libmp
 * by tests/check_install.sh (the README quick start, verbatim). */
#include <mp.h>
#include <stdio.h>

static int square(const void *arg, void *result)
{
    *(long *)result = *(const long *)arg * *(const long *)arg;
    return 0;
}

static int producer(void *arg)
{
    mp_queue *q = arg;
    for (long i = 0; i < 5; i++)
        mp_queue_put_i64(q, i, MP_FOREVER);
    mp_queue_close(q); /* no sentinel needed: getters drain, then MP_ECLOSED */
    return 0;
}

int main(void)
{
    mp_queue *q = mp_queue_new(0);
    mp_process *p = mp_process_new(producer, q, NULL);
    mp_process_start(p);
    int64_t v;
    while (mp_queue_get_i64(q, &v, 5.0) == 0)
        printf("got %lld\n", (long long)v);
    mp_process_join(p, MP_FOREVER);

    long in[100], out[100];
    for (long i = 0; i < 100; i++)
        in[i] = i;
    mp_pool *pool = mp_pool_new(4);
    int rc = mp_pool_map(pool, square, in, 100, sizeof *in, out, sizeof *out, 0);
    printf("map: %s, out[99] = %ld\n", mp_strerror(rc), out[99]);
    mp_pool_close(pool);
    mp_pool_join(pool);
    mp_pool_free(pool);
    mp_process_free(p);
    mp_queue_free(q);
    return 0;
}
