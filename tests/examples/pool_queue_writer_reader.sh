# pool_queue_writer_reader: the reader task gets "itcast" letter by letter
# from the queue the writer task filled; start and End show main's pid.
# The reader takes qsize() letters, after the tutorial's 1 s sleep for the
# writer: run at full speed.
# ctest-timeout: 60
. "$(dirname "$0")/lib.sh"
export MP_EXAMPLE_TIME_SCALE=1
run pool_queue_writer_reader
main=$(line 1 | sed -n 's/^(\([0-9]*\)) start$/\1/p')
[ -n "$main" ] || fail "line 1"
[[ "$(line 2)" =~ ^writer启动\([0-9]+\),父进程为\([0-9]+\)$ ]] || fail "line 2"
[[ "$(line 3)" =~ ^reader启动\([0-9]+\),父进程为\([0-9]+\)$ ]] || fail "line 3"
[ "$(sed -n '4,9p' <<<"$OUT")" == "$(printf 'reader从Queue获取到消息：%s\n' i t c a s t)" ] ||
    fail "the reader's messages"
expect_line 10 "($main) End"
expect_count '' 10
