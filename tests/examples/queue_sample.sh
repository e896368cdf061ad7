# queue_sample: the tutorial's exact output; the put with a 2 s timeout
# (0.5 s at this speed) really waits.
# ctest-timeout: 30
. "$(dirname "$0")/lib.sh"
export MP_EXAMPLE_TIME_SCALE=0.25
start=$(date +%s.%N)
run queue_sample
elapsed=$(echo "$(date +%s.%N) - $start" | bc)
expect_out "False
True
消息列队已满,现有消息数量:3
消息列队已满,现有消息数量:3
消息1
消息2
消息3"
(($(echo "$elapsed >= 0.48 && $elapsed < 3" | bc))) || fail "took ${elapsed}s, expected 0.5"
