# futures_as_completed: every page reported once with its size in bytes,
# the missing one as an exception; pages of any size come back whole.
# ctest-timeout: 30
. "$(dirname "$0")/lib.sh"
d=$SRC/examples/data
size() { stat -c %s "$1"; }
run futures_as_completed
expect_sorted "'$d/budejie.html' page is $(size "$d/budejie.html") bytes
'$d/maoyan/board_0.html' page is $(size "$d/maoyan/board_0.html") bytes
'$d/maoyan/board_50.html' page is $(size "$d/maoyan/board_50.html") bytes
'$d/README.md' page is $(size "$d/README.md") bytes
'$d/nonexistant-subdomain' generated an exception: No such file or directory"
# A large page, an empty one and an unreadable one (a folder).
new_dir
head -c 3000000 /dev/urandom >"$NEW_DIR/big"
: >"$NEW_DIR/empty"
mkdir "$NEW_DIR/folder"
run futures_as_completed "$NEW_DIR/big" "$NEW_DIR/empty" "$NEW_DIR/folder"
expect_sorted "'$NEW_DIR/big' page is 3000000 bytes
'$NEW_DIR/empty' page is 0 bytes
'$NEW_DIR/folder' generated an exception: Is a directory"
