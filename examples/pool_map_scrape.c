/* pool_map_scrape.c - "scrape" a list of URLs with map on three workers.
 *
 * Ports 002_d3d322b25bc90569.txt, 13 "进程池" (map(scrape, urls)):
 *
 *     def scrape(url):
 *         try:
 *             urllib.request.urlopen(url)
 *             print(f'URL {url} Scraped')
 *         except (urllib.error.HTTPError, urllib.error.URLError):
 *             print(f'URL {url} not Scraped')
 *
 *     if __name__ == '__main__':
 *         pool = Pool(processes=3)
 *         urls = [
 *             'https://www.baidu.com',
 *             'http://www.meituan.com/',
 *             'http://www.aiyc.top/',
 *             'http://xxxyxxx.net',
 *         ]
 *         pool.map(scrape, urls)
 *         pool.close()
 *
 * No network: the URLs are file: URLs (or plain paths) of the example
 * data, three that exist and one that does not, like the tutorial's
 * xxxyxxx.net; give others as arguments. scrape opens and reads the file;
 * any other scheme is reported "not Scraped". Each URL travels to its
 * worker by value, in a fixed-size struct. */
#include "example_util.h"

typedef struct {
    char url[1024];
} url_arg;

static int scrape(const void *arg, void *result)
{
    const char *url = ((const url_arg *)arg)->url;
    const char *path = url;
    if (strncmp(url, "file://", 7) == 0)
        path = url + 7;
    else if (strncmp(url, "file:", 5) == 0)
        path = url + 5;
    else if (strstr(url, "://") != NULL)
        path = NULL; /* http(s): no network in the examples */
    FILE *f = path ? fopen(path, "rb") : NULL;
    char buf[4096];
    if (f != NULL && (fread(buf, 1, sizeof buf, f), !ferror(f)))
        printf("URL %s Scraped\n", url);
    else
        printf("URL %s not Scraped\n", url);
    if (f != NULL)
        fclose(f);
    return 0;
}

int main(int argc, char **argv)
{
    const char *defaults[] = {
        "file://" MP_EXAMPLE_DATA "/budejie.html",
        "file://" MP_EXAMPLE_DATA "/maoyan/board_0.html",
        MP_EXAMPLE_DATA "/maoyan/board_10.html",
        "file:///nonexistent/xxxyxxx.net",
    };
    int n = argc > 1 ? argc - 1 : 4;
    url_arg *urls = calloc(n, sizeof *urls);
    if (urls == NULL)
        return 1;
    for (int i = 0; i < n; i++)
        snprintf(urls[i].url, sizeof urls[i].url, "%s", argc > 1 ? argv[i + 1] : defaults[i]);

    mp_pool *pool = CHECK_NEW(mp_pool_new(3));
    CHECK(mp_pool_map(pool, scrape, urls, n, sizeof *urls, NULL, 0, 0));
    CHECK(mp_pool_close(pool));
    CHECK(mp_pool_join(pool));
    mp_pool_free(pool);
    free(urls);
    return 0;
}
