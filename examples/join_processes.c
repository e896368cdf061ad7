/* join_processes.c - the main process waits for its daemon children.
 *
 * Ports 002_d3d322b25bc90569.txt, 7 "进程等待" (join without a timeout):
 *
 *     class MyProcess(Process):          # as in 5 and 6
 *         ...
 *     if __name__ == '__main__':
 *         print("Main Process start")
 *         processes = []
 *         for i in range(2, 5):
 *             p = MyProcess(i)
 *             processes.append(p)
 *             p.daemon = True
 *             p.start()
 *         for p in processes:
 *             p.join()
 *
 *         print("Main Process ended")
 *
 * Nine "Pid: ... LoopCount: ..." lines come between the first and last. */
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
    static my_process procs[3];
    mp_process *processes[3];
    printf("Main Process start\n");
    for (int i = 2; i < 5; i++) {
        procs[i - 2].loop = i;
        mp_process *p = CHECK_NEW(mp_process_new(run, &procs[i - 2], NULL));
        processes[i - 2] = p;
        CHECK(mp_process_set_daemon(p, true));
        CHECK(mp_process_start(p));
    }
    for (int i = 0; i < 3; i++)
        CHECK(mp_process_join(processes[i], MP_FOREVER));

    printf("Main Process ended\n");
    return 0;
}
