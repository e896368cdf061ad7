/* sing_dance_pid.c - each task prints its pid, then a name as it works.
 *
 * Ports 003_0a6313e0c9076710.txt, 第四课 "获取进程的编号" (5.2):
 *
 *     # 唱歌
 *     def sing(num, name):
 *         print("唱歌进程的pid: ", os.getpid())
 *         for i in range(num):
 *             print(name)
 *             print("唱歌...")
 *             time.sleep(0.5)
 *
 *     # 跳舞
 *     def dance(num, name):
 *         print("跳舞进程的pid: ", os.getpid())
 *         for i in range(num):
 *             print(name)
 *             print("跳舞...")
 *             time.sleep(0.5)
 *
 *     if __name__ == '__main__':
 *         sing_process = multiprocessing.Process(target=sing, args=(3, "xiaoming"))
 *         dance_process = multiprocessing.Process(target=dance, kwargs={"name": "传智",
 *                                                                         "num": 2})
 *         sing_process.start()
 *         dance_process.start()
 *
 * Python's print(a, b) puts a space between its arguments, hence the two
 * spaces after "pid:". The lesson's work() with os.getppid() is
 * work_pid_ppid.c. */
#include "example_util.h"

typedef struct {
    int num;
    const char *name;
} task_args;

/* 唱歌 */
static int sing(void *arg)
{
    task_args *a = arg;
    printf("唱歌进程的pid:  %d\n", (int)getpid());
    for (int i = 0; i < a->num; i++) {
        printf("%s\n", a->name);
        printf("唱歌...\n");
        example_sleep(0.5);
    }
    return 0;
}

/* 跳舞 */
static int dance(void *arg)
{
    task_args *a = arg;
    printf("跳舞进程的pid:  %d\n", (int)getpid());
    for (int i = 0; i < a->num; i++) {
        printf("%s\n", a->name);
        printf("跳舞...\n");
        example_sleep(0.5);
    }
    return 0;
}

int main(void)
{
    task_args sing_args = {3, "xiaoming"};               /* args=(3, "xiaoming") */
    task_args dance_kwargs = {.name = "传智", .num = 2}; /* kwargs={"name": "传智", "num": 2} */
    mp_process *sing_process = CHECK_NEW(mp_process_new(sing, &sing_args, NULL));
    mp_process *dance_process = CHECK_NEW(mp_process_new(dance, &dance_kwargs, NULL));
    CHECK(mp_process_start(sing_process));
    CHECK(mp_process_start(dance_process));
    return 0;
}
