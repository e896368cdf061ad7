/* func_a_b.c - two tasks in one process run one after the other.
 *
 * Ports 003_0a6313e0c9076710.txt, 第一课 2.3 "多进程的作用" (hello.py):
 *
 *     def func_a():
 *         print("任务A")
 *
 *     def func_b():
 *         print("任务B")
 *
 *     func_a()
 *     func_b()
 *
 * No libmp yet: this is the single-process program the lesson starts from
 * (func_b waits for func_a). sing_dance_processes.c runs tasks at once. */
#include <stdio.h>

static void func_a(void)
{
    printf("任务A\n");
}

static void func_b(void)
{
    printf("任务B\n");
}

int main(void)
{
    func_a();
    func_b();
    return 0;
}
