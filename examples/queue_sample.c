/* queue_sample.c - a Queue(3): full(), put with a timeout, put_nowait, get_nowait.
 *
 * Ports 004_5b1efd9928a0ec55.txt, 5.4 "进程间通信" (net04_queue_sample.py):
 *
 *     q = Queue(3)  # 初始化一个Queue对象,最多可接收三条put消息
 *     q.put("消息1")
 *     q.put("消息2")
 *     print(q.full())  # False
 *     q.put("消息3")
 *     print(q.full())  # True
 *
 *     # 因为消息列队已满,所以下面的try都会抛出异常,
 *     # 第一个try会等待2秒后再抛出异常,第二个Try会立刻抛出异常
 *     try:
 *         q.put("消息4", True, 2)
 *     except:
 *         print("消息列队已满,现有消息数量:%s" % q.qsize())
 *
 *     try:
 *         q.put_nowait("消息4")
 *     except:
 *         print("消息列队已满,现有消息数量:%s" % q.qsize())
 *
 *     # 推荐的方式,先判断消息列队是否已满,再写入
 *     if not q.full():
 *         q.put_nowait("消息4")
 *
 *     # 读取消息时,先判断消息列队是否为空,再读取
 *     if not q.empty():
 *         for i in range(q.qsize()):
 *             print(q.get_nowait())
 *
 * The first put waits two seconds (scaled like the sleeps) before it
 * reports MP_EFULL; put_nowait reports it at once. */
#include "example_util.h"

int main(void)
{
    mp_queue *q = CHECK_NEW(mp_queue_new(3)); /* 初始化一个Queue对象,最多可接收三条put消息 */
    CHECK(mp_queue_put_str(q, "消息1", MP_FOREVER));
    CHECK(mp_queue_put_str(q, "消息2", MP_FOREVER));
    printf("%s\n", mp_queue_full(q) ? "True" : "False"); /* False */
    CHECK(mp_queue_put_str(q, "消息3", MP_FOREVER));
    printf("%s\n", mp_queue_full(q) ? "True" : "False"); /* True */

    /* 因为消息列队已满,所以下面的都会失败,第一个会等待2秒后再失败,第二个会立刻失败 */
    if (mp_queue_put_str(q, "消息4", example_scaled(2)) == MP_EFULL)
        printf("消息列队已满,现有消息数量:%zu\n", mp_queue_qsize(q));

    if (mp_queue_put_nowait(q, "消息4", strlen("消息4")) == MP_EFULL)
        printf("消息列队已满,现有消息数量:%zu\n", mp_queue_qsize(q));

    /* 推荐的方式,先判断消息列队是否已满,再写入 */
    if (!mp_queue_full(q))
        CHECK(mp_queue_put_nowait(q, "消息4", strlen("消息4")));

    /* 读取消息时,先判断消息列队是否为空,再读取 */
    if (!mp_queue_empty(q)) {
        size_t n = mp_queue_qsize(q);
        for (size_t i = 0; i < n; i++) {
            char msg[64];
            size_t len;
            CHECK(mp_queue_get_nowait(q, msg, sizeof msg - 1, &len));
            msg[len] = '\0';
            printf("%s\n", msg);
        }
    }
    mp_queue_free(q);
    return 0;
}
