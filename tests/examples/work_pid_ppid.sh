# work_pid_ppid: the child's parent pid is the main process's pid.
# ctest-timeout: 30
. "$(dirname "$0")/lib.sh"
run work_pid_ppid
main=$(line 1 | sed -n 's/^主进程编号: \([0-9]*\)$/\1/p')
work=$(line 2 | sed -n 's/^work进程编号: \([0-9]*\)$/\1/p')
[ -n "$main" ] && [ -n "$work" ] && [ "$main" != "$work" ] || fail "expected two pids"
expect_out "主进程编号: $main
work进程编号: $work
work父进程的编号: $main"
