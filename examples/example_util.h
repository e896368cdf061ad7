/* example_util.h - the few helpers every example program shares.
 *
 * Each example is its own program, so these are static functions in a
 * header. They stand in for Python's time.sleep, random.random and for the
 * exception a failed call would raise.
 *
 *   MP_EXAMPLE_TIME_SCALE  a factor applied to every sleep (default 1, the
 *                          tutorial's timing); the tests run with 0.05. */
#ifndef EXAMPLE_UTIL_H
#define EXAMPLE_UTIL_H

#include <mp.h>

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* CHECK(call) runs a libmp call and stops the program with a message when
 * it fails, as an uncaught exception would in Python; it passes the
 * call's value through. CHECK_NEW does the same for constructors, which
 * return NULL with errno set. */
#define CHECK(call)     example_check((call), #call, __FILE__, __LINE__)
#define CHECK_NEW(call) example_check_new((call), #call, __FILE__, __LINE__)

static inline int example_check(int rc, const char *what, const char *file, int line)
{
    if (rc < 0) {
        fprintf(stderr, "%s:%d: %s: %s (%s)\n", file, line, what, mp_strerror(rc), mp_err_name(rc));
        exit(1);
    }
    return rc;
}

static inline void *example_check_new(void *obj, const char *what, const char *file, int line)
{
    if (obj == NULL) {
        fprintf(stderr, "%s:%d: %s: %s\n", file, line, what, mp_strerror(-errno));
        exit(1);
    }
    return obj;
}

/* example_time_scale reads MP_EXAMPLE_TIME_SCALE once: a factor for every
 * sleep, so the tests can run the tutorials' timing twenty times faster. */
static inline double example_time_scale(void)
{
    static double scale = -1;
    if (scale < 0) {
        const char *s = getenv("MP_EXAMPLE_TIME_SCALE");
        char *end;
        double v = s ? strtod(s, &end) : 1;
        scale = (s && (end == s || !(v >= 0))) ? 1 : v; /* junk or NaN: real time */
    }
    return scale;
}

/* example_sleep is Python's time.sleep(seconds), scaled; a signal does not
 * cut it short. */
static inline void example_sleep(double seconds)
{
    double t = seconds * example_time_scale();
    if (!(t > 0))
        return;
    struct timespec ts = {(time_t)t, (long)((t - floor(t)) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* example_scaled returns seconds scaled like example_sleep, for the
 * timeouts of waits the tutorials time against their sleeps (join(1)). */
static inline double example_scaled(double seconds)
{
    return seconds * example_time_scale();
}

/* example_random is Python's random.random(): a double in [0, 1). Like
 * Python after a fork, every process gets its own sequence: the generator
 * is seeded again the first time a new process calls it. */
static inline double example_random(void)
{
    static pid_t seeded_by;
    if (seeded_by != getpid()) {
        seeded_by = getpid();
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        srand48((long)now.tv_nsec ^ ((long)getpid() << 16));
    }
    return drand48();
}

/* example_now is Python's time.time() as the examples use it: seconds from
 * an arbitrary start, for measuring how long something took. */
static inline double example_now(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec + now.tv_nsec / 1e9;
}

/* example_listdir is os.listdir(dir) for the copiers: the names of the
 * regular files in dir (sub-folders are skipped: "文件夹嵌套不考虑"), in
 * the order the system lists them, as an array of malloc'd strings in
 * *names. Returns how many, or -errno when dir cannot be read. Release
 * them with example_free_names. */
static inline int example_listdir(const char *dir, char ***names)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -errno;
    char **list = NULL;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue; /* ".", "..", sub-folders */
        char **grown = realloc(list, (n + 1) * sizeof *list);
        if (grown == NULL || (grown[n] = strdup(e->d_name)) == NULL) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
        list = grown;
        n++;
    }
    closedir(d);
    *names = list;
    return n;
}

static inline void example_free_names(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* example_line_buffered runs before main: it makes stdout line-buffered
 * even into a pipe or file, so every process writes each line as it
 * prints it. The lines of several processes then interleave as they do in
 * the tutorials' terminals, and a child stopped by terminate or by its
 * daemon parent's exit has shown what it printed (Python, printing into a
 * pipe, would have lost it in its buffer). */
__attribute__((constructor)) static void example_line_buffered(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
}

#endif /* EXAMPLE_UTIL_H */
