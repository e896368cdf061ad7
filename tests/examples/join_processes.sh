# join_processes: all nine loop lines come between start and end.
# ctest-timeout: 30
. "$(dirname "$0")/lib.sh"
run join_processes
expect_line 1 "Main Process start"
[ "$(last_line)" == "Main Process ended" ] || fail "last line is not 'Main Process ended'"
expect_count '^Pid: [0-9]+ LoopCount: [0-3]$' 9
expect_count '' 11
