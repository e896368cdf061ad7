# folder_copy_progress: a process per file copies the tree into SRC-备份
# byte for byte, the progress reaches 100%; an existing destination is
# reported like Python's OSError and nothing is copied.
# ctest-timeout: 60
. "$(dirname "$0")/lib.sh"
new_dir
tmp=$NEW_DIR
make_tree "$tmp/src"
n=$(find "$tmp/src" -maxdepth 1 -type f | wc -l)
run folder_copy_progress "$tmp/src"
expect_copy "$tmp/src" "$tmp/src-备份"
steps=$(tr '\r' '\n' <<<"$OUT" | grep -c '^当前进度为')
[ "$steps" -eq "$n" ] || fail "$steps progress steps for $n files"
[[ "$OUT" == *$'\r当前进度为100%' ]] || fail "progress does not end at 100%"
run folder_copy_progress "$tmp/src"
expect_out "[Errno 17] File exists: '$tmp/src-备份'"
OUT=$(cd "$tmp" && printf 'src\n' | timeout 60 "$EX/folder_copy_progress" "src" "other") || fail "run"
expect_copy "$tmp/src" "$tmp/other"
