/* queue_api.c - a walk through the Queue calls: put, get, sizes, timeouts.
 *
 * Ports 001_bb4e7dca5de295eb.txt, 四.2 "Queue", which shows
 *
 *     q = queue.Queue()
 *     q.put("123")
 *     while not q.empty():
 *         num = q.get()
 *
 * and then describes multiprocessing.Queue's calls in prose: Queue() with
 * no limit, qsize(), empty(), full(), get([block[, timeout]]) raising
 * Queue.Empty, get_nowait(), put(item, [block[, timeout]]) raising
 * Queue.Full, put_nowait(item). This program calls each in that order and
 * prints what happened; Python's exceptions are libmp's return codes
 * (MP_EEMPTY for Queue.Empty, MP_EFULL for Queue.Full). The one-second
 * timeouts are scaled like the examples' sleeps. */
#include "example_util.h"

static const char *yes_no(bool b)
{
    return b ? "True" : "False";
}

int main(void)
{
    /* q = Queue(): no maximum, as with a negative size in Python */
    mp_queue *q = CHECK_NEW(mp_queue_new(0));
    CHECK(mp_queue_put_str(q, "123", MP_FOREVER));
    printf("qsize()=%zu empty()=%s full()=%s\n", mp_queue_qsize(q), yes_no(mp_queue_empty(q)),
           yes_no(mp_queue_full(q)));
    while (!mp_queue_empty(q)) {
        char *num;
        CHECK(mp_queue_get_str(q, &num, MP_FOREVER)); /* blocks until a message comes */
        printf("get() -> %s\n", num);
        free(num);
    }
    printf("qsize()=%zu empty()=%s\n", mp_queue_qsize(q), yes_no(mp_queue_empty(q)));

    /* get(True, 1) on an empty queue waits a second, then Queue.Empty */
    char buf[64];
    size_t len;
    int rc = mp_queue_get(q, buf, sizeof buf, &len, example_scaled(1));
    printf("get(True, 1) -> %s\n", mp_err_name(rc));
    /* get_nowait() == get(False): Queue.Empty at once */
    rc = mp_queue_get_nowait(q, buf, sizeof buf, &len);
    printf("get_nowait() -> %s\n", mp_err_name(rc));
    mp_queue_free(q);

    /* a Queue(2) takes two messages, then it is full */
    q = CHECK_NEW(mp_queue_new(2));
    CHECK(mp_queue_put_str(q, "a", MP_FOREVER));
    CHECK(mp_queue_put_str(q, "b", MP_FOREVER));
    printf("Queue(2) after two puts: qsize()=%zu full()=%s\n", mp_queue_qsize(q),
           yes_no(mp_queue_full(q)));
    /* put(item, True, 1) on a full queue waits a second, then Queue.Full */
    rc = mp_queue_put_str(q, "c", example_scaled(1));
    printf("put('c', True, 1) -> %s\n", mp_err_name(rc));
    /* put_nowait(item) == put(item, False): Queue.Full at once */
    rc = mp_queue_put_nowait(q, "c", 1);
    printf("put_nowait('c') -> %s\n", mp_err_name(rc));
    mp_queue_free(q);
    return 0;
}
