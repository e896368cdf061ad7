# dict_word_count: the counts of several processes adding into one dict
# equal those of a plain shell pipeline over the same files; first the
# made-up chapters, then four generated files of 20 000 words each drawn
# from 50, so that every process adds to the same keys at once.
# ctest-timeout: 60
. "$(dirname "$0")/lib.sh"
export LC_ALL=C

# expected FILES...: the program's output, computed by tr, sort and uniq.
expected() {
    local words distinct
    words=$(cat "$@" | tr 'A-Z' 'a-z' | tr -c 'a-z0-9_' '\n' | grep -c -v '^$' || true)
    distinct=$(cat "$@" | tr 'A-Z' 'a-z' | tr -c 'a-z0-9_' '\n' | grep -v '^$' | sort -u | wc -l)
    echo "files: $#, words: $words, distinct: $distinct"
    cat "$@" | tr 'A-Z' 'a-z' | tr -c 'a-z0-9_' '\n' | grep -v '^$' | sort | uniq -c |
        sort -k1,1nr -k2,2 | head -10 | awk '{printf "%4d %s\n", $1, $2}'
}

run dict_word_count
expect_out "$(expected "$SRC"/examples/data/words/chapter*.txt)"
expect_line 2 "  28 the"

new_dir
for f in 1 2 3 4; do
    awk -v seed="$f" 'BEGIN { srand(seed); for (i = 0; i < 20000; i++)
        printf "%s%s", "Word" int(rand() * 50), (i % 12 == 11 ? "\n" : " ") }' >"$NEW_DIR/f$f.txt"
done
run dict_word_count "$NEW_DIR"/f1.txt "$NEW_DIR"/f2.txt "$NEW_DIR"/f3.txt "$NEW_DIR"/f4.txt
expect_out "$(expected "$NEW_DIR"/f*.txt)"
expect_line 1 "files: 4, words: 80000, distinct: 50"
