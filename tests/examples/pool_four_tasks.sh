# pool_four_tasks: three tasks start at once, the fourth only after one
# ended; the whole takes two rounds of 3 s (at 0.35 speed: 2.1 s, and the
# third worker has a second to start before the first task ends). The
# order of the lines shows the pool's three workers, the time that the
# fourth task waited (no upper bound: on a loaded machine the program's
# own start and end may take seconds; CTest's limit ends a hang).
# ctest-timeout: 60
. "$(dirname "$0")/lib.sh"
export MP_EXAMPLE_TIME_SCALE=0.35
start=$(date +%s.%N)
run pool_four_tasks
elapsed=$(echo "$(date +%s.%N) - $start" | bc)
expect_sorted "Main Process started
Start process: 0
Start process: 1
Start process: 2
Start process: 3
End process 0
End process 1
End process 2
End process 3
Main Process ended"
[ "$(last_line)" == "Main Process ended" ] || fail "last line"
starts=$(grep -n '^Start process' <<<"$OUT" | cut -d: -f1 | tr '\n' ' ')
first_end=$(grep -n -m1 '^End process' <<<"$OUT" | cut -d: -f1)
fourth=$(echo $starts | cut -d' ' -f4)
third=$(echo $starts | cut -d' ' -f3)
[ "$third" -lt "$first_end" ] && [ "$fourth" -gt "$first_end" ] ||
    fail "expected three starts, an end, then the fourth start"
(($(echo "$elapsed >= 2.1" | bc))) || fail "took ${elapsed}s, expected 2.1 at least"
