/* semaphore_producer_consumer.c - two semaphores pace a producer and a consumer.
 *
 * Ports 002_d3d322b25bc90569.txt, 10 "信号量":
 *
 *     buffer = Queue(10)
 *     empty = Semaphore(2)
 *     full = Semaphore(0)
 *     lock = Lock()
 *
 *     class Consumer(Process):
 *         def run(self):
 *             global buffer, empty, full, lock
 *             while True:
 *                 full.acquire()
 *                 lock.acquire()
 *                 buffer.get()
 *                 print('Consumer pop an element')
 *                 time.sleep(1)
 *                 lock.release()
 *                 empty.release()
 *
 *     class Producer(Process):
 *         def run(self):
 *             global buffer, empty, full, lock
 *             while True:
 *                 empty.acquire()
 *                 lock.acquire()
 *                 buffer.put(1)
 *                 print('Producer append an element')
 *                 time.sleep(1)
 *                 lock.release()
 *                 full.release()
 *     if __name__ == '__main__':
 *         p = Producer()
 *         c = Consumer()
 *         p.daemon = c.daemon = True
 *         p.start()
 *         c.start()
 *         p.join()
 *         c.join()
 *         print("Main Process Ended")
 *
 * empty counts the free places (2), full the filled ones (0): the producer
 * can run at most two ahead of the consumer. Python's loops never end, so
 * "Main Process Ended" never prints there; here each side handles ROUNDS
 * elements and returns. The globals are made in main before the children
 * start, so they inherit them, as with Python's fork. */
#include "example_util.h"

enum { ROUNDS = 8 };

static mp_queue *buffer;
static mp_semaphore *empty, *full;
static mp_lock *lock;

static int consumer(void *arg)
{
    for (int round = 0; round < ROUNDS; round++) {
        CHECK(mp_semaphore_acquire(full, MP_FOREVER));
        CHECK(mp_lock_acquire(lock, MP_FOREVER));
        int64_t element;
        CHECK(mp_queue_get_i64(buffer, &element, MP_FOREVER));
        printf("Consumer pop an element\n");
        example_sleep(1);
        CHECK(mp_lock_release(lock));
        CHECK(mp_semaphore_release(empty));
    }
    return 0;
}

static int producer(void *arg)
{
    for (int round = 0; round < ROUNDS; round++) {
        CHECK(mp_semaphore_acquire(empty, MP_FOREVER));
        CHECK(mp_lock_acquire(lock, MP_FOREVER));
        CHECK(mp_queue_put_i64(buffer, 1, MP_FOREVER));
        printf("Producer append an element\n");
        example_sleep(1);
        CHECK(mp_lock_release(lock));
        CHECK(mp_semaphore_release(full));
    }
    return 0;
}

int main(void)
{
    buffer = CHECK_NEW(mp_queue_new(10));
    empty = CHECK_NEW(mp_semaphore_new(2));
    full = CHECK_NEW(mp_semaphore_new(0));
    lock = CHECK_NEW(mp_lock_new());

    mp_process *p = CHECK_NEW(mp_process_new(producer, NULL, NULL));
    mp_process *c = CHECK_NEW(mp_process_new(consumer, NULL, NULL));
    CHECK(mp_process_set_daemon(p, true));
    CHECK(mp_process_set_daemon(c, true));
    CHECK(mp_process_start(p));
    CHECK(mp_process_start(c));
    CHECK(mp_process_join(p, MP_FOREVER));
    CHECK(mp_process_join(c, MP_FOREVER));
    printf("Main Process Ended\n");
    return 0;
}
