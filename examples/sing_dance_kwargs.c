/* sing_dance_kwargs.c - tell the singer what to sing, the dancer who dances.
 *
 * Ports 004_5b1efd9928a0ec55.txt, 5.2 (net04_sing_dance_variable.py):
 *
 *     def sing(name, sing_name):
 *         for i in range(5):
 *             print(name, '正在唱歌%s呢 %d' % (sing_name, i))
 *             time.sleep(1)  # 休息1秒
 *
 *     def dance(**kwargs):
 *         dancer = kwargs['dancer']
 *         for i in range(5):
 *             print('%s正在伴舞呢 %d' % (dancer,i))
 *             time.sleep(1)  # 休息1秒
 *
 *     if __name__ == '__main__':
 *         singer = 'Jam'
 *         sing_name = '不露声色'
 *         # 创建唱歌进程,告诉子进程是Jam唱不露声色
 *         p1 = multiprocessing.Process(target=sing, args=(singer, sing_name))
 *         # 创建跳舞进程,告诉子进程是杰克逊来唱歌啦
 *         p2 = multiprocessing.Process(target=dance,kwargs={'dancer':'杰克逊'})
 *         p1.start()  # 开始运行进程sing
 *         p2.start()  # 开始运行进程dance
 *
 * (The two long end-of-line comments moved above their lines.) args and
 * kwargs={'dancer': ...} become two structs. */
#include "example_util.h"

typedef struct {
    const char *name;
    const char *sing_name;
} sing_args;

typedef struct {
    const char *dancer;
} dance_kwargs;

static int sing(void *arg)
{
    sing_args *a = arg;
    for (int i = 0; i < 5; i++) {
        printf("%s 正在唱歌%s呢 %d\n", a->name, a->sing_name, i);
        example_sleep(1); /* 休息1秒 */
    }
    return 0;
}

static int dance(void *arg)
{
    const char *dancer = ((dance_kwargs *)arg)->dancer;
    for (int i = 0; i < 5; i++) {
        printf("%s正在伴舞呢 %d\n", dancer, i);
        example_sleep(1); /* 休息1秒 */
    }
    return 0;
}

int main(void)
{
    const char *singer = "Jam";
    const char *sing_name = "不露声色";
    sing_args args = {singer, sing_name};
    dance_kwargs kwargs = {.dancer = "杰克逊"};
    /* 创建唱歌进程,告诉子进程是Jam唱不露声色 */
    mp_process *p1 = CHECK_NEW(mp_process_new(sing, &args, NULL));
    /* 创建跳舞进程,告诉子进程是杰克逊来唱歌啦 */
    mp_process *p2 = CHECK_NEW(mp_process_new(dance, &kwargs, NULL));
    CHECK(mp_process_start(p1)); /* 开始运行进程sing */
    CHECK(mp_process_start(p2)); /* 开始运行进程dance */
    return 0;
}
