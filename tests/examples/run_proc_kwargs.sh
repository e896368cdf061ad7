# run_proc_kwargs: args and kwargs reach the child; terminate after 1 s
# cuts its ten 0.2 s rounds short (at 1.5 speed, on a loaded machine too:
# the child has 1.2 s to print two rounds, the terminate 1.2 s before the
# tenth).
# ctest-timeout: 30
. "$(dirname "$0")/lib.sh"
export MP_EXAMPLE_TIME_SCALE=1.5
run run_proc_kwargs
expect_only '^子进程运行中，name= test,age=18 ,pid=[0-9]+\.\.\.$' "^\{'m': 20\}$"
n=$(count '^子进程运行中')
[ "$n" -ge 2 ] && [ "$n" -le 9 ] || fail "expected about 5 rounds, got $n"
# terminate may land between a round's two lines
expect_count_between "^\{'m': 20\}$" $((n - 1)) "$n"
[ "$(distinct 'pid=[0-9]+')" -eq 1 ] || fail "expected one child pid"
