# lock_print: with the lock every line is whole; without it the same 60
# prints happen (lines may run together, as in the tutorial).
# ctest-timeout: 30
. "$(dirname "$0")/lib.sh"
run lock_print
expect_only '^Pid: [0-9]+ LoopCount: [0-9]+$'
expect_count '' 60
[ "$(distinct 'Pid: [0-9]+')" -eq 5 ] || fail "expected five pids"
for c in 0 9 10 11 12 13; do
    expect_count " LoopCount: $c\$" $((c < 10 ? 5 : 14 - c))
done
run lock_print --no-lock
[ "$(grep -o -E 'Pid: [0-9]+ LoopCount: [0-9]+' <<<"$OUT" | wc -l)" -eq 60 ] ||
    fail "expected 60 prints without the lock"
