/* progress.c - mpcopy's progress bar (a thread of the parent that redraws
 * from the shared counters a few times a second) and its final summary. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "mpcopy.h"

struct mpc_totals mpc_total;

/* Bytes one file "costs" beside its data, for the percentage and the ETA:
 * creating a file takes about as long as copying this much. */
#define FILE_WEIGHT (32.0 * 1024)

static pthread_t bar_thread;
static _Atomic bool bar_stop;
static bool bar_running;
static double t_start;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "12.3 MiB" style sizes. */
static void human(char *buf, size_t cap, double v)
{
    static const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    int u = 0;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, cap, "%.0f %s", v, unit[u]);
    else
        snprintf(buf, cap, "%.*f %s", v < 10 ? 2 : v < 100 ? 1 : 0, v, unit[u]);
}

static int term_width(void)
{
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
        return ws.ws_col;
    return 80;
}

static void draw(void)
{
    uint64_t fd = atomic_load(&mpc_count->files) + atomic_load(&mpc_count->failed) +
                  atomic_load(&mpc_count->skipped);
    uint64_t bd = atomic_load(&mpc_count->bytes);
    uint64_t ft = atomic_load(&mpc_total.files);
    uint64_t bt = atomic_load(&mpc_total.bytes);
    bool walked = atomic_load(&mpc_total.walk_done);
    if (fd > ft)
        fd = ft;
    if (bd > bt)
        bd = bt;
    double el = now() - t_start;
    double work = (double)bt + (double)ft * FILE_WEIGHT;
    double done = (double)bd + (double)fd * FILE_WEIGHT;
    double frac = work > 0 ? done / work : 0;
    char sd[32], st[32], rate[32], eta[32];
    human(sd, sizeof sd, (double)bd);
    human(st, sizeof st, (double)bt);
    human(rate, sizeof rate, el > 0 ? (double)bd / el : 0);
    if (walked && frac > 0.01 && frac < 1) {
        long s = (long)(el * (1 - frac) / frac + 0.5);
        snprintf(eta, sizeof eta, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    } else {
        snprintf(eta, sizeof eta, "--:--:--");
    }
    char info[256];
    int n = snprintf(info, sizeof info, " %3.0f%% %llu/%llu%s files %s/%s%s %s/s ETA %s",
                     frac * 100, (unsigned long long)fd, (unsigned long long)ft, walked ? "" : "+",
                     sd, st, walked ? "" : "+", rate, eta);
    int width = term_width() - 1;
    int barw = width - n - 2;
    char line[1024];
    size_t k = 0;
    k += (size_t)snprintf(line + k, sizeof line - k, "\r");
    if (barw >= 10) {
        if (barw > 60)
            barw = 60;
        int fill = (int)(frac * barw);
        line[k++] = '[';
        for (int i = 0; i < barw; i++)
            line[k++] = i < fill ? '#' : '.';
        line[k++] = ']';
    }
    k += (size_t)snprintf(line + k, sizeof line - k, "%.*s\033[K", width, info);
    ssize_t w = write(STDERR_FILENO, line, k);
    (void)w;
}

static void *bar_main(void *arg)
{
    (void)arg;
    /* Drawn once even when the copy ends before this thread first runs:
     * a terminal always sees the bar before it is cleared. */
    do {
        draw();
        struct timespec ts = {0, 200 * 1000 * 1000}; /* 5 redraws a second */
        nanosleep(&ts, NULL);
    } while (!atomic_load(&bar_stop));
    return NULL;
}

int mpc_progress_start(void)
{
    t_start = now();
    if (!mpc.bar)
        return 0;
    if (pthread_create(&bar_thread, NULL, bar_main, NULL) != 0) {
        mpc.bar = false;
        return -1;
    }
    bar_running = true;
    return 0;
}

void mpc_progress_stop(void)
{
    if (!bar_running)
        return;
    atomic_store(&bar_stop, true);
    pthread_join(bar_thread, NULL);
    bar_running = false;
    /* Clear the bar's line. */
    ssize_t w = write(STDERR_FILENO, "\r\033[K", 4);
    (void)w;
}

void mpc_summary(double seconds)
{
    uint64_t files = atomic_load(&mpc_count->files);
    uint64_t bytes = atomic_load(&mpc_count->bytes);
    uint64_t failed = atomic_load(&mpc_count->failed);
    uint64_t skipped = atomic_load(&mpc_count->skipped);
    char b[32], r[32];
    human(b, sizeof b, (double)bytes);
    human(r, sizeof r, seconds > 0 ? (double)bytes / seconds : 0);
    char extra[96] = "";
    size_t n = 0;
    if (skipped)
        n += (size_t)snprintf(extra + n, sizeof extra - n, ", %llu kept (existing)",
                              (unsigned long long)skipped);
    if (failed)
        snprintf(extra + n, sizeof extra - n, ", %llu failed", (unsigned long long)failed);
    fprintf(stderr, "mpcopy: %llu files, %s copied in %.2f s (%s/s)%s\n", (unsigned long long)files,
            b, seconds, r, extra);
}
