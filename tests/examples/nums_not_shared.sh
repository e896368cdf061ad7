# nums_not_shared: process1's appends are not seen by process2.
# ctest-timeout: 30
. "$(dirname "$0")/lib.sh"
run nums_not_shared
p1=$(line 1 | sed -n 's/^in process1 pid=\([0-9]*\) ,.*/\1/p')
p2=$(line 5 | sed -n 's/^in process2 pid=\([0-9]*\) ,.*/\1/p')
[ -n "$p1" ] && [ -n "$p2" ] && [ "$p1" != "$p2" ] || fail "expected two different pids"
expect_out "in process1 pid=$p1 ,nums=[11, 22]
in process1 pid=$p1 ,nums=[11, 22, 0]
in process1 pid=$p1 ,nums=[11, 22, 0, 1]
in process1 pid=$p1 ,nums=[11, 22, 0, 1, 2]
in process2 pid=$p2 ,nums=[11, 22]"
