# current_process: the child named p1 reports its name, pid and liveness
# after the parent's start/stop (its 3 s sleep, at 0.35 speed, is the
# second between them).
# ctest-timeout: 30
. "$(dirname "$0")/lib.sh"
export MP_EXAMPLE_TIME_SCALE=0.35
run current_process
pid=$(line 5)
[[ "$pid" =~ ^[0-9]+$ ]] && [ "$pid" != "$$" ] || fail "line 5 is not a pid"
expect_out "start
stop
1
p1
$pid
True"
