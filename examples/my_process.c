/* my_process.c - a "subclass" of Process that loops a given number of times.
 *
 * Ports 000_88437d67793eae77.txt, 三.2 "继承 process 类", and the same
 * program in 002_d3d322b25bc90569.txt, 5 "继承 Process 类" (which prints
 * "Pid: " with a space; this port follows 002):
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
 *             p.start()
 *
 * C has no subclasses: the fields of MyProcess become a struct, run()
 * becomes the target, and the struct is the target's argument. */
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
        CHECK(mp_process_start(p));
    }
    return 0;
}
