/* maoyan_top100.c - parse ten "TOP100" pages with a regex, on a pool.
 *
 * Ports 002_d3d322b25bc90569.txt, 14 "实战（猫眼 TOP100 + re + multiprocessing）":
 *
 *     def parse_one_page(html):
 *         pattern = re.compile('<dd>.*?board-index.*?>(\d+)</i>.*?data-src="(.*?)".*?name.*?><a'
 *                              +'.*?>(.*?)</a>.*?star">(.*?)</p>.*?releasetime">(.*?)</p>.*?integer">'
 *                               +'(.*?)</i>.*?fraction">(.*?)</i>.*?</dd>', re.S)
 *         items = re.findall(pattern, html)
 *         for item in items:
 *             yield {
 *                 'index': item[0],
 *                 'image': item[1],
 *                 'title': item[2],
 *                 'actor': item[3].strip()[17:],
 *                 'time': item[4][5:],
 *                 'score': item[5]+item[6]
 *             }
 *     def write_to_file(content):
 *         with open('result.txt', 'a', encoding='utf-8') as f:
 *             f.write(json.dumps(content, ensure_ascii=False) + '\n')
 *
 *     def main(offset):
 *         url = f'https://maoyan.com/board/4?offset={offset}'
 *         html = get_one_page(url)
 *         for item in parse_one_page(html):
 *             print(item)
 *             write_to_file(item)
 *
 *     if __name__ == '__main__':
 *         pool = Pool()
 *         pool.map(main, [i*10 for i in range(10)])
 *
 * No network: get_one_page reads examples/data/maoyan/board_<offset>.html,
 * ten small pages of MADE-UP films in the board's HTML structure.
 * Usage: maoyan_top100 [PAGES_DIR [RESULT_FILE]] (default: those pages
 * and result.txt, appended to as in the tutorial).
 *
 * POSIX regular expressions have no lazy .*?, so the page is cut into
 * its <dd>...</dd> blocks first and one pattern is matched in each, with
 * [^<]* and [^"]* where Python has (.*?). The tutorial's [17:] on the
 * stripped actors would cut into the names; this drops the "主演："
 * prefix it meant, as [5:] drops "上映时间：". Each item is appended to
 * the file with one write(2) on an O_APPEND descriptor, so the lines of
 * the workers never mix. */
#include "example_util.h"

#include <fcntl.h>
#include <regex.h>

/* Set by main before the pool starts: the workers inherit them. */
static const char *pages_dir = MP_EXAMPLE_DATA "/maoyan";
static const char *result_file = "result.txt";

static const char item_pattern[] = "board-index[^>]*>([0-9]+)</i>"
                                   ".*data-src=\"([^\"]*)\""
                                   ".*name\"><a[^>]*>([^<]*)</a>"
                                   ".*star\">([^<]*)</p>"
                                   ".*releasetime\">([^<]*)</p>"
                                   ".*integer\">([^<]*)</i>"
                                   ".*fraction\">([^<]*)</i>";

typedef struct {
    char index[8], image[256], title[128], actor[256], time[64], score[16];
} movie;

/* get_one_page reads the page for offset into a malloc'd string, or NULL. */
static char *get_one_page(int offset)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/board_%d.html", pages_dir, offset);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *html = NULL;
    size_t len = 0, cap = 0, n;
    do {
        if (len + 4096 + 1 > cap) {
            char *grown = realloc(html, cap = 2 * cap + 4096 + 1);
            if (grown == NULL) {
                free(html);
                fclose(f);
                return NULL;
            }
            html = grown;
        }
        n = fread(html + len, 1, 4096, f);
        len += n;
    } while (n > 0);
    fclose(f);
    html[len] = '\0';
    return html;
}

/* copy_match copies group g of a match, skipping `skip` leading UTF-8
 * characters (Python's [skip:]) and, with strip, white space at both ends. */
static void copy_match(char *dst, size_t cap, const char *s, const regmatch_t *g, int skip,
                       bool strip)
{
    const char *b = s + g->rm_so, *e = s + g->rm_eo;
    while (strip && b < e && strchr(" \t\r\n", *b))
        b++;
    while (strip && e > b && strchr(" \t\r\n", e[-1]))
        e--;
    for (; skip > 0 && b < e; skip--) /* a character: one lead byte and its 10xxxxxx bytes */
        for (b++; b < e && (*b & 0xC0) == 0x80; b++)
            ;
    snprintf(dst, cap, "%.*s", (int)(e - b), b);
}

