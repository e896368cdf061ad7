# pool_apply_async: all ten tasks start and finish, on at most three
# worker pids, between --start-- ... --end-- (--end-- after every task).
# ctest-timeout: 60
. "$(dirname "$0")/lib.sh"
run pool_apply_async
expect_only '^--start--$' '^--end--$' '^[0-9]开始执行,进程号为[0-9]+$' '^[0-9] 执行完成,耗时[0-9]+\.[0-9]{2}$'
expect_count '^--start--$' 1
[ "$(last_line)" == "--end--" ] || fail "--end-- is not last"
[ "$(grep -o -E '^[0-9]开始' <<<"$OUT" | sort)" == "$(seq 0 9 | sed 's/$/开始/')" ] || fail "starts"
[ "$(grep -o -E '^[0-9] 执行完成' <<<"$OUT" | sort)" == "$(seq 0 9 | sed 's/$/ 执行完成/')" ] || fail "ends"
pids=$(distinct '进程号为[0-9]+')
[ "$pids" -ge 1 ] && [ "$pids" -le 3 ] || fail "$pids worker pids, expected at most 3"
for i in $(seq 0 9); do expect_before "^${i}开始" "^$i 执行完成"; done
