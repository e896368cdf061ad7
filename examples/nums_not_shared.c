/* nums_not_shared.c - a list changed in one process is unchanged in another.
 *
 * Ports 001_bb4e7dca5de295eb.txt, 四.1 "多进程 可以用全局变量 但是 不共享全局变量":
 *
 *     nums = [11, 22]
 *
 *     def work1():
 *         """子进程要执行的代码"""
 *         print("in process1 pid=%d ,nums=%s" % (os.getpid(), nums))
 *         for i in range(3):
 *             nums.append(i)
 *             time.sleep(1)
 *             print("in process1 pid=%d ,nums=%s" % (os.getpid(), nums))
 *
 *     def work2():
 *         """子进程要执行的代码"""
 *         print("in process2 pid=%d ,nums=%s" % (os.getpid(), nums))
 *
 *     if __name__ == '__main__':
 *         p1 = Process(target=work1)
 *         p1.start()
 *         p1.join()
 *
 *         p2 = Process(target=work2)
 *         p2.start()
 *
 * The Python list becomes a fixed array and its length. */
#include "example_util.h"

static int nums[8] = {11, 22};
static int nums_len = 2;

/* print_nums prints "pid=... ,nums=[11, 22, 0]" as Python's %s does. */
static void print_nums(int process)
{
    printf("in process%d pid=%d ,nums=[", process, (int)getpid());
    for (int i = 0; i < nums_len; i++)
        printf(i ? ", %d" : "%d", nums[i]);
    printf("]\n");
}

static int work1(void *arg)
{
    print_nums(1);
    for (int i = 0; i < 3; i++) {
        nums[nums_len++] = i; /* nums.append(i) */
        example_sleep(1);
        print_nums(1);
    }
    return 0;
}

static int work2(void *arg)
{
    print_nums(2);
    return 0;
}

int main(void)
{
    mp_process *p1 = CHECK_NEW(mp_process_new(work1, NULL, NULL));
    CHECK(mp_process_start(p1));
    CHECK(mp_process_join(p1, MP_FOREVER));

    mp_process *p2 = CHECK_NEW(mp_process_new(work2, NULL, NULL));
    CHECK(mp_process_start(p2));
    return 0;
}
