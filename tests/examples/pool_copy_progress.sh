# pool_copy_progress: the pool copies every file byte for byte into
# FOLDER复件 (or the folder given), and the progress climbs to 100.00 %,
# one step per file.
# ctest-timeout: 60
. "$(dirname "$0")/lib.sh"
new_dir
tmp=$NEW_DIR
make_tree "$tmp/src"
n=$(find "$tmp/src" -maxdepth 1 -type f | wc -l)
run pool_copy_progress "$tmp/src"
expect_copy "$tmp/src" "$tmp/src复件"
steps=$(tr '\r' '\n' <<<"$OUT" | grep -c '^拷贝进度')
[ "$steps" -eq "$n" ] || fail "$steps progress steps for $n files"
[[ "$OUT" == *$'\r拷贝进度100.00 %' ]] || fail "progress does not end at 100.00 %"
# the folder name typed in, as the tutorial asks for it, and an empty folder
mkdir "$tmp/empty"
OUT=$(cd "$tmp" && printf 'src\n' | timeout 60 "$EX/pool_copy_progress") || fail "stdin run"
[[ "$OUT" == 请输入要复制的文件夹名字:* ]] || fail "no prompt"
expect_copy "$tmp/src" "$tmp/src复件"
run pool_copy_progress "$tmp/empty" "$tmp/empty_copy"
[ -d "$tmp/empty_copy" ] || fail "empty folder's copy not made"
