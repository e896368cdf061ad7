/* threads.c - threads of one process hammering every libmp object at once,
 * guarding plain (non-atomic) data with them. Built for ThreadSanitizer:
 * libmp's locks are futex words with C11 atomics, which TSan follows, so a
 * missing acquire/release ordering anywhere in a lock, condition,
 * semaphore, event, barrier, queue or the heap shows up as a data race on
 * the plain data. Without TSan it is a quick correctness stress.
 *
 *   threads [iterations]     (default 20000 per thread; MP_STRESS_ITER too)
 *
 * Exit status 0 when every count adds up. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mp.h"

#define NT 4 /* threads per object */

static long iters = 20000;
static int failures;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "threads: %s:%d: %s\n", __FILE__, __LINE__, #cond);                    \
            __atomic_fetch_add(&failures, 1, __ATOMIC_RELAXED);                                    \
        }                                                                                          \
    } while (0)

/* What each thread gets: the shared object and its own index. */
struct targ {
    void *arg;
    int i;
};

#define ARG(p) (((struct targ *)(p))->arg)
#define IDX(p) (((struct targ *)(p))->i)

/* run starts NT threads of fn and waits for them. */
static void run(void *(*fn)(void *), void *arg)
{
    pthread_t t[NT];
    struct targ a[NT];
    for (int i = 0; i < NT; i++) {
        a[i].arg = arg;
        a[i].i = i;
        pthread_create(&t[i], NULL, fn, &a[i]);
    }
    for (int i = 0; i < NT; i++)
        pthread_join(t[i], NULL);
}

/* ---- locks guarding a plain counter ------------------------------------ */

static uint64_t plain; /* guarded by whichever lock the test uses */

static void *lock_thread(void *p)
{
    mp_lock *l = ARG(p);
    for (long i = 0; i < iters; i++) {
        CHECK(mp_lock_acquire(l, MP_FOREVER) == 0);
        plain++;
        CHECK(mp_lock_release(l) == 0);
    }
    return NULL;
}

static void *rlock_thread(void *p)
{
    mp_rlock *l = ARG(p);
    for (long i = 0; i < iters; i++) {
        CHECK(mp_rlock_acquire(l, MP_FOREVER) == 0);
        CHECK(mp_rlock_acquire(l, MP_FOREVER) == 0);
        plain++;
        CHECK(mp_rlock_release(l) == 0);
        CHECK(mp_rlock_release(l) == 0);
    }
    return NULL;
}

static void *sem_thread(void *p)
{
    mp_semaphore *s = ARG(p);
    for (long i = 0; i < iters; i++) {
        CHECK(mp_semaphore_acquire(s, MP_FOREVER) == 0);
        plain++;
        CHECK(mp_semaphore_release(s) == 0);
    }
    return NULL;
}

/* ---- a condition guarding a plain ring --------------------------------- */

struct ring {
    mp_condition *c;
    uint64_t item[16];
    int head, count;  /* guarded by c */
    uint64_t sum_in;  /* guarded by c */
    uint64_t sum_out; /* guarded by c */
    long left;        /* items still to take, guarded by c */
};

static bool has_item(void *r)
{
    return ((struct ring *)r)->count > 0;
}

static bool has_room(void *r)
{
    return ((struct ring *)r)->count < 16;
}

static void *cond_thread(void *p)
{
    struct ring *r = ARG(p);
    bool producer = IDX(p) % 2 == 0;
    for (long i = 0; i < iters; i++) {
        CHECK(mp_condition_acquire(r->c, MP_FOREVER) == 0);
        if (producer) {
            CHECK(mp_condition_wait_for(r->c, has_room, r, MP_FOREVER) == 0);
            uint64_t v = (uint64_t)IDX(p) << 32 | (uint64_t)i;
            r->item[(r->head + r->count) % 16] = v;
            r->count++;
            r->sum_in += v;
        } else {
            CHECK(mp_condition_wait_for(r->c, has_item, r, MP_FOREVER) == 0);
            r->sum_out += r->item[r->head];
            r->head = (r->head + 1) % 16;
            r->count--;
            r->left--;
        }
        CHECK(mp_condition_notify_all(r->c) == 0);
        CHECK(mp_condition_release(r->c) == 0);
    }
    return NULL;
}

/* ---- a barrier between plain writes and reads, an event ---------------- */

struct phases {
    mp_barrier *b;
    long slot[NT]; /* slot i written by thread i, read by all after the barrier */
};

static void *barrier_thread(void *p)
{
    struct phases *ph = ARG(p);
    int me = IDX(p);
    for (long k = 0; k < iters / 20; k++) {
        ph->slot[me] = k;
        CHECK(mp_barrier_wait(ph->b, MP_FOREVER) >= 0);
        for (int j = 0; j < NT; j++)
            CHECK(ph->slot[j] == k);
        CHECK(mp_barrier_wait(ph->b, MP_FOREVER) >= 0);
    }
    return NULL;
}

struct flag {
    mp_event *e;
    char data[64]; /* written before set, read after wait */
};

