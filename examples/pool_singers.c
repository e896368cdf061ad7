/* pool_singers.c - five singers share a pool of three processes.
 *
 * Ports 004_5b1efd9928a0ec55.txt, 5.5 "进程池Pool" (net04_process_pool.py):
 *
 *     def sing(singer_num, sleep_time):
 *         for i in range(4):
 *             print('歌手', singer_num, '正在唱歌呢 %d' % i)
 *             time.sleep(sleep_time)  # 休息
 *
 *     if __name__ == '__main__':
 *         processes = multiprocessing.Pool(3) # 创建进程池,最大进程数为3
 *         for i in range(5):
 *             processes.apply_async(sing, (i + 1, 1 + 0.3 * i)) # 进程池创建进程
 * ,传入参数为歌手编号和歌唱间隔休息时间
 *
 *         print('歌唱开始')
 *         processes.close()
 *         processes.join()
 *         print('歌唱结束')
 *
 * The (singer_num, sleep_time) tuple is a struct, copied into the pool
 * when the task is submitted. Singers 4 and 5 start only when one of the
 * first three has finished its four rounds. */
#include "example_util.h"

typedef struct {
    int singer_num;
    double sleep_time;
} sing_args;

static int sing(const void *arg, void *result)
{
    const sing_args *a = arg;
    for (int i = 0; i < 4; i++) {
        printf("歌手 %d 正在唱歌呢 %d\n", a->singer_num, i);
        example_sleep(a->sleep_time); /* 休息 */
    }
    return 0;
}

int main(void)
{
    mp_pool *processes = CHECK_NEW(mp_pool_new(3)); /* 创建进程池,最大进程数为3 */
    mp_async *results[5];
    for (int i = 0; i < 5; i++) {
        /* 进程池创建进程 ,传入参数为歌手编号和歌唱间隔休息时间 */
        sing_args args = {i + 1, 1 + 0.3 * i};
        results[i] = CHECK_NEW(mp_pool_apply_async(processes, sing, &args, sizeof args, 0, NULL));
    }

    printf("歌唱开始\n");
    CHECK(mp_pool_close(processes));
    CHECK(mp_pool_join(processes));
    printf("歌唱结束\n");
    for (int i = 0; i < 5; i++)
        mp_async_free(results[i]);
    mp_pool_free(processes);
    return 0;
}
