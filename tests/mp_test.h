/* mp_test.h - what every libmp test file shares: cmocka, and helpers for
 * running code in forked children that report by exit status. */
#ifndef MP_TEST_H
#define MP_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mp.h"

/* Seconds on the monotonic clock, for timing checks with slack. */
static inline double mpt_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Fork a child that runs fn(arg) and _exit()s with its return value; never
 * lets the child return into cmocka. Returns the child's pid. */
static inline pid_t mpt_fork(int (*fn)(void *), void *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        _exit(fn(arg));
    return pid;
}

/* Wait for a child and return its exit status, or 128 + signal. */
static inline int mpt_wait(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        ;
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    return 128 + WTERMSIG(st);
}

/* Number of open file descriptors of this process. */
static inline int mpt_count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

/* Number of zombie children of this process. */
static inline int mpt_count_zombies(void)
{
    char path[64];
    int n = 0;
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)getpid(), (int)getpid());
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    int pid;
    while (fscanf(f, "%d", &pid) == 1) {
        char stat[64], buf[256];
        snprintf(stat, sizeof stat, "/proc/%d/stat", pid);
        FILE *s = fopen(stat, "r");
        if (s == NULL)
            continue;
        if (fgets(buf, sizeof buf, s) != NULL) {
            char *p = strrchr(buf, ')');
            if (p != NULL && p[1] == ' ' && p[2] == 'Z')
                n++;
        }
        fclose(s);
    }
    fclose(f);
    return n;
}

/* Wait up to `seconds` until *v reaches n (children report progress
 * through shared atomics). True once it has, false on time out. */
static inline bool mpt_wait_atomic(_Atomic int *v, int n, double seconds)
{
    double end = mpt_now() + seconds;
    while (atomic_load(v) < n) {
        if (mpt_now() > end)
            return false;
        usleep(1000);
    }
    return true;
}

/* Wait up to `seconds` until a child of ours is a zombie (dead, not yet
 * reaped): the way to know a killed child is gone without reaping it. */
static inline bool mpt_wait_zombie(double seconds)
{
    double end = mpt_now() + seconds;
    while (mpt_count_zombies() < 1) {
        if (mpt_now() > end)
            return false;
        usleep(1000);
    }
    return true;
}

/* The SIGALRM count behind mpt_alarms_*. A static inside a function, so
 * a test file that never uses alarms gets no unused-variable warning. */
static inline volatile sig_atomic_t *mpt__alarms(void)
{
    static volatile sig_atomic_t n;
    return &n;
}

static inline void mpt__on_alarm(int sig)
{
    (void)sig;
    (*mpt__alarms())++;
}

/* Send this process SIGALRM every `usec` microseconds, caught by a handler
 * installed without SA_RESTART, so that every blocking call in between is
 * interrupted with EINTR. Resets mpt_alarms_count() to 0. */
static inline void mpt_alarms_start(long usec)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = mpt__on_alarm;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    *mpt__alarms() = 0;
    struct itimerval it = {{usec / 1000000, usec % 1000000}, {usec / 1000000, usec % 1000000}};
    setitimer(ITIMER_REAL, &it, NULL);
}

/* Stop the alarms of mpt_alarms_start and restore SIGALRM's default. */
static inline void mpt_alarms_stop(void)
{
    struct itimerval off;
    memset(&off, 0, sizeof off);
    setitimer(ITIMER_REAL, &off, NULL);
    signal(SIGALRM, SIG_DFL);
}

/* How many alarms arrived since the last mpt_alarms_start. */
static inline int mpt_alarms_count(void)
{
    return *mpt__alarms();
}

#endif
