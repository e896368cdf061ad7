# daemon_work: the daemon child is destroyed when main ends after about
# five of its ten rounds. Main's line is the last, or all but one: the
# child may print in the moment between main's print and its end. (A
# surviving child would keep the output pipe open: run would wait for its
# ten rounds, all printed after main's line.)
# ctest-timeout: 30
. "$(dirname "$0")/lib.sh"
export MP_EXAMPLE_TIME_SCALE=0.2
run daemon_work
expect_only '^工作中\.\.\.$' '^主进程执行完成了啦$'
after=$(sed -n '/^主进程执行完成了啦$/,$p' <<<"$OUT" | wc -l)
[ "$after" -le 2 ] || fail "the daemon went on printing after main ended"
expect_count_between '^工作中' 1 8
