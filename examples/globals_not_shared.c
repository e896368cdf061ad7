/* globals_not_shared.c - a child's change to a global is not seen by another.
 *
 * Ports 000_88437d67793eae77.txt, 四.2 "共享全局变量不适用于多进程编程":
 *
 *     a = 1
 *     def demo1():
 *         global a
 *         a += 1
 *     def demo2():
 *         print(a)
 *     def main():
 *         t1 = multiprocessing.Process(target=demo1)
 *         t2 = multiprocessing.Process(target=demo2)
 *         t1.start()
 *         t2.start()
 *
 * Prints 1: demo1 adds to its own copy of a, and demo2 has its own too.
 * Even if demo1 ran first, demo2 was copied from the parent, not from it. */
#include "example_util.h"

static int a = 1;

static int demo1(void *arg)
{
    a += 1;
    return 0;
}

static int demo2(void *arg)
{
    printf("%d\n", a);
    return 0;
}

int main(void)
{
    mp_process *t1 = CHECK_NEW(mp_process_new(demo1, NULL, NULL));
    mp_process *t2 = CHECK_NEW(mp_process_new(demo2, NULL, NULL));
    CHECK(mp_process_start(t1));
    CHECK(mp_process_start(t2));
    return 0;
}
