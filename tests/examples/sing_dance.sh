# sing_dance: the parent's pid first, then a singer and a dancer with
# pids of their own, five rounds each, sung and danced at the same time.
# ctest-timeout: 30
. "$(dirname "$0")/lib.sh"
export MP_EXAMPLE_TIME_SCALE=0.25 # the dancer has a second to start before the last song
run sing_dance
expect_only '^父进程pid: [0-9]+$' '^唱歌进程pid: [0-9]+$' '^跳舞进程pid: [0-9]+$' \
    '^正在唱歌呢 [0-4]$' '^正在跳舞呢 [0-4]$'
[[ "$(line 1)" =~ ^父进程pid:\ [0-9]+$ ]] || fail "line 1 is not the parent's pid"
expect_count 'pid: ' 3
[ "$(distinct 'pid: [0-9]+')" -eq 3 ] || fail "expected three different pids"
[ "$(grep -E '^正在唱歌呢' <<<"$OUT" | tr '\n' ,)" == "正在唱歌呢 0,正在唱歌呢 1,正在唱歌呢 2,正在唱歌呢 3,正在唱歌呢 4," ] ||
    fail "the singer's rounds are not 0..4 in order"
[ "$(grep -E '^正在跳舞呢' <<<"$OUT" | tr '\n' ,)" == "正在跳舞呢 0,正在跳舞呢 1,正在跳舞呢 2,正在跳舞呢 3,正在跳舞呢 4," ] ||
    fail "the dancer's rounds are not 0..4 in order"
expect_before '^正在跳舞呢 0$' '^正在唱歌呢 4$'
expect_before '^正在唱歌呢 0$' '^正在跳舞呢 4$'