/* json_str writes s as a JSON string (ensure_ascii=False: UTF-8 kept). */
static int json_str(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    out[n++] = '"';
    for (; *s && n + 8 < cap; s++) {
        if (*s == '"' || *s == '\\')
            n += snprintf(out + n, cap - n, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            n += snprintf(out + n, cap - n, "\\u%04x", *s);
        else
            out[n++] = *s;
    }
    out[n++] = '"';
    out[n] = '\0';
    return (int)n;
}

static void write_to_file(const movie *m)
{
    const char *keys[] = {"index", "image", "title", "actor", "time", "score"};
    const char *vals[] = {m->index, m->image, m->title, m->actor, m->time, m->score};
    char line[2048], v[600];
    size_t n = 0;
    for (int k = 0; k < 6; k++) {
        json_str(v, sizeof v, vals[k]);
        n += snprintf(line + n, sizeof line - n, "%s\"%s\": %s", k ? ", " : "{", keys[k], v);
    }
    n += snprintf(line + n, sizeof line - n, "}\n");
    int fd = open(result_file, O_WRONLY | O_CREAT | O_APPEND, 0666);
    if (fd < 0 || write(fd, line, n) != (ssize_t)n)
        perror(result_file);
    if (fd >= 0)
        close(fd);
}

/* task is main(offset): get the page, print and save every item in it. */
static int task(const void *arg, void *result)
{
    int offset = *(const int *)arg;
    char *html = get_one_page(offset);
    if (html == NULL) {
        fprintf(stderr, "page for offset %d: %s\n", offset, strerror(errno));
        return 1;
    }
    regex_t re;
    if (regcomp(&re, item_pattern, REG_EXTENDED) != 0) {
        free(html);
        return 2;
    }
    /* re.findall: each <dd>...</dd> block is one item */
    for (char *dd = strstr(html, "<dd>"); dd != NULL; dd = strstr(dd, "<dd>")) {
        char *end = strstr(dd, "</dd>");
        if (end == NULL)
            break;
        *end = '\0';
        regmatch_t g[8];
        if (regexec(&re, dd, 8, g, 0) == 0) {
            movie m;
            char integer[8], fraction[8];
            copy_match(m.index, sizeof m.index, dd, &g[1], 0, false);
            copy_match(m.image, sizeof m.image, dd, &g[2], 0, false);
            copy_match(m.title, sizeof m.title, dd, &g[3], 0, false);
            copy_match(m.actor, sizeof m.actor, dd, &g[4], 3, true); /* drop "主演：" */
            copy_match(m.time, sizeof m.time, dd, &g[5], 5, false);  /* drop "上映时间：" */
            copy_match(integer, sizeof integer, dd, &g[6], 0, false);
            copy_match(fraction, sizeof fraction, dd, &g[7], 0, false);
            snprintf(m.score, sizeof m.score, "%s%s", integer, fraction);
            printf("{'index': '%s', 'image': '%s', 'title': '%s', 'actor': '%s', 'time': '%s', "
                   "'score': '%s'}\n",
                   m.index, m.image, m.title, m.actor, m.time, m.score);
            write_to_file(&m);
        }
        dd = end + 1;
    }
    regfree(&re);
    free(html);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        pages_dir = argv[1];
    if (argc > 2)
        result_file = argv[2];
    int offsets[10];
    for (int i = 0; i < 10; i++)
        offsets[i] = i * 10;
    mp_pool *pool = CHECK_NEW(mp_pool_new(0)); /* Pool(): one worker per CPU */
    int rc = mp_pool_map(pool, task, offsets, 10, sizeof *offsets, NULL, 0, 1);
    if (rc == MP_ETASK)
        fprintf(stderr, "a page could not be read or parsed\n");
    else
        CHECK(rc);
    CHECK(mp_pool_close(pool));
    CHECK(mp_pool_join(pool));
    mp_pool_free(pool);
    return rc == 0 ? 0 : 1;
}
