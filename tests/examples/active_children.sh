# active_children: the CPU count is the affinity count (nproc), four or
# five children are listed with distinct pids before "Process Ended", and
# every child but process 0 prints after. Child i sleeps i seconds first
# (at full speed: 1 s between the starts and the listing of child 1).
# ctest-timeout: 30
. "$(dirname "$0")/lib.sh"
export MP_EXAMPLE_TIME_SCALE=1
run active_children
expect_count "^CPU number: $(nproc)\$" 1
OUT_ALL=$OUT
OUT=$(grep -v '^Process: 0$' <<<"$OUT") # process 0 does not sleep: it may come first
expect_line 1 "CPU number: $(nproc)"
OUT=$OUT_ALL
expect_only '^CPU number: [0-9]+$' '^Child process name: Process-[1-5] id: [0-9]+$' \
    '^Process Ended$' '^Process: [0-4]$'
expect_count_between '^Child process name: Process-[2-5] ' 4 4
expect_count_between '^Child process name: ' 4 5
[ "$(distinct 'id: [0-9]+')" -eq "$(count '^Child process name: ')" ] || fail "pids repeat"
expect_count '^Process: [0-4]$' 5
expect_before '^Process Ended$' '^Process: 4$'
