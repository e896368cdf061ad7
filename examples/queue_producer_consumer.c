/* queue_producer_consumer.c - random numbers pass from producer to consumer.
 *
 * Ports 002_d3d322b25bc90569.txt, 11 "队列" (the first program):
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
 *                 print(f'Consumer get {buffer.get()}')
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
 *                 num = random()
 *                 print(f'Producer put {num}')
 *                 buffer.put(num)
 *                 time.sleep(1)
 *                 lock.release()
 *                 full.release()
 *
 *     if __name__ == '__main__':          # as in 10
 *         ...
 *
 * As in semaphore_producer_consumer.c, each side stops after ROUNDS
 * numbers (Python's loops never end) and main then prints "Main Process
 * Ended". A double travels as its 8 bytes (mp_queue_put_f64), so the
 * consumer gets exactly what was put; it is printed with 12 significant
 * digits, as in the tutorial's output. */
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
        double num;
        CHECK(mp_queue_get_f64(buffer, &num, MP_FOREVER));
        printf("Consumer get %.12g\n", num);
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
        double num = example_random();
        printf("Producer put %.12g\n", num);
        CHECK(mp_queue_put_f64(buffer, num, MP_FOREVER));
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
