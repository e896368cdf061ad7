/* queue_download_save.c - one process downloads items, another saves them.
 *
 * Ports 000_88437d67793eae77.txt, 四.1 "Queue-队列 先进先出":
 *
 *     def download(p): # 下载数据
 *         lst = [11,22,33,44]
 *         for item in lst:
 *             p.put(item)
 *         print('数据已经下载成功....')
 *
 *     def savedata(p):
 *         lst = []
 *         while True:
 *             data = p.get()
 *             lst.append(data)
 *             if p.empty():
 *                 break
 *         print(lst)
 *
 *     def main():
 *         p1 = Queue()
 *         t1 = multiprocessing.Process(target=download,args=(p1,))
 *         t2 = multiprocessing.Process(target=savedata,args=(p1,))
 *         t1.start()
 *         t2.start()
 *
 * Prints 数据已经下载成功.... and [11, 22, 33, 44]. The tutorial's
 * savedata stops at the first moment the queue is empty, which can come
 * before download has put everything (then it prints [11] or [11, 22]).
 * Here download closes the queue when it is done instead, and savedata
 * reads until the queue says MP_ECLOSED: closed and drained. */
#include "example_util.h"

static int download(void *arg) /* 下载数据 */
{
    mp_queue *p = arg;
    int64_t lst[] = {11, 22, 33, 44};
    for (int i = 0; i < 4; i++)
        CHECK(mp_queue_put_i64(p, lst[i], MP_FOREVER));
    printf("数据已经下载成功....\n");
    CHECK(mp_queue_close(p)); /* nothing more will come */
    return 0;
}

static int savedata(void *arg)
{
    mp_queue *p = arg;
    int64_t lst[16];
    int n = 0, rc;
    int64_t data;
    while (n < 16 && (rc = mp_queue_get_i64(p, &data, MP_FOREVER)) == 0)
        lst[n++] = data;
    if (rc != MP_ECLOSED)
        CHECK(rc);
    printf("[");
    for (int i = 0; i < n; i++)
        printf(i ? ", %lld" : "%lld", (long long)lst[i]);
    printf("]\n");
    return 0;
}

int main(void)
{
    mp_queue *p1 = CHECK_NEW(mp_queue_new(0));
    mp_process *t1 = CHECK_NEW(mp_process_new(download, p1, NULL));
    mp_process *t2 = CHECK_NEW(mp_process_new(savedata, p1, NULL));
    CHECK(mp_process_start(t1));
    CHECK(mp_process_start(t2));
    return 0;
}