static void *event_thread(void *p)
{
    struct flag *f = ARG(p);
    if (IDX(p) == 0) {
        snprintf(f->data, sizeof f->data, "ready");
        CHECK(mp_event_set(f->e) == 0);
    } else {
        CHECK(mp_event_wait(f->e, MP_FOREVER) == 0);
        CHECK(strcmp(f->data, "ready") == 0);
    }
    return NULL;
}

/* ---- a queue between threads, the heap from threads -------------------- */

struct qstate {
    mp_queue *q;
    _Atomic uint64_t got_sum;
};

static void *queue_thread(void *p)
{
    struct qstate *s = ARG(p);
    char buf[600];
    if (IDX(p) % 2 == 0) {
        for (long i = 0; i < iters; i++) {
            size_t len = 8 + (size_t)(i % 500);
            uint64_t v = (uint64_t)i + 1;
            memcpy(buf, &v, 8);
            memset(buf + 8, (int)(v & 0xff), len - 8);
            CHECK(mp_queue_put(s->q, buf, len, MP_FOREVER) == 0);
        }
    } else {
        for (long i = 0; i < iters; i++) {
            size_t len = 0;
            CHECK(mp_queue_get(s->q, buf, sizeof buf, &len, MP_FOREVER) == 0);
            uint64_t v;
            memcpy(&v, buf, 8);
            for (size_t k = 8; k < len; k++)
                if ((unsigned char)buf[k] != (v & 0xff)) {
                    CHECK(!"queue payload corrupt");
                    break;
                }
            atomic_fetch_add(&s->got_sum, v);
        }
    }
    return NULL;
}

static void *heap_thread(void *p)
{
    unsigned char *blk[8] = {0};
    size_t len[8] = {0};
    uint64_t r = (uint64_t)IDX(p) * 0x9E3779B97F4A7C15ULL + 1;
    for (long i = 0; i < iters; i++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        int k = (int)(r % 8);
        if (blk[k] != NULL) {
            for (size_t j = 0; j < len[k]; j++)
                if (blk[k][j] != (unsigned char)k) {
                    CHECK(!"heap block overwritten");
                    break;
                }
            mp_shared_free(blk[k]);
            blk[k] = NULL;
        } else {
            len[k] = (size_t)(r >> 8) % (r % 16 == 0 ? 20000 : 200);
            blk[k] = mp_shared_malloc(len[k]);
            CHECK(blk[k] != NULL);
            if (blk[k] != NULL)
                memset(blk[k], k, len[k]);
        }
    }
    for (int k = 0; k < 8; k++)
        mp_shared_free(blk[k]);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *env = getenv("MP_STRESS_ITER");
    if (argc > 1)
        iters = atol(argv[1]);
    else if (env != NULL)
        iters = atol(env);
    if (iters < 20)
        iters = 20;

    mp_lock *l = mp_lock_new();
    plain = 0;
    run(lock_thread, l);
    CHECK(plain == (uint64_t)NT * iters);
    mp_lock_free(l);

    mp_rlock *rl = mp_rlock_new();
    plain = 0;
    run(rlock_thread, rl);
    CHECK(plain == (uint64_t)NT * iters);
    mp_rlock_free(rl);

    mp_semaphore *s = mp_semaphore_new(1);
    plain = 0;
    run(sem_thread, s);
    CHECK(plain == (uint64_t)NT * iters);
    mp_semaphore_free(s);

    /* Each condition variant: its own rlock, and a user lock. */
    for (int v = 0; v < 2; v++) {
        mp_lock *ul = v ? mp_lock_new() : NULL;
        struct ring *r = mp_shared_calloc(1, sizeof *r);
        r->c = mp_condition_new(ul);
        r->left = (long)(NT / 2) * iters;
        run(cond_thread, r);
        CHECK(r->count == 0 && r->left == 0 && r->sum_in == r->sum_out);
        mp_condition_free(r->c);
        mp_shared_free(r);
        mp_lock_free(ul);
    }

    struct phases *ph = mp_shared_calloc(1, sizeof *ph);
    ph->b = mp_barrier_new(NT);
    run(barrier_thread, ph);
    mp_barrier_free(ph->b);
    mp_shared_free(ph);

    struct flag *f = mp_shared_calloc(1, sizeof *f);
    f->e = mp_event_new();
    run(event_thread, f);
    mp_event_free(f->e);
    mp_shared_free(f);

    struct qstate *qs = mp_shared_calloc(1, sizeof *qs);
    qs->q = mp_queue_new_opts(&(mp_queue_opts){.maxsize = 64, .capacity = 4096});
    run(queue_thread, qs);
    uint64_t want = (uint64_t)(NT / 2) * ((uint64_t)iters * (iters + 1) / 2);
    CHECK(atomic_load(&qs->got_sum) == want);
    CHECK(mp_queue_qsize(qs->q) == 0);
    mp_queue_free(qs->q);
    mp_shared_free(qs);

    run(heap_thread, NULL);

    printf("threads: %ld iterations x %d threads per object, %d failures\n", iters, NT, failures);
    return failures == 0 ? 0 : 1;
}
