# my_process: three processes loop 2, 3 and 4 times, each with its own pid.
# ctest-timeout: 30
. "$(dirname "$0")/lib.sh"
run my_process
expect_only '^Pid: [0-9]+ LoopCount: [0-3]$'
expect_count 'LoopCount: 0$' 3
expect_count 'LoopCount: 1$' 3
expect_count 'LoopCount: 2$' 2
expect_count 'LoopCount: 3$' 1
[ "$(distinct 'Pid: [0-9]+')" -eq 3 ] || fail "expected three pids"
# the process that reached LoopCount 3 printed all four of its counts
pid=$(grep -o -E 'Pid: [0-9]+ LoopCount: 3' <<<"$OUT" | cut -d' ' -f2)
expect_count "^Pid: $pid " 4
