/* pipe_producer_consumer.c - two processes exchange words over a Pipe.
 *
 * Ports 002_d3d322b25bc90569.txt, 12 "管道":
 *
 *     class Consumer(Process):
 *         def __init__(self, pipe):
 *             Process.__init__(self)
 *             self.pipe = pipe
 *
 *         def run(self):
 *             self.pipe.send('Consumer Words')
 *             print(f'Consumer Received: {self.pipe.recv()}')
 *
 *     class Producer(Process):
 *         def __init__(self, pipe):
 *             Process.__init__(self)
 *             self.pipe = pipe
 *
 *         def run(self):
 *             print(f'Producer Received: {self.pipe.recv()}')
 *             self.pipe.send('Producer Words')
 *
 *     if __name__ == '__main__':
 *         pipe = Pipe()
 *         p = Producer(pipe[0])
 *         c = Consumer(pipe[1])
 *         p.daemon = c.daemon = True
 *         p.start()
 *         c.start()
 *         p.join()
 *         c.join()
 *         print('Main Process Ended')
 *
 * A duplex pipe: each end both sends and receives. The order of the three
 * lines is fixed: the producer prints before it answers, the consumer
 * after it got the answer, main after both joins. */
#include "example_util.h"

typedef struct {
    mp_conn *pipe; /* self.pipe */
} pipe_end;

static int consumer(void *arg)
{
    mp_conn *pipe = ((pipe_end *)arg)->pipe;
    CHECK(mp_conn_send_str(pipe, "Consumer Words"));
    char *words;
    CHECK(mp_conn_recv_str(pipe, &words, MP_FOREVER));
    printf("Consumer Received: %s\n", words);
    free(words);
    return 0;
}

static int producer(void *arg)
{
    mp_conn *pipe = ((pipe_end *)arg)->pipe;
    char *words;
    CHECK(mp_conn_recv_str(pipe, &words, MP_FOREVER));
    printf("Producer Received: %s\n", words);
    free(words);
    CHECK(mp_conn_send_str(pipe, "Producer Words"));
    return 0;
}

int main(void)
{
    mp_conn *pipe[2];
    CHECK(mp_pipe(&pipe[0], &pipe[1], true));
    pipe_end p_end = {pipe[0]}, c_end = {pipe[1]};
    mp_process *p = CHECK_NEW(mp_process_new(producer, &p_end, NULL));
    mp_process *c = CHECK_NEW(mp_process_new(consumer, &c_end, NULL));
    CHECK(mp_process_set_daemon(p, true));
    CHECK(mp_process_set_daemon(c, true));
    CHECK(mp_process_start(p));
    CHECK(mp_process_start(c));
    CHECK(mp_process_join(p, MP_FOREVER));
    CHECK(mp_process_join(c, MP_FOREVER));
    printf("Main Process Ended\n");
    mp_conn_free(pipe[0]);
    mp_conn_free(pipe[1]);
    return 0;
}
