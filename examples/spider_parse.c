/* spider_parse.c - one process scrapes user names, another prints them.
 *
 * Ports 002_d3d322b25bc90569.txt, 11 "队列" (举个实操的小例子):
 *
 *     def spider(q):
 *         html = requests.get('http://www.budejie.com', headers = headers)
 *         xml = etree.HTML(html.text)
 *         user_name = xml.xpath('//div[@class="u-txt"]/a/text()')
 *         q.put(user_name)
 *
 *     def parse(q):
 *         while True:
 *             time.sleep(0.1)
 *             if not q.empty():
 *                 value = q.get()
 *                 print(f'value:{value}')
 *             break
 *
 *     if __name__ == '__main__':
 *         q = Queue()
 *         sp = Process(target=spider, args=(q,))
 *         pa = Process(target=parse, args=(q,))
 *         sp.start()
 *         pa.start()
 *         sp.join()
 *         pa.join()
 *
 * No network: the spider reads examples/data/budejie.html (MADE-UP user
 * names in the page's structure), or the file given as argv[1], and
 * finds each <div class="u-txt"><a ...>name</a> with a POSIX regex in
 * place of the XPath. It puts the list as one message, written as Python
 * prints a list. The tutorial's parse looks once, after 0.1 s, and prints
 * nothing if the spider was slower (the break is outside the if); here
 * parse waits up to a second for the message instead. */
#include "example_util.h"

#include <regex.h>

static const char *page = MP_EXAMPLE_DATA "/budejie.html";

static int spider(void *arg)
{
    mp_queue *q = arg;
    FILE *f = fopen(page, "rb");
    if (f == NULL) {
        perror(page);
        return 1;
    }
    static char html[1 << 20];
    size_t len = fread(html, 1, sizeof html - 1, f);
    fclose(f);
    html[len] = '\0';

    /* user_name = xml.xpath('//div[@class="u-txt"]/a/text()') */
    regex_t re;
    if (regcomp(&re, "<div class=\"u-txt\">[[:space:]]*<a[^>]*>([^<]*)</a>", REG_EXTENDED) != 0)
        return 1;
    char user_name[4096] = "[";
    size_t n = 1;
    regmatch_t m[2];
    for (const char *s = html; regexec(&re, s, 2, m, 0) == 0; s += m[0].rm_eo)
        n += snprintf(user_name + n, sizeof user_name - n, "%s'%.*s'", n > 1 ? ", " : "",
                      (int)(m[1].rm_eo - m[1].rm_so), s + m[1].rm_so);
    snprintf(user_name + n, sizeof user_name - n, "]");
    regfree(&re);
    CHECK(mp_queue_put_str(q, user_name, MP_FOREVER));
    return 0;
}

static int parse(void *arg)
{
    mp_queue *q = arg;
    char *value;
    if (mp_queue_get_str(q, &value, 1.0) == 0) {
        printf("value:%s\n", value);
        free(value);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        page = argv[1];
    mp_queue *q = CHECK_NEW(mp_queue_new(0));
    mp_process *sp = CHECK_NEW(mp_process_new(spider, q, NULL));
    mp_process *pa = CHECK_NEW(mp_process_new(parse, q, NULL));
    CHECK(mp_process_start(sp));
    CHECK(mp_process_start(pa));
    CHECK(mp_process_join(sp, MP_FOREVER));
    CHECK(mp_process_join(pa, MP_FOREVER));
    int code;
    CHECK(mp_process_exitcode(sp, &code));
    mp_process_free(sp);
    mp_process_free(pa);
    mp_queue_free(q);
    return code;
}
