/* dict_word_count.c - several processes count the words of text files
 * into one shared dict.
 *
 * Ports the classic Manager().dict() word count (not from the tutorials;
 * the shape Python programs use to share counts):
 *
 *     from multiprocessing import Manager, Process
 *     import re, sys
 *
 *     def count_words(path, counts, lock):
 *         with open(path) as f:
 *             for word in re.findall(r"\w+", f.read().lower()):
 *                 with lock:            # d[w] = d.get(w, 0) + 1 races
 *                     counts[word] = counts.get(word, 0) + 1
 *
 *     if __name__ == "__main__":
 *         files = sys.argv[1:]
 *         with Manager() as manager:
 *             counts, lock = manager.dict(), manager.Lock()
 *             procs = [Process(target=count_words, args=(f, counts, lock))
 *                      for f in files]
 *             for p in procs: p.start()
 *             for p in procs: p.join()
 *             print(f"files: {len(files)}, words: {sum(counts.values())}, "
 *                   f"distinct: {len(counts)}")
 *             top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
 *             for word, n in top[:10]:
 *                 print(f"{n:4} {word}")
 *
 * One process per file, as in Python. mp_dict_add_i64 is the race-free
 * d[w] = d.get(w, 0) + 1 in one call, so no lock is needed; the dict lives
 * in the shared heap, so there is no manager process. A word is a run of
 * ASCII letters, digits and underscores, lowercased (Python's \w on
 * ASCII text). Without arguments it counts the made-up texts in
 * examples/data/words/. */
#include <ctype.h>

#include "example_util.h"

enum { TOP = 10, MAX_WORD = 64 };

static mp_dict *counts;

/* count_words is the target of one process: every word of the file at
 * path goes into the shared dict. */
static int count_words(void *arg)
{
    const char *path = arg;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        perror(path);
        return 1;
    }
    char word[MAX_WORD];
    size_t n = 0;
    for (int c;;) {
        c = fgetc(f);
        if (c != EOF && (isalnum(c) || c == '_')) {
            if (n < sizeof word)
                word[n++] = (char)tolower(c);
            continue;
        }
        if (n > 0)
            CHECK(mp_dict_add_i64(counts, word, n, 1, NULL));
        n = 0;
        if (c == EOF)
            break;
    }
    fclose(f);
    return 0;
}

/* The counts, copied out of the dict for sorting. */
typedef struct {
    char word[MAX_WORD + 1];
    int64_t n;
} tally;

typedef struct {
    tally *t;
    size_t len, cap;
    int64_t words;
} tallies;

static int collect(const void *key, size_t klen, const void *val, size_t vlen, void *ud)
{
    tallies *ts = ud;
    if (ts->len == ts->cap) {
        ts->cap = ts->cap ? 2 * ts->cap : 256;
        ts->t = realloc(ts->t, ts->cap * sizeof *ts->t);
        if (ts->t == NULL)
            return MP_ENOMEM;
    }
    tally *t = &ts->t[ts->len++];
    memcpy(t->word, key, klen);
    t->word[klen] = '\0';
    memcpy(&t->n, val, vlen); /* a counter: 8 bytes */
    ts->words += t->n;
    return 0;
}

/* Most frequent first, then alphabetical. */
static int by_count(const void *a, const void *b)
{
    const tally *x = a, *y = b;
    if (x->n != y->n)
        return x->n > y->n ? -1 : 1;
    return strcmp(x->word, y->word);
}

int main(int argc, char **argv)
{
    static const char *const texts[] = {"chapter1.txt", "chapter2.txt", "chapter3.txt",
                                        "chapter4.txt"};
    char defaults[4][512];
    char **files = argv + 1;
    int nfiles = argc - 1;
    char *def[4];
    if (nfiles == 0) {
        for (int i = 0; i < 4; i++) {
            snprintf(defaults[i], sizeof defaults[i], "%s/words/%s", MP_EXAMPLE_DATA, texts[i]);
            def[i] = defaults[i];
        }
        files = def;
        nfiles = 4;
    }

    counts = CHECK_NEW(mp_dict_new());
    mp_process **procs = calloc((size_t)nfiles, sizeof *procs);
    for (int i = 0; i < nfiles; i++)
        procs[i] = CHECK_NEW(mp_process_new(count_words, files[i], NULL));
    for (int i = 0; i < nfiles; i++)
        CHECK(mp_process_start(procs[i]));
    for (int i = 0; i < nfiles; i++) {
        int code;
        CHECK(mp_process_join(procs[i], MP_FOREVER));
        CHECK(mp_process_exitcode(procs[i], &code));
        if (code != 0)
            return 1;
        mp_process_free(procs[i]);
    }
    free(procs);

    tallies ts = {NULL, 0, 0, 0};
    CHECK(mp_dict_items(counts, collect, &ts));
    printf("files: %d, words: %lld, distinct: %zu\n", nfiles, (long long)ts.words,
           mp_dict_len(counts));
    qsort(ts.t, ts.len, sizeof *ts.t, by_count);
    for (size_t i = 0; i < ts.len && i < TOP; i++)
        printf("%4lld %s\n", (long long)ts.t[i].n, ts.t[i].word);
    free(ts.t);
    mp_dict_free(counts);
    return 0;
}
