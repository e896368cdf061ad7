/* daemon_processes.c - daemon children die with the main process.
 *
 * Ports 002_d3d322b25bc90569.txt, 6 "守护进程":
 *
 *     class MyProcess(Process):
 *         def __init__(self, loop):
 *             Process.__init__(self)
 *             self.loop = loop
 *         def run(self):
 *             for count in range(self.loop):
 *                 time.sleep(1)
 *                 print(f"Pid: {self.pid} LoopCount: {count}")
 *     if __name__ == '__main__':
 *         for i in range(2, 5):
 *             p = MyProcess(i)
 *             p.daemon = True
 *             p.start()
 *     print("Main Process ended")
 *
 * Prints only "Main Process ended": when main returns, libmp terminates
 * its daemon children before they have slept their first second. */
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
    for (int i = 2; i < 5; i++) {
        procs[i - 2].loop = i;
        mp_process *p = CHECK_NEW(mp_process_new(run, &procs[i - 2], NULL));
        CHECK(mp_process_set_daemon(p, true)); /* p.daemon = True */
        CHECK(mp_process_start(p));
    }
    printf("Main Process ended\n");
    return 0;
}
