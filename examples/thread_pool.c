/* thread_pool.c - a pool of ten threads works through a hundred slow calls.
 *
 * Ports 002_d3d322b25bc90569.txt, 15 "补充：线程池", which uses the
 * threadpool package:
 *
 *     # 执行比较耗时的函数，需要开多线程
 *     def get_html(url):
 *         time.sleep(3)
 *         print(url)
 *     # 按原本的单线程运行时间为：300s
 *     # 而多线程池的化：30s
 *     urls = [i for i in range(100)]
 *     pool = threadpool.ThreadPool(10) # 建立线程池
 *
 *     # 提交任务给线程池
 *     requests = threadpool.makeRequests(get_html, urls)
 *
 *     # 开始执行任务
 *     for req in requests:
 *         pool.putRequest(req)
 *     pool.wait()
 *
 * For contrast with the process pools, this one is plain pthreads, no
 * libmp: ten threads of one process take the next request from a shared
 * counter until none is left; pool.wait() is joining them. Thirty
 * seconds instead of three hundred. */
#include "example_util.h"

#include <pthread.h>

enum { N_URLS = 100, N_THREADS = 10 };

/* The pool: requests are the indexes 0..N_URLS-1, handed out in order. */
typedef struct {
    pthread_mutex_t lock;
    int next;        /* the next request to run */
    const int *urls; /* the requests' arguments */
} thread_pool;

/* 执行比较耗时的函数，需要开多线程 */
static void get_html(int url)
{
    example_sleep(3);
    printf("%d\n", url);
}

/* worker takes requests until there are none left. */
static void *worker(void *arg)
{
    thread_pool *pool = arg;
    for (;;) {
        pthread_mutex_lock(&pool->lock);
        int i = pool->next < N_URLS ? pool->next++ : -1;
        pthread_mutex_unlock(&pool->lock);
        if (i < 0)
            return NULL;
        get_html(pool->urls[i]);
    }
}

int main(void)
{
    int urls[N_URLS];
    for (int i = 0; i < N_URLS; i++)
        urls[i] = i;
    /* 建立线程池, 提交任务给线程池 */
    thread_pool pool = {.lock = PTHREAD_MUTEX_INITIALIZER, .next = 0, .urls = urls};
    pthread_t threads[N_THREADS];
    for (int t = 0; t < N_THREADS; t++) {
        int rc = pthread_create(&threads[t], NULL, worker, &pool);
        if (rc != 0) {
            fprintf(stderr, "pthread_create: %s\n", strerror(rc));
            return 1;
        }
    }
    /* pool.wait() */
    for (int t = 0; t < N_THREADS; t++)
        pthread_join(threads[t], NULL);
    return 0;
}
