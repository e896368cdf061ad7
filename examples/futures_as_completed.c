/* futures_as_completed.c - load several pages at once and print each as
 * soon as it is loaded, in the order they complete.
 *
 * Ports the ThreadPoolExecutor example of Python's concurrent.futures
 * documentation (as_completed):
 *
 *     URLS = ['http://www.foxnews.com/',
 *             'http://www.cnn.com/',
 *             'http://europe.wsj.com/',
 *             'http://www.bbc.co.uk/',
 *             'http://nonexistant-subdomain.python.org/']
 *
 *     # Retrieve a single page and report the URL and contents
 *     def load_url(url, timeout):
 *         with urllib.request.urlopen(url, timeout=timeout) as conn:
 *             return conn.read()
 *
 *     with concurrent.futures.ThreadPoolExecutor(max_workers=5) as executor:
 *         # Start the load operations and mark each future with its URL
 *         future_to_url = {executor.submit(load_url, url, 60): url for url in URLS}
 *         for future in concurrent.futures.as_completed(future_to_url):
 *             url = future_to_url[future]
 *             try:
 *                 data = future.result()
 *             except Exception as exc:
 *                 print('%r generated an exception: %s' % (url, exc))
 *             else:
 *                 print('%r page is %d bytes' % (url, len(data)))
 *
 * No network: the "URLs" are local files, the example pages in data/ and
 * one that does not exist (the nonexistent subdomain); give others as
 * arguments. The pool is one of processes, not threads. Each page comes
 * back whole, whatever its size, through mp_task_result_alloc and
 * mp_async_get_alloc; a file that cannot be read makes the task fail with
 * its errno, which is the "exception". as_completed is mp_async_wait_any
 * over the handles not yet seen: a consumed handle becomes NULL. */
#include "example_util.h"

typedef struct {
    char path[1024]; /* by value: a task runs in another process */
} url_arg;

/* load_url: the whole file as the task's result; its errno on failure. */
static int load_url(const void *arg, void *result)
{
    (void)result;
    const char *path = ((const url_arg *)arg)->path;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return errno;
    struct stat st;
    int err = fstat(fileno(f), &st) != 0 ? errno : 0;
    char *data = err ? NULL : mp_task_result_alloc((size_t)st.st_size);
    if (!err && data == NULL)
        err = errno;
    if (!err && fread(data, 1, (size_t)st.st_size, f) != (size_t)st.st_size)
        err = ferror(f) && errno != 0 ? errno : EIO; /* EISDIR for a folder */
    fclose(f);
    return err;
}

int main(int argc, char **argv)
{
    const char *defaults[] = {
        MP_EXAMPLE_DATA "/budejie.html",          MP_EXAMPLE_DATA "/maoyan/board_0.html",
        MP_EXAMPLE_DATA "/maoyan/board_50.html",  MP_EXAMPLE_DATA "/README.md",
        MP_EXAMPLE_DATA "/nonexistant-subdomain",
    };
    int n = argc > 1 ? argc - 1 : (int)(sizeof defaults / sizeof *defaults);
    url_arg *urls = calloc((size_t)n, sizeof *urls);
    mp_async **futures = calloc((size_t)n, sizeof *futures);
    if (urls == NULL || futures == NULL)
        return 1;

    mp_pool *executor = CHECK_NEW(mp_pool_new(5));
    /* Start the load operations; futures[i] belongs to urls[i]. */
    for (int i = 0; i < n; i++) {
        snprintf(urls[i].path, sizeof urls[i].path, "%s", argc > 1 ? argv[i + 1] : defaults[i]);
        futures[i] =
            CHECK_NEW(mp_pool_apply_async(executor, load_url, &urls[i], sizeof urls[i], 0, NULL));
    }
    for (int done = 0; done < n; done++) {
        size_t i;
        CHECK(mp_async_wait_any(futures, (size_t)n, MP_FOREVER, &i));
        void *data;
        size_t len;
        int rc = mp_async_get_alloc(futures[i], &data, &len, 0);
        if (rc == MP_ETASK)
            printf("'%s' generated an exception: %s\n", urls[i].path,
                   strerror(mp_async_task_error(futures[i])));
        else if (rc != MP_OK)
            printf("'%s' generated an exception: %s\n", urls[i].path, mp_strerror(rc));
        else
            printf("'%s' page is %zu bytes\n", urls[i].path, len);
        free(data);
        mp_async_free(futures[i]);
        futures[i] = NULL; /* as_completed yields each future once */
    }
    CHECK(mp_pool_close(executor));
    CHECK(mp_pool_join(executor));
    mp_pool_free(executor);
    free(futures);
    free(urls);
    return 0;
}
