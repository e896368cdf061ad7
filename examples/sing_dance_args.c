/* sing_dance_args.c - give each task its count: by position and by name.
 *
 * Ports 003_0a6313e0c9076710.txt, 第三课 "进程执行带有参数的任务" (4.2 args,
 * 4.3 kwargs; the lesson's last version, where dance takes num too):
 *
 *     # 唱歌
 *     def sing(num):
 *         for i in range(num):
 *             print("唱歌...")
 *             time.sleep(0.5)
 *
 *     # 跳舞
 *     def dance(num):
 *         for i in range(num):
 *             print("跳舞...")
 *             time.sleep(0.5)
 *
 *     if __name__ == '__main__':
 *         # args: 使用元组方式给指定任务传参
 *         # kwargs: 使用字典方式给指定任务传参
 *         sing_process = multiprocessing.Process(target=sing, args=(3,))
 *         dance_process = multiprocessing.Process(target=dance, kwargs={"num": 2})
 *         sing_process.start()
 *         dance_process.start()
 *
 * Python's tuple and dict both become a struct here; the kwargs one names
 * its field, so the call site reads like the dict: {.num = 2}. Prints
 * 唱歌... three times and 跳舞... twice. */
#include "example_util.h"

typedef struct {
    int num;
} task_args;

/* 唱歌 */
static int sing(void *arg)
{
    int num = ((task_args *)arg)->num;
    for (int i = 0; i < num; i++) {
        printf("唱歌...\n");
        example_sleep(0.5);
    }
    return 0;
}

/* 跳舞 */
static int dance(void *arg)
{
    int num = ((task_args *)arg)->num;
    for (int i = 0; i < num; i++) {
        printf("跳舞...\n");
        example_sleep(0.5);
    }
    return 0;
}

int main(void)
{
    task_args sing_args = {3};           /* args=(3,) */
    task_args dance_kwargs = {.num = 2}; /* kwargs={"num": 2} */
    mp_process *sing_process = CHECK_NEW(mp_process_new(sing, &sing_args, NULL));
    mp_process *dance_process = CHECK_NEW(mp_process_new(dance, &dance_kwargs, NULL));
    CHECK(mp_process_start(sing_process));
    CHECK(mp_process_start(dance_process));
    return 0;
}
