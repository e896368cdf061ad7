/* parent_child_loop.c - parent and child each print in a loop at once.
 *
 * Ports 001_bb4e7dca5de295eb.txt, 二.1 "创建方法和线程一样":
 *
 *     def run_proc():
 *         """子进程要执行的代码"""
 *         while True:
 *             print("----2----")
 *             time.sleep(1)
 *
 *     if __name__=='__main__':
 *         p = Process(target=run_proc)
 *         p.start()
 *         while True:
 *             print("----1----")
 *             time.sleep(1)
 *
 * Both loops run forever in Python. Here the parent stops after ROUNDS
 * rounds, terminates the child (which still loops forever) and joins it. */
#include "example_util.h"

enum { ROUNDS = 5 };

static int run_proc(void *arg)
{
    /* 子进程要执行的代码 */
    for (;;) {
        printf("----2----\n");
        example_sleep(1);
    }
    return 0; /* never reached: the parent terminates this process */
}

int main(void)
{
    mp_process *p = CHECK_NEW(mp_process_new(run_proc, NULL, NULL));
    CHECK(mp_process_start(p));
    for (int round = 0; round < ROUNDS; round++) {
        printf("----1----\n");
        example_sleep(1);
    }
    CHECK(mp_process_terminate(p));
    CHECK(mp_process_join(p, MP_FOREVER));
    mp_process_free(p);
    return 0;
}
