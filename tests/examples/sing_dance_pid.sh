# sing_dance_pid: two child pids, each task prints its name before every
# round: xiaoming three times, 传智 twice.
# ctest-timeout: 30
. "$(dirname "$0")/lib.sh"
run sing_dance_pid
expect_only '^唱歌进程的pid:  [0-9]+$' '^跳舞进程的pid:  [0-9]+$' '^xiaoming$' '^传智$' \
    '^唱歌\.\.\.$' '^跳舞\.\.\.$'
expect_count '^唱歌进程的pid:  ' 1
expect_count '^跳舞进程的pid:  ' 1
[ "$(distinct 'pid:  [0-9]+')" -eq 2 ] || fail "expected two pids"
expect_count '^xiaoming$' 3
expect_count '^唱歌\.\.\.$' 3
expect_count '^传智$' 2
expect_count '^跳舞\.\.\.$' 2
# each process's own lines keep their order
sing=$(grep -E '^(唱歌|xiaoming)' <<<"$OUT" | tr '\n' ' ')
[[ "$sing" == 唱歌进程的pid:\ \ *\ xiaoming\ 唱歌...\ xiaoming\ 唱歌...\ xiaoming\ 唱歌...\  ]] ||
    fail "singer's lines out of order: $sing"
