/* join_timeout.c - join with a timeout: stop waiting after a second.
 *
 * Ports 002_d3d322b25bc90569.txt, 7 "进程等待" (join(1)):
 *
 *     class MyProcess(Process):          # as in 5 and 6
 *         ...
 *     if __name__ == '__main__':
 *         processes = []
 *         for i in range(3, 5):
 *             p = MyProcess(i)
 *             processes.append(p)
 *             p.daemon = True
 *             p.start()
 *         for p in processes:
 *             p.join(1)
 *     print("Main Process ended")
 *
 * Each join gives up after one second (scaled like the sleeps), so the
 * main process ends after about two; its daemon children are terminated
 * then, after two rounds of the three and four they were asked for. */
#include "example_util.h"

typedef struct {
    int loop; /* self.loop */
} my_process;

static int run(void *arg)
{
    my_process *self = arg;
    for (int count = 0; count < self->loop; count++) {
        example_sleep(1);
        printf("Pid: %d LoopCount: %d\n", (int)getpid(), count);
    }
    return 0;
}

int main(void)
{
    static my_process procs[2];
    mp_process *processes[2];
    for (int i = 3; i < 5; i++) {
        procs[i - 3].loop = i;
        mp_process *p = CHECK_NEW(mp_process_new(run, &procs[i - 3], NULL));
        processes[i - 3] = p;
        CHECK(mp_process_set_daemon(p, true));
        CHECK(mp_process_start(p));
    }
    for (int i = 0; i < 2; i++) {
        int rc = mp_process_join(processes[i], example_scaled(1));
        if (rc != MP_ETIMEDOUT) /* still running after a second: expected */
            CHECK(rc);
    }
    printf("Main Process ended\n");
    return 0;
}
