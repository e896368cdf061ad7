/* pid_ppid.c - a child prints its pid; its parent's pid is the parent's.
 *
 * Ports 001_bb4e7dca5de295eb.txt, 三 "进程的pid name":
 *
 *     def run_proc():
 *         """子进程要执行的代码"""
 *         print('子进程运行中，pid=%d...' % os.getpid())  # os.getpid获取当前进程的进程号
 *         print('子进程将要结束...')
 *
 *     if __name__ == '__main__':
 *         print('父进程pid: %d' % os.getpid())  # os.getpid获取当前进程的进程号
 *         p = Process(target=run_proc)
 *         p.start()
 *
 * The section goes on: "在子进程中os.getppid()，可以得到父进程的pid" (and
 * that a process's name defaults to Process-N). The child here also prints
 * getppid() and its name, which the Python does not, to show both. */
#include "example_util.h"

static int run_proc(void *arg)
{
    /* 子进程要执行的代码 */
    printf("子进程运行中，pid=%d...\n", (int)getpid());
    printf("ppid=%d name=%s\n", (int)getppid(), mp_process_name(mp_current_process()));
    printf("子进程将要结束...\n");
    return 0;
}

int main(void)
{
    printf("父进程pid: %d\n", (int)getpid());
    mp_process *p = CHECK_NEW(mp_process_new(run_proc, NULL, NULL));
    CHECK(mp_process_start(p));
    return 0;
}
