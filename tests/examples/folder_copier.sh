# folder_copier: one process per file copies the tree byte for byte, with
# a "src -----> dest" line per file; a second run finds the destination
# folder there; with no arguments it uses the lesson's folder names.
# ctest-timeout: 60
. "$(dirname "$0")/lib.sh"
new_dir
tmp=$NEW_DIR
make_tree "$tmp/src"
run folder_copier "$tmp/src" "$tmp/dest"
expect_copy "$tmp/src" "$tmp/dest"
expect_count '^目标文件夹已经存在' 0
files=$(cd "$tmp/src" && find . -maxdepth 1 -type f | sed 's|^\./||' | sort)
[ "$(line 1 | tr -d "[]'" | sed 's/, /\n/g' | sort)" == "$files" ] ||
    fail "line 1 does not list the files: $(line 1)"
expect_sorted "$(line 1)
$(while read -r f; do echo "$tmp/src/$f -----> $tmp/dest/$f"; done <<<"$files")"

rm -f "$tmp/dest/f_4097.bin"
echo changed >"$tmp/dest/f_1.bin"
run folder_copier "$tmp/src" "$tmp/dest"
expect_line 1 "目标文件夹已经存在，未创建~"
expect_copy "$tmp/src" "$tmp/dest"

make_tree "$tmp/python教学视频"
run_in "$tmp" folder_copier
expect_copy "$tmp/python教学视频" "$tmp/test"
