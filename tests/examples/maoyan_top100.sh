# maoyan_top100: the pool parses the 100 made-up films of the ten pages:
# each printed once as a dict and appended once to result.txt as JSON,
# fields taken apart as the tutorial's regex does.
# ctest-timeout: 60
. "$(dirname "$0")/lib.sh"
new_dir
tmp=$NEW_DIR
run_in "$tmp" maoyan_top100
[ -f "$tmp/result.txt" ] || fail "no result.txt"
json=$(cat "$tmp/result.txt")
[ "$(wc -l <<<"$json")" -eq 100 ] || fail "result.txt has $(wc -l <<<"$json") lines"
[ "$(grep -o -E '^\{"index": "[0-9]+"' <<<"$json" | grep -o -E '[0-9]+' | sort -n)" == "$(seq 1 100)" ] ||
    fail "indexes 1..100 each once"
bad=$(grep -v -E '^\{"index": "[0-9]+", "image": "https://example\.com/poster/[0-9]+\.jpg", "title": "示例影片[0-9]+号", "actor": "[^",]+,[^",]+,[^",]+", "time": "[0-9]{4}-[0-9]{2}-[0-9]{2}", "score": "[0-9]\.[0-9]"\}$' <<<"$json" || true)
[ -z "$bad" ] || fail "malformed JSON lines: $bad"
grep -q -x -F '{"index": "1", "image": "https://example.com/poster/1001.jpg", "title": "示例影片1号", "actor": "钱演员四,孙演员五,李演员六", "time": "1951-02-02", "score": "9.2"}' <<<"$json" ||
    fail "film 1 is not parsed as the page says"
# stdout has the same items, as Python dicts
[ "$(tr "'" '"' <<<"$OUT" | sort)" == "$(sort <<<"$json")" ] || fail "printed items differ from result.txt"
# appending: a second run doubles the file
run_in "$tmp" maoyan_top100 "$SRC/examples/data/maoyan" result.txt
[ "$(wc -l <"$tmp/result.txt")" -eq 200 ] || fail "second run did not append"
