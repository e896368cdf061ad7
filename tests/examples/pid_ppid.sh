# pid_ppid: the child's getppid() is the pid the parent printed.
# ctest-timeout: 30
. "$(dirname "$0")/lib.sh"
run pid_ppid
parent=$(line 1 | sed -n 's/^父进程pid: \([0-9]*\)$/\1/p')
[ -n "$parent" ] || fail "first line is not the parent's pid"
child=$(line 2 | sed -n 's/^子进程运行中，pid=\([0-9]*\)\.\.\.$/\1/p')
[ -n "$child" ] && [ "$child" != "$parent" ] || fail "second line is not the child's pid"
expect_line 3 "ppid=$parent name=Process-1"
expect_line 4 "子进程将要结束..."
expect_count '' 4
