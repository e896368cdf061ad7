# daemon_work: the daemon child is destroyed when main ends after about
# five of its ten rounds. At most two of its lines follow main's: the
# child may print in the moments between main's print and its end (at
# 2.5 speed a round is 0.5 s: two rounds give the exit a second). (A
# surviving child would keep the output pipe open: run would wait for its
# ten rounds, five of them printed after main's line.)
# ctest-timeout: 30
. "$(dirname "$0")/lib.sh"
export MP_EXAMPLE_TIME_SCALE=2.5
run daemon_work
expect_only '^工作中\.\.\.$' '^主进程执行完成了啦$'
after=$(sed -n '/^主进程执行完成了啦$/,$p' <<<"$OUT" | wc -l)
[ "$after" -le 3 ] || fail "the daemon went on printing after main ended"
expect_count_between '^工作中' 1 8
