/* pool_apply_square.c - run one function call in a pool and wait for it.
 *
 * Ports 002_d3d322b25bc90569.txt, 13 "进程池" (第二种方法（单任务）):
 *
 *     def function_square(data):
 *         result = data*data
 *         return result
 *
 *     if __name__ == '__main__':
 *         pool = Pool(processes=4)
 *         pool_outputs = pool.apply(function_square, args=(10, ))
 *         pool.close()
 *         pool.join()
 *         print("Pool     :", pool_outputs)
 *
 * apply blocks until the worker has written the result: prints 100. */
#include "example_util.h"

static int function_square(const void *arg, void *result)
{
    long data = *(const long *)arg;
    *(long *)result = data * data;
    return 0;
}

int main(void)
{
    mp_pool *pool = CHECK_NEW(mp_pool_new(4));
    long data = 10, pool_outputs;
    CHECK(mp_pool_apply(pool, function_square, &data, sizeof data, &pool_outputs,
                        sizeof pool_outputs));
    CHECK(mp_pool_close(pool));
    CHECK(mp_pool_join(pool));
    printf("Pool     : %ld\n", pool_outputs);
    mp_pool_free(pool);
    return 0;
}
