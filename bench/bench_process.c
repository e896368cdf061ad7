/* bench_process.c - libmp processes: start + join of a process whose
 * target returns at once.
 *
 *   bench_process spawn fig=F seconds=T   us per new+start+join+free */
#include "bench.h"
#include "mp.h"

static int noop(void *arg)
{
    (void)arg;
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = bench_mode(argc, argv);
    const char *fig = bench_arg(argc, argv, "fig", mode);
    double seconds = bench_argf(argc, argv, "seconds", 0.2);

    if (strcmp(mode, "spawn") != 0) {
        fprintf(stderr, "usage: %s spawn [key=value...]\n", argv[0]);
        return 2;
    }
    long n = 0;
    double t0 = bench_now(), t1 = t0;
    do {
        mp_process *p = mp_process_new(noop, NULL, NULL);
        if (!p)
            bench_die("mp_process_new", -errno);
        int rc = mp_process_start(p);
        if (rc == 0)
            rc = mp_process_join(p, MP_FOREVER);
        if (rc != 0)
            bench_die("mp_process_start/join", rc);
        mp_process_free(p);
        n++;
    } while ((t1 = bench_now()) - t0 < seconds);
    bench_result(fig, "libmp", (t1 - t0) / (double)n * 1e6, "us");
    return 0;
}
