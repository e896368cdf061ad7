/* global_num_not_shared.c - parent, singer and dancer each count alone.
 *
 * Ports 004_5b1efd9928a0ec55.txt, 5.3 "进程间不共享全局变量"
 * (net04_global_variables.py):
 *
 *     global_num = 0
 *
 *     def sing():
 *         global global_num
 *         print('开始:全局变量sing global_num= ', global_num)
 *         for i in range(5):
 *             print('正在唱歌呢 %d' % i)
 *             global_num = global_num + 1  # 修改全局变量
 *             time.sleep(1)  # 休息1秒
 *         print('结束:全局变量sing global_num= ', global_num)
 *
 *     def dance():
 *         ... the same with 'dance' and '正在跳舞呢 %d' ...
 *
 *     if __name__ == '__main__':
 *         print('开始:全局变量main global_num= ', global_num)
 *         p1 = multiprocessing.Process(target=sing)  # 创建唱歌进程
 *         p2 = multiprocessing.Process(target=dance)  # 创建跳舞进程
 *         p1.start()
 *         p2.start()
 *         p1.join()  # 待子进程p1执行完毕后再执行下面的语句
 *         p2.join()  # 待子进程p2执行完毕后再执行下面的语句
 *         print('结束:全局变量main global_num= ', global_num)
 *
 * Each child ends with 5, the parent with 0. */
#include "example_util.h"

static int global_num = 0;

static int sing(void *arg)
{
    printf("开始:全局变量sing global_num=  %d\n", global_num);
    for (int i = 0; i < 5; i++) {
        printf("正在唱歌呢 %d\n", i);
        global_num = global_num + 1; /* 修改全局变量 */
        example_sleep(1);            /* 休息1秒 */
    }
    printf("结束:全局变量sing global_num=  %d\n", global_num);
    return 0;
}

static int dance(void *arg)
{
    printf("开始:全局变量dance global_num=  %d\n", global_num);
    for (int i = 0; i < 5; i++) {
        printf("正在跳舞呢 %d\n", i);
        global_num = global_num + 1; /* 修改全局变量 */
        example_sleep(1);            /* 休息1秒 */
    }
    printf("结束:全局变量dance global_num=  %d\n", global_num);
    return 0;
}

int main(void)
{
    printf("开始:全局变量main global_num=  %d\n", global_num);
    mp_process *p1 = CHECK_NEW(mp_process_new(sing, NULL, NULL));  /* 创建唱歌进程 */
    mp_process *p2 = CHECK_NEW(mp_process_new(dance, NULL, NULL)); /* 创建跳舞进程 */
    CHECK(mp_process_start(p1));
    CHECK(mp_process_start(p2));
    CHECK(mp_process_join(p1, MP_FOREVER)); /* 待子进程p1执行完毕后再执行下面的语句 */
    CHECK(mp_process_join(p2, MP_FOREVER)); /* 待子进程p2执行完毕后再执行下面的语句 */
    printf("结束:全局变量main global_num=  %d\n", global_num);
    return 0;
}
