# join_timeout: two 1 s joins give up; the daemons are killed at exit
# before their third round (at full speed: 1 s of slack). A child may
# print its second round just after main's last line, before the
# exit-time terminate reaches it, so the order is not checked. Had the
# first join not timed out, it would have waited for its daemon's third
# round, "LoopCount: 2", which expect_only refuses: the output shows the
# time-outs, the time only that each join waited its second (no upper
# bound: on a loaded machine the program's own start and end may take
# seconds).
# ctest-timeout: 30
. "$(dirname "$0")/lib.sh"
export MP_EXAMPLE_TIME_SCALE=1
start=$(date +%s.%N)
run join_timeout
elapsed=$(echo "$(date +%s.%N) - $start" | bc)
expect_only '^Pid: [0-9]+ LoopCount: [01]$' '^Main Process ended$'
expect_count '^Main Process ended$' 1
expect_count_between '^Pid: ' 0 4
(($(echo "$elapsed >= 2" | bc))) || fail "took ${elapsed}s: the joins did not wait 1 s each"
