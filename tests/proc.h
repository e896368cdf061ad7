/* proc.h - what /proc says of a task: its state and name, and its
 * children. Shared by the tests' fixture (mp_test.h) and the leak-check
 * wrapper (stress/mp_leakcheck.c); plain libc, no cmocka. */
#ifndef MPT_PROC_H
#define MPT_PROC_H

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

/* mpt_proc_state returns the one-letter state of task tid (a process or a
 * thread id): 'R' running or runnable, 'S' asleep in the kernel, 'D' asleep
 * uninterruptibly, 'T' stopped, 'Z' ended and not reaped; '?' once gone.
 * With comm, also its name (up to cap bytes; left alone if gone). */
static inline char mpt_proc_state_name(pid_t tid, char *comm, size_t cap)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)tid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return '?';
    char st = '?';
    if (fgets(buf, sizeof buf, f) != NULL) {
        char *open = strchr(buf, '(');
        char *close = strrchr(buf, ')'); /* the name may hold spaces and ')' */
        if (open != NULL && close != NULL && close[1] == ' ') {
            st = close[2];
            if (comm != NULL)
                snprintf(comm, cap, "%.*s", (int)(close - open - 1), open + 1);
        }
    }
    fclose(f);
    return st;
}

static inline char mpt_proc_state(pid_t tid)
{
    return mpt_proc_state_name(tid, NULL, 0);
}

/* mpt_proc_children appends the children of every thread of process pid
 * to out[n..cap) and returns the new count (n when pid is gone). */
static inline int mpt_proc_children(pid_t pid, pid_t *out, int n, int cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return n;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char kids[128];
        snprintf(kids, sizeof kids, "%s/%.32s/children", path, e->d_name);
        FILE *f = fopen(kids, "r");
        if (f == NULL)
            continue;
        int c;
        while (n < cap && fscanf(f, "%d", &c) == 1)
            out[n++] = c;
        fclose(f);
    }
    closedir(d);
    return n;
}

#endif
