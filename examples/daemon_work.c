/* daemon_work.c - a daemon child is destroyed when the main process ends.
 *
 * Ports 003_0a6313e0c9076710.txt, 第五课 6.2 "设置守护主进程":
 *
 *     def work():
 *         for i in range(10):
 *             print("工作中...")
 *             time.sleep(0.2)
 *
 *     if __name__ == '__main__':
 *         # 创建子进程
 *         work_process = multiprocessing.Process(target=work)
 *         # 设置守护主进程，主进程退出后子进程直接销毁，不再执行子进程中的代码
 *         work_process.daemon = True
 *         work_process.start()
 *         # 让主进程等待1秒钟
 *         time.sleep(1)
 *         print("主进程执行完成了啦")
 *
 * About five 工作中... lines, then "主进程执行完成了啦" is the last line:
 * returning from main terminates the daemon child. */
#include "example_util.h"

static int work(void *arg)
{
    for (int i = 0; i < 10; i++) {
        printf("工作中...\n");
        example_sleep(0.2);
    }
    return 0;
}

int main(void)
{
    /* 创建子进程 */
    mp_process *work_process = CHECK_NEW(mp_process_new(work, NULL, NULL));
    /* 设置守护主进程，主进程退出后子进程直接销毁，不再执行子进程中的代码 */
    CHECK(mp_process_set_daemon(work_process, true));
    CHECK(mp_process_start(work_process));
    /* 让主进程等待1秒钟 */
    example_sleep(1);
    printf("主进程执行完成了啦\n");
    return 0;
}
