# join_timeout: two 1 s joins give up; the daemons are killed at exit
# before their third round (run at 0.3 speed: 0.3 s of slack). A child
# may print its second round just after main's last line, before the
# exit-time terminate reaches it, so the order is not checked.
# ctest-timeout: 30
. "$(dirname "$0")/lib.sh"
export MP_EXAMPLE_TIME_SCALE=0.3
start=$(date +%s.%N)
run join_timeout
elapsed=$(echo "$(date +%s.%N) - $start" | bc)
expect_only '^Pid: [0-9]+ LoopCount: [01]$' '^Main Process ended$'
expect_count '^Main Process ended$' 1
expect_count_between '^Pid: ' 0 4
# without the timeouts the program would take 4 x 0.3 = 1.2 s
(($(echo "$elapsed < 1.1" | bc))) || fail "took ${elapsed}s: the joins did not time out"
