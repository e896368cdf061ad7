/* run_proc_kwargs.c - pass positional and keyword arguments to a child.
 *
 * Ports 001_bb4e7dca5de295eb.txt, 二.3 "给子进程指定的函数传递参数":
 *
 *     def run_proc(name, age, **kwargs):
 *         for i in range(10):
 *             print('子进程运行中，name= %s,age=%d ,pid=%d...' % (name, age, os.getpid()))
 *             print(kwargs)
 *             sleep(0.2)
 *
 *     if __name__=='__main__':
 *         p = Process(target=run_proc, args=('test',18), kwargs={"m":20})
 *         p.start()
 *         sleep(1)  # 1秒中之后，立即结束子进程
 *         p.terminate()
 *         p.join()
 *
 * args and kwargs become one struct of named fields. The child would print
 * ten times in two seconds; the parent terminates it after one second, so
 * about five rounds appear. */
#include "example_util.h"

typedef struct {
    const char *name; /* args[0] */
    int age;          /* args[1] */
    struct {
        int m;
    } kwargs; /* {"m": 20} */
} run_proc_args;

static int run_proc(void *arg)
{
    run_proc_args *a = arg;
    for (int i = 0; i < 10; i++) {
        printf("子进程运行中，name= %s,age=%d ,pid=%d...\n", a->name, a->age, (int)getpid());
        printf("{'m': %d}\n", a->kwargs.m);
        example_sleep(0.2);
    }
    return 0;
}

int main(void)
{
    run_proc_args args = {.name = "test", .age = 18, .kwargs = {.m = 20}};
    mp_process *p = CHECK_NEW(mp_process_new(run_proc, &args, NULL));
    CHECK(mp_process_start(p));
    example_sleep(1); /* 1秒中之后，立即结束子进程 */
    CHECK(mp_process_terminate(p));
    CHECK(mp_process_join(p, MP_FOREVER));
    mp_process_free(p);
    return 0;
}
