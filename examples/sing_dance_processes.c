/* sing_dance_processes.c - sing and dance at once, in two processes.
 *
 * Ports 003_0a6313e0c9076710.txt, 第二课 3.3 "进程创建与启动的代码":
 *
 *     if __name__ == '__main__':
 *         # 2. 使用进程类创建进程对象
 *         # target: 指定进程执行的函数名
 *         sing_process = multiprocessing.Process(target=sing)
 *         dance_process = multiprocessing.Process(target=dance)
 *
 *         # 3. 使用进程对象启动进程执行指定任务
 *         sing_process.start()
 *         dance_process.start()
 *
 * with sing and dance as in sing_dance_sequential.c. The 唱歌 and 跳舞
 * lines now alternate, and the whole takes one and a half seconds. */
#include "example_util.h"

/* 唱歌 */
static int sing(void *arg)
{
    for (int i = 0; i < 3; i++) {
        printf("唱歌...\n");
        example_sleep(0.5);
    }
    return 0;
}

/* 跳舞 */
static int dance(void *arg)
{
    for (int i = 0; i < 3; i++) {
        printf("跳舞...\n");
        example_sleep(0.5);
    }
    return 0;
}

int main(void)
{
    /* 2. 使用进程类创建进程对象 */
    mp_process *sing_process = CHECK_NEW(mp_process_new(sing, NULL, NULL));
    mp_process *dance_process = CHECK_NEW(mp_process_new(dance, NULL, NULL));

    /* 3. 使用进程对象启动进程执行指定任务 */
    CHECK(mp_process_start(sing_process));
    CHECK(mp_process_start(dance_process));
    return 0;
}
