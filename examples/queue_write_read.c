/* queue_write_read.c - a writer puts ten numbers, a reader gets them.
 *
 * Ports 002_d3d322b25bc90569.txt, 11 "队列" (the write/read pair):
 *
 *     def write(q):
 *         print("Process to write: {}" .format(Process.pid))
 *         for i in range(10):
 *             print("Put {} to queue...".format(i))
 *             q.put(i) # 把数字放到我们的队列里面去
 *
 *     def read(q):
 *         print("Process to read: {}" .format(Process.pid))
 *         while True:
 *             value = q.get() # 获取队列中的数据（队列中没有数据就会阻塞在那里）
 *             print("Get {} from queue." .format(value))
 *
 *     if __name__ == '__main__':
 *         # 父进程创建 Queue ，并传给各个子进程：
 *         q = Queue() # 队列
 *         pw = Process(target=write, args=(q, ))
 *         pr = Process(target=read, args=(q, ))
 *         # 启动子进程 pw ，写入：
 *         pw.start()
 *         # 启动子进程 pr， 读取：
 *         pr.start()
 *         # 等待 pw 结束
 *         pw.join()
 *         # 等待 pr 结束
 *         pr.join()
 *
 * Two changes. Python's Process.pid is the class's property object, so
 * the tutorial prints "<property object at 0x...>"; this prints the pid
 * the code's comments point to (current_process().pid). And the reader's
 * loop never ends in Python (pr.join() waits forever); here the writer
 * closes the queue after its ten puts, and the reader's get returns
 * MP_ECLOSED once it has everything, so both joins return. */
#include "example_util.h"

static int write_numbers(void *arg)
{
    mp_queue *q = arg;
    printf("Process to write: %d\n", (int)getpid());
    for (int i = 0; i < 10; i++) {
        printf("Put %d to queue...\n", i);
        CHECK(mp_queue_put_i64(q, i, MP_FOREVER)); /* 把数字放到我们的队列里面去 */
    }
    CHECK(mp_queue_close(q)); /* instead of a sentinel: the reader stops after the last */
    return 0;
}

static int read_numbers(void *arg)
{
    mp_queue *q = arg;
    printf("Process to read: %d\n", (int)getpid());
    for (;;) {
        int64_t value;
        int rc = mp_queue_get_i64(q, &value, MP_FOREVER); /* 队列中没有数据就会阻塞在那里 */
        if (rc == MP_ECLOSED)
            return 0; /* closed, and every number read */
        CHECK(rc);
        printf("Get %lld from queue.\n", (long long)value);
    }
}

int main(void)
{
    /* 父进程创建 Queue ，并传给各个子进程： */
    mp_queue *q = CHECK_NEW(mp_queue_new(0));
    mp_process *pw = CHECK_NEW(mp_process_new(write_numbers, q, NULL));
    mp_process *pr = CHECK_NEW(mp_process_new(read_numbers, q, NULL));
    CHECK(mp_process_start(pw));            /* 启动子进程 pw ，写入： */
    CHECK(mp_process_start(pr));            /* 启动子进程 pr， 读取： */
    CHECK(mp_process_join(pw, MP_FOREVER)); /* 等待 pw 结束 */
    CHECK(mp_process_join(pr, MP_FOREVER)); /* 等待 pr 结束 */
    mp_queue_free(q);
    return 0;
}
