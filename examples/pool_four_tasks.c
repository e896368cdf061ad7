/* pool_four_tasks.c - four 3-second tasks on three workers: the fourth waits.
 *
 * Ports 002_d3d322b25bc90569.txt, 13 "进程池" (apply_async):
 *
 *     def function(index):
 *         print(f'Start process: {index}')
 *         time.sleep(3)
 *         print(f'End process {index}',)
 *
 *     if __name__ == '__main__':
 *         pool = Pool(processes=3)# 不断地改变该数字观察输出结果
 *         for i in range(4):
 *             pool.apply_async(function, args=(i, ))
 *         print('Main Process started')
 *         pool.close()
 *         pool.join()
 *         print("Main Process ended")
 *
 * Three tasks start at once; task 3 starts when one of them ends, so the
 * whole takes six seconds, not three or twelve. */
#include "example_util.h"

static int function(const void *arg, void *result)
{
    int index = *(const int *)arg;
    printf("Start process: %d\n", index);
    example_sleep(3);
    printf("End process %d\n", index);
    return 0;
}

int main(void)
{
    mp_pool *pool = CHECK_NEW(mp_pool_new(3)); /* 不断地改变该数字观察输出结果 */
    mp_async *results[4];
    for (int i = 0; i < 4; i++)
        results[i] = CHECK_NEW(mp_pool_apply_async(pool, function, &i, sizeof i, 0, NULL));
    printf("Main Process started\n");
    CHECK(mp_pool_close(pool));
    CHECK(mp_pool_join(pool));
    printf("Main Process ended\n");
    for (int i = 0; i < 4; i++)
        mp_async_free(results[i]);
    mp_pool_free(pool);
    return 0;
}
