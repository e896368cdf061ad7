/* sing_dance.c - a singer and a dancer perform at once, in two processes.
 *
 * libmp's main demo. Ports 004_5b1efd9928a0ec55.txt, 5.2 "python实现多进程"
 * (net04_getpid.py):
 *
 *     import multiprocessing
 *     import os
 *     import time
 *
 *     def sing():
 *         print('唱歌进程pid: %d' % os.getpid())
 *         for i in range(5):
 *             print('正在唱歌呢 %d' % i)
 *             time.sleep(1)  # 休息1秒
 *
 *     def dance():
 *         print('跳舞进程pid: %d' % os.getpid())
 *         for i in range(5):
 *             print('正在跳舞呢 %d' % i)
 *             time.sleep(1)  # 休息1秒
 *
 *     if __name__ == '__main__':
 *         print('父进程pid: %d' % os.getpid())
 *         p1 = multiprocessing.Process(target=sing)  # 创建唱歌进程
 *         p2 = multiprocessing.Process(target=dance)  # 创建跳舞进程
 *         p1.start()  # 开始运行进程sing
 *         p2.start()  # 开始运行进程dance
 *
 * It also serves net04_sing_dance_multiprocess.py, the same program
 * without the three pid lines, and 003_0a6313e0c9076710.txt's sing/dance
 * with pids (sing_dance_pid.c has that lesson's exact text).
 *
 * Three processes, three pids: the parent's and one per child. The two
 * children sleep at the same time, so the whole show takes five seconds,
 * not ten. Python joins the children when the program ends; so would
 * libmp, but the joins are written out here. */
#include "example_util.h"

static int sing(void *arg)
{
    printf("唱歌进程pid: %d\n", (int)getpid());
    for (int i = 0; i < 5; i++) {
        printf("正在唱歌呢 %d\n", i);
        example_sleep(1); /* 休息1秒 */
    }
    return 0;
}

static int dance(void *arg)
{
    printf("跳舞进程pid: %d\n", (int)getpid());
    for (int i = 0; i < 5; i++) {
        printf("正在跳舞呢 %d\n", i);
        example_sleep(1); /* 休息1秒 */
    }
    return 0;
}

int main(void)
{
    printf("父进程pid: %d\n", (int)getpid());
    mp_process *p1 = CHECK_NEW(mp_process_new(sing, NULL, NULL));  /* 创建唱歌进程 */
    mp_process *p2 = CHECK_NEW(mp_process_new(dance, NULL, NULL)); /* 创建跳舞进程 */
    CHECK(mp_process_start(p1));                                   /* 开始运行进程sing */
    CHECK(mp_process_start(p2));                                   /* 开始运行进程dance */

    CHECK(mp_process_join(p1, MP_FOREVER));
    CHECK(mp_process_join(p2, MP_FOREVER));
    mp_process_free(p1);
    mp_process_free(p2);
    return 0;
}
