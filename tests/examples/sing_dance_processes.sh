# sing_dance_processes: three of each, from two processes at once (at
# full speed the dancer has a second to start before the last song).
# ctest-timeout: 30
. "$(dirname "$0")/lib.sh"
export MP_EXAMPLE_TIME_SCALE=1
run sing_dance_processes
expect_only '^唱歌\.\.\.$' '^跳舞\.\.\.$'
expect_count '^唱歌' 3
expect_count '^跳舞' 3
last_sing=$(grep -n '唱歌' <<<"$OUT" | tail -1 | cut -d: -f1)
first_dance=$(grep -n '跳舞' <<<"$OUT" | head -1 | cut -d: -f1)
[ "$first_dance" -lt "$last_sing" ] || fail "the dancing waited for the singing"
