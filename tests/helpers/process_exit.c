/* process_exit.c - a program whose main returns while children still run,
 * for test_process: what does libmp's exit handler do with them?
 *
 *   process_exit nondaemon FILE   a child writes "child\n" to FILE after 0.5 s;
 *                                 main's own atexit handler writes "atexit\n"
 *   process_exit daemon FILE      a daemon child writes its pid to FILE and
 *                                 sleeps 30 s; main returns once FILE is written */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mp.h"

static const char *path;

static void append(const char *s)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
        ssize_t n = write(fd, s, strlen(s));
        (void)n;
        close(fd);
    }
}

/* Registered before libmp's handler, so it runs after it. */
static void at_exit(void)
{
    append("atexit\n");
}

static int slow_writer(void *arg)
{
    (void)arg;
    usleep(500 * 1000);
    append("child\n");
    return 0;
}

static int daemon_sleeper(void *arg)
{
    int *pipe_w = arg;
    char buf[32];
    snprintf(buf, sizeof buf, "%d\n", (int)getpid());
    append(buf);
    ssize_t w = write(*pipe_w, "x", 1);
    (void)w;
    sleep(30);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    path = argv[2];
    if (strcmp(argv[1], "nondaemon") == 0) {
        atexit(at_exit);
        mp_process *p = mp_process_new(slow_writer, NULL, NULL);
        if (p == NULL || mp_process_start(p) != 0)
            return 3;
        return 0; /* no join: the exit handler must wait for it */
    }
    if (strcmp(argv[1], "daemon") == 0) {
        int fds[2];
        if (pipe(fds) < 0)
            return 3;
        mp_process *p = mp_process_new(daemon_sleeper, &fds[1], &(mp_process_opts){NULL, true});
        if (p == NULL || mp_process_start(p) != 0)
            return 3;
        char c;
        if (read(fds[0], &c, 1) != 1)
            return 4;
        return 0; /* the exit handler must terminate it */
    }
    return 2;
}
