/* lock_print.c - five processes print; a lock keeps their lines whole.
 *
 * Ports 002_d3d322b25bc90569.txt, 9 "进程互斥锁", both versions: without
 * the lock (the two lines commented out) and with it:
 *
 *     class MyProcess(Process):
 *         def __init__(self, loop, lock):
 *             Process.__init__(self)
 *             self.loop = loop
 *             self.lock = lock
 *
 *         def run(self):
 *             for count in range(self.loop):
 *                 time.sleep(0.1)
 *                 # self.lock.acquire()
 *                 print(f"Pid: {self.pid} LoopCount: {count}")
 *                 # self.lock.release()
 *
 *     if __name__ == '__main__':
 *         lock = Lock()
 *         for i in range(10, 15):
 *             p = MyProcess(i, lock)
 *             p.start()
 *
 * Run `lock_print` for the version with the lock, `lock_print --no-lock`
 * for the one without. Python's print writes the text and the newline
 * separately, and another process can write in between: that is how the
 * tutorial's "LoopCount: 1Pid: ..." lines arise. print_line writes the
 * same two pieces, so the unlocked version can show the same mix. */
#include "example_util.h"

#include <string.h>

typedef struct {
    int loop;      /* self.loop */
    mp_lock *lock; /* self.lock, or NULL for the version without it */
} my_process;

/* print_line writes like Python's print: the text, then the newline. */
static void print_line(int count)
{
    printf("Pid: %d LoopCount: %d", (int)getpid(), count);
    fflush(stdout);
    printf("\n");
}

static int run(void *arg)
{
    my_process *self = arg;
    for (int count = 0; count < self->loop; count++) {
        example_sleep(0.1);
        if (self->lock)
            CHECK(mp_lock_acquire(self->lock, MP_FOREVER));
        print_line(count);
        if (self->lock)
            CHECK(mp_lock_release(self->lock));
    }
    return 0;
}

int main(int argc, char **argv)
{
    bool use_lock = !(argc > 1 && strcmp(argv[1], "--no-lock") == 0);
    mp_lock *lock = CHECK_NEW(mp_lock_new());
    static my_process procs[5];
    for (int i = 10; i < 15; i++) {
        procs[i - 10] = (my_process){.loop = i, .lock = use_lock ? lock : NULL};
        mp_process *p = CHECK_NEW(mp_process_new(run, &procs[i - 10], NULL));
        CHECK(mp_process_start(p));
    }
    return 0;
}
