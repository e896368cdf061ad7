/* list_results.c - worker processes collect their results in one shared
 * list.
 *
 * Ports the classic Manager().list() results collector (not from the
 * tutorials; the shape Python programs use to gather findings):
 *
 *     from multiprocessing import Manager, Process
 *
 *     def is_prime(n):
 *         return n > 1 and all(n % d for d in range(2, int(n ** 0.5) + 1))
 *
 *     def search(lo, hi, results):
 *         for n in range(lo, hi):
 *             if is_prime(n):
 *                 results.append(n)
 *
 *     if __name__ == "__main__":
 *         with Manager() as manager:
 *             results = manager.list()
 *             step = 10000 // 4
 *             procs = [Process(target=search,
 *                              args=(i * step, (i + 1) * step, results))
 *                      for i in range(4)]
 *             for p in procs: p.start()
 *             for p in procs: p.join()
 *             found = sorted(results)
 *             print(f"{len(results)} primes below 10000, sum {sum(found)}")
 *             print("first:", *found[:10])
 *             print("last:", *found[-5:])
 *             print("popped:", results.pop(), "left:", len(results))
 *
 * Four processes append to one list at once; each number is 8 bytes (an
 * int64_t) copied into the list. The list lives in the shared heap, so
 * there is no manager process. The appends of the four interleave, so the
 * list is sorted before printing, as in the Python; the last line pops
 * whatever was appended last. */
#include "example_util.h"

enum { LIMIT = 10000, WORKERS = 4 };

static mp_list *results;

static bool is_prime(int64_t n)
{
    if (n < 2)
        return false;
    for (int64_t d = 2; d * d <= n; d++)
        if (n % d == 0)
            return false;
    return true;
}

/* search is the target of one worker: the primes of its range go into
 * the shared list. */
static int search(void *arg)
{
    int64_t lo = (int64_t)(intptr_t)arg, hi = lo + LIMIT / WORKERS;
    for (int64_t n = lo; n < hi; n++)
        if (is_prime(n))
            CHECK(mp_list_append(results, &n, sizeof n));
    return 0;
}

static int by_value(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int main(void)
{
    results = CHECK_NEW(mp_list_new());
    mp_process *procs[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        procs[i] =
            CHECK_NEW(mp_process_new(search, (void *)(intptr_t)(i * (LIMIT / WORKERS)), NULL));
    for (int i = 0; i < WORKERS; i++)
        CHECK(mp_process_start(procs[i]));
    for (int i = 0; i < WORKERS; i++) {
        int code;
        CHECK(mp_process_join(procs[i], MP_FOREVER));
        CHECK(mp_process_exitcode(procs[i], &code));
        if (code != 0)
            return 1;
        mp_process_free(procs[i]);
    }

    /* sorted(results): copy the items out, then sort. */
    size_t len = mp_list_len(results);
    int64_t *found = malloc((len > 0 ? len : 1) * sizeof *found);
    int64_t sum = 0;
    for (size_t i = 0; i < len; i++) {
        size_t n;
        CHECK(mp_list_get(results, (ptrdiff_t)i, &found[i], sizeof found[i], &n));
        sum += found[i];
    }
    qsort(found, len, sizeof *found, by_value);
    printf("%zu primes below %d, sum %lld\n", len, LIMIT, (long long)sum);
    printf("first:");
    for (size_t i = 0; i < len && i < 10; i++)
        printf(" %lld", (long long)found[i]);
    printf("\nlast:");
    for (size_t i = len > 5 ? len - 5 : 0; i < len; i++)
        printf(" %lld", (long long)found[i]);
    printf("\n");

    int64_t popped;
    size_t n;
    CHECK(mp_list_pop(results, -1, &popped, sizeof popped, &n));
    printf("popped: %lld left: %zu\n", (long long)popped, mp_list_len(results));
    free(found);
    mp_list_free(results);
    return 0;
}
