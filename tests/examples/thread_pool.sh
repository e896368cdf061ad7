# thread_pool: every url 0..99 is printed once, and ten threads at a time
# make 100 three-second calls take 30 s, not 300 (scaled by 0.05: 1.5 s,
# not 15).
# ctest-timeout: 60
. "$(dirname "$0")/lib.sh"
start=$(date +%s.%N)
run thread_pool
elapsed=$(echo "$(date +%s.%N) - $start" | bc)
expect_sorted "$(seq 0 99)"
(($(echo "$elapsed >= 1.4 && $elapsed < 8" | bc))) || fail "took ${elapsed}s, expected about 1.5"
