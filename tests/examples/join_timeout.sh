# join_timeout: two 1 s joins give up; the daemons are killed at exit
# before their third round (at full speed: 1 s of slack). A child may
# print its second round just after main's last line, before the
# exit-time terminate reaches it, so the order is not checked.
# ctest-timeout: 30
. "$(dirname "$0")/lib.sh"
export MP_EXAMPLE_TIME_SCALE=1
start=$(date +%s.%N)
run join_timeout
elapsed=$(echo "$(date +%s.%N) - $start" | bc)
expect_only '^Pid: [0-9]+ LoopCount: [01]$' '^Main Process ended$'
expect_count '^Main Process ended$' 1
expect_count_between '^Pid: ' 0 4
# each join waits its second; without the timeouts the program would
# take the second daemon's 4 s (so 1.5 s of slack, not all of SLACK)
(($(echo "$elapsed >= 2 && $elapsed < 3.5" | bc))) ||
    fail "took ${elapsed}s: the joins did not wait 1 s each, or did not time out"
