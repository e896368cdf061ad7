/* sing_dance_flower.c - the dancer hands the singer a flower through a queue.
 *
 * Ports 004_5b1efd9928a0ec55.txt, 5.4 "进程间通信" (net04_sing_dance_queue.py):
 *
 *     def sing(name, sing_name):
 *         for i in range(5):
 *             print(name, '正在唱歌%s呢 %d' % (sing_name, i))
 *             time.sleep(1)  # 休息1秒
 *         while True:
 *             if not q.empty():
 *                 value = q.get() # 从队列中读取数据
 *                 print('Jam收到了', value)
 *             else:
 *                 break
 *
 *     def dance(**kwargs):
 *         dancer = kwargs['dancer']
 *         q.put('花') # 向队列中写入花数据
 *         print('杰克逊向Jam递了一朵花')
 *         for i in range(5):
 *             print('%s正在伴舞呢 %d' % (dancer, i))
 *             time.sleep(1)  # 休息1秒
 *
 *     if __name__ == '__main__':
 *         singer = 'Jam'
 *         sing_name = '不露声色'
 *         q = multiprocessing.Queue() # 创建队列
 *         p1 = multiprocessing.Process(target=sing, args=(singer, sing_name))  # 创建唱歌进程
 *         p2 = multiprocessing.Process(target=dance, kwargs={'dancer': '杰克逊'})  # 创建跳舞进程
 *         p1.start()  # 开始运行进程sing
 *         p2.start()  # 开始运行进程dance
 *
 * As in Python, q is a global the children inherit: it is made before
 * they start, and (being in libmp's shared heap) it is the same queue in
 * all three processes. */
#include "example_util.h"

static mp_queue *q;

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
    while (!mp_queue_empty(q)) {
        char *value;
        CHECK(mp_queue_get_str(q, &value, MP_FOREVER)); /* 从队列中读取数据 */
        printf("Jam收到了 %s\n", value);
        free(value);
    }
    return 0;
}

static int dance(void *arg)
{
    const char *dancer = ((dance_kwargs *)arg)->dancer;
    CHECK(mp_queue_put_str(q, "花", MP_FOREVER)); /* 向队列中写入花数据 */
    printf("杰克逊向Jam递了一朵花\n");
    for (int i = 0; i < 5; i++) {
        printf("%s正在伴舞呢 %d\n", dancer, i);
        example_sleep(1); /* 休息1秒 */
    }
    return 0;
}

int main(void)
{
    sing_args args = {"Jam", "不露声色"};
    dance_kwargs kwargs = {.dancer = "杰克逊"};
    q = CHECK_NEW(mp_queue_new(0));                                   /* 创建队列 */
    mp_process *p1 = CHECK_NEW(mp_process_new(sing, &args, NULL));    /* 创建唱歌进程 */
    mp_process *p2 = CHECK_NEW(mp_process_new(dance, &kwargs, NULL)); /* 创建跳舞进程 */
    CHECK(mp_process_start(p1));                                      /* 开始运行进程sing */
    CHECK(mp_process_start(p2));                                      /* 开始运行进程dance */
    return 0;
}
