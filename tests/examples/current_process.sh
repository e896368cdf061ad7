# current_process: the child named p1 reports its name, pid and liveness
# after the parent's start/stop.
# ctest-timeout: 30
. "$(dirname "$0")/lib.sh"
run current_process
pid=$(line 5)
[[ "$pid" =~ ^[0-9]+$ ]] && [ "$pid" != "$$" ] || fail "line 5 is not a pid"
expect_out "start
stop
1
p1
$pid
True"
