# main_waits_children: all ten rounds print, though main finished after
# about five: the program waited for its child (at full speed its last
# round comes a second after main's line).
# ctest-timeout: 30
. "$(dirname "$0")/lib.sh"
export MP_EXAMPLE_TIME_SCALE=1
run main_waits_children
expect_only '^工作中\.\.\.$' '^主进程执行完成了啦$'
expect_count '^工作中' 10
expect_count '^主进程执行完成了啦$' 1
[ "$(last_line)" == "工作中..." ] || fail "the child did not outlive main's print"
