/* main_waits_children.c - the program ends only after its children have.
 *
 * Ports 003_0a6313e0c9076710.txt, 第五课 6.1 "主进程会等待所有的子进程执行结束再结束":
 *
 *     def work():
 *         for i in range(10):
 *             print("工作中...")
 *             time.sleep(0.2)
 *
 *     if __name__ == '__main__':
 *         # 创建子进程
 *         work_process = multiprocessing.Process(target=work)
 *         work_process.start()
 *         # 让主进程等待1秒钟
 *         time.sleep(1)
 *         print("主进程执行完成了啦")
 *         # 总结：主进程会等待所有的子进程执行完成以后程序再退出
 *
 * "主进程执行完成了啦" comes after about five 工作中... lines; the other
 * five follow, because returning from main joins the child first. */
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
    CHECK(mp_process_start(work_process));
    /* 让主进程等待1秒钟 */
    example_sleep(1);
    printf("主进程执行完成了啦\n");
    /* 总结：主进程会等待所有的子进程执行完成以后程序再退出 */
    return 0;
}
