/* pool_map_square.c - map a function over a hundred numbers on four workers.
 *
 * Ports 002_d3d322b25bc90569.txt, 13 "进程池" (第一种方法（多任务）):
 *
 *     def function_square(data):
 *         result = data*data
 *         return result
 *
 *     if __name__ == '__main__':
 *         inputs = [i for i in range(100)]
 *         pool = Pool(processes=4) # 如果你不指定数目的化，它就会根据你电脑状态，自行创建。
 *         # map 把任务交给进程池
 *         pool_outputs = pool.map(function_square, inputs)
 *         pool.close()
 *         pool.join()
 *         print("Pool     :", pool_outputs)
 *
 * The task takes its argument and writes its result through pointers;
 * map lays the hundred results out in input order. */
#include "example_util.h"

static int function_square(const void *arg, void *result)
{
    long data = *(const long *)arg;
    *(long *)result = data * data;
    return 0;
}

int main(void)
{
    long inputs[100], pool_outputs[100];
    for (long i = 0; i < 100; i++)
        inputs[i] = i;
    mp_pool *pool = CHECK_NEW(mp_pool_new(4));
    /* map 把任务交给进程池 */
    CHECK(mp_pool_map(pool, function_square, inputs, 100, sizeof *inputs, pool_outputs,
                      sizeof *pool_outputs, 0));
    CHECK(mp_pool_close(pool));
    CHECK(mp_pool_join(pool));
    printf("Pool     : [");
    for (int i = 0; i < 100; i++)
        printf(i ? ", %ld" : "%ld", pool_outputs[i]);
    printf("]\n");
    mp_pool_free(pool);
    return 0;
}
