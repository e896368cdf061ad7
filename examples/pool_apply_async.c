/* pool_apply_async.c - ten tasks of random length on a pool of three.
 *
 * Ports 000_88437d67793eae77.txt, 五.1 "进程池引入":
 *
 *     def worker(a):
 *         t_start = time.time()
 *         print('%s开始执行,进程号为%d'%(a,os.getpid()))
 *
 *         time.sleep(random.random()*2)
 *         t_stop = time.time()
 *         print(a,"执行完成,耗时%0.2f"%(t_stop-t_start))
 *
 *     if __name__ == '__main__':
 *         po = Pool(3)        # 定义一个进程池
 *         for i in range(0,10):
 *             po.apply_async(worker,(i,))    # 向进程池中添加worker的任务
 *
 *         print("--start--")
 *         po.close()
 *
 *         po.join()
 *         print("--end--")
 *
 * It also serves 001_bb4e7dca5de295eb.txt, 五.1 "创建进程池", the same
 * program worded "执行完毕，耗时" with "----start----" and "-----end-----".
 *
 * Only three pids ever appear: the pool's three workers take the ten
 * tasks in turn. A task is `int fn(const void *arg, void *result)`; this
 * one has no result (size 0). Python throws the apply_async results away;
 * C frees their handles once the pool is joined. */
#include "example_util.h"

static int worker(const void *arg, void *result)
{
    int a = *(const int *)arg;
    double t_start = example_now();
    printf("%d开始执行,进程号为%d\n", a, (int)getpid());

    example_sleep(example_random() * 2);
    double t_stop = example_now();
    printf("%d 执行完成,耗时%0.2f\n", a, t_stop - t_start);
    return 0;
}

int main(void)
{
    mp_pool *po = CHECK_NEW(mp_pool_new(3)); /* 定义一个进程池 */
    mp_async *results[10];
    for (int i = 0; i < 10; i++) /* 向进程池中添加worker的任务 */
        results[i] = CHECK_NEW(mp_pool_apply_async(po, worker, &i, sizeof i, 0, NULL));

    printf("--start--\n");
    CHECK(mp_pool_close(po));

    CHECK(mp_pool_join(po));
    printf("--end--\n");
    for (int i = 0; i < 10; i++)
        mp_async_free(results[i]);
    mp_pool_free(po);
    return 0;
}
