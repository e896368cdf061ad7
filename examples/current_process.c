/* current_process.c - a child asks who it is: name, pid, is_alive.
 *
 * Ports 002_d3d322b25bc90569.txt, 4 "直接使用 Process 类" (示例二):
 *
 *     def start(i):
 *         time.sleep(3)
 *         print(i)
 *         print(multiprocessing.current_process().name) # 当前进程的名字
 *         print(multiprocessing.current_process().pid) # 进程控制符
 *         print(multiprocessing.current_process().is_alive()) # 判断进程是否存活
 *
 *     if __name__ == '__main__':
 *         print('start')
 *         p = multiprocessing.Process(target=start, args=(1,), name='p1')
 *         p.start()
 *         print('stop')
 *
 * Prints start, stop, then (three seconds later) 1, p1, the pid, True. */
#include "example_util.h"

static int start(void *arg)
{
    int i = *(int *)arg;
    example_sleep(3);
    printf("%d\n", i);
    mp_process *me = mp_current_process();
    printf("%s\n", mp_process_name(me));                        /* 当前进程的名字 */
    printf("%d\n", (int)mp_process_pid(me));                    /* 进程控制符 */
    printf("%s\n", mp_process_is_alive(me) ? "True" : "False"); /* 判断进程是否存活 */
    return 0;
}

int main(void)
{
    static int one = 1;
    printf("start\n");
    mp_process *p = CHECK_NEW(mp_process_new(start, &one, &(mp_process_opts){.name = "p1"}));
    CHECK(mp_process_start(p));
    printf("stop\n");
    return 0;
}
