/* pool_queue_writer_reader.c - two pool tasks share a queue: write, then read.
 *
 * Ports 001_bb4e7dca5de295eb.txt, 五.2 "进程池使用Queue":
 *
 *     def reader(q):
 *         print("reader启动(%s),父进程为(%s)" % (os.getpid(), os.getppid()))
 *         for i in range(q.qsize()):
 *             print("reader从Queue获取到消息：%s" % q.get(True))
 *
 *     def writer(q):
 *         print("writer启动(%s),父进程为(%s)" % (os.getpid(), os.getppid()))
 *         for i in "itcast":
 *             q.put(i)
 *
 *     if __name__=="__main__":
 *         print("(%s) start" % os.getpid())
 *         q = Manager().Queue()  # 使用Manager中的Queue
 *         po = Pool()
 *         po.apply_async(writer, (q,))
 *
 *         time.sleep(1)  # 先让上面的任务向Queue存入数据，然后再让下面的任务开始从中取数据
 *
 *         po.apply_async(reader, (q,))
 *         po.close()
 *         po.join()
 *         print("(%s) End" % os.getpid())
 *
 * Python needs Manager().Queue() here: a plain Queue cannot be passed to
 * a pool task. A libmp queue lives in the shared heap, so the task's
 * argument is simply the queue pointer (copied by value, valid in every
 * process); mp_queue_new is both. One difference: a libmp pool's workers
 * are children of a small supervisor process, so the "父进程" they print
 * is the supervisor's pid, not the main program's. */
#include "example_util.h"

static int reader(const void *arg, void *result)
{
    mp_queue *q = *(mp_queue *const *)arg;
    printf("reader启动(%d),父进程为(%d)\n", (int)getpid(), (int)getppid());
    size_t n = mp_queue_qsize(q);
    for (size_t i = 0; i < n; i++) {
        char *msg;
        CHECK(mp_queue_get_str(q, &msg, MP_FOREVER));
        printf("reader从Queue获取到消息：%s\n", msg);
        free(msg);
    }
    return 0;
}

static int writer(const void *arg, void *result)
{
    mp_queue *q = *(mp_queue *const *)arg;
    printf("writer启动(%d),父进程为(%d)\n", (int)getpid(), (int)getppid());
    for (const char *i = "itcast"; *i; i++)
        CHECK(mp_queue_put(q, i, 1, MP_FOREVER)); /* one letter per message */
    return 0;
}

int main(void)
{
    printf("(%d) start\n", (int)getpid());
    mp_queue *q = CHECK_NEW(mp_queue_new(0)); /* Manager().Queue() */
    mp_pool *po = CHECK_NEW(mp_pool_new(0));  /* Pool(): one worker per CPU */
    mp_async *w = CHECK_NEW(mp_pool_apply_async(po, writer, &q, sizeof q, 0, NULL));

    example_sleep(1); /* 先让上面的任务向Queue存入数据，然后再让下面的任务开始从中取数据 */

    mp_async *r = CHECK_NEW(mp_pool_apply_async(po, reader, &q, sizeof q, 0, NULL));
    CHECK(mp_pool_close(po));
    CHECK(mp_pool_join(po));
    printf("(%d) End\n", (int)getpid());
    mp_async_free(w);
    mp_async_free(r);
    mp_pool_free(po);
    mp_queue_free(q);
    return 0;
}
