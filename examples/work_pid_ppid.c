/* work_pid_ppid.c - a child prints its own pid and its parent's.
 *
 * Ports 003_0a6313e0c9076710.txt, 第四课 5.2 "os.getppid()的使用":
 *
 *     def work():
 *         # 获取当前进程的编号
 *         print("work进程编号:", os.getpid())
 *         # 获取父进程的编号
 *         print("work父进程的编号:", os.getppid())
 *
 * The lesson shows only the function; the main part here starts it as a
 * process and prints its own pid first ("主进程编号:", not in the lesson),
 * so the two numbers can be compared. */
#include "example_util.h"

static int work(void *arg)
{
    /* 获取当前进程的编号 */
    printf("work进程编号: %d\n", (int)getpid());
    /* 获取父进程的编号 */
    printf("work父进程的编号: %d\n", (int)getppid());
    return 0;
}

int main(void)
{
    printf("主进程编号: %d\n", (int)getpid());
    mp_process *work_process = CHECK_NEW(mp_process_new(work, NULL, NULL));
    CHECK(mp_process_start(work_process));
    CHECK(mp_process_join(work_process, MP_FOREVER));
    mp_process_free(work_process);
    return 0;
}
