# func_a_b: task A, then task B.
# ctest-timeout: 30
. "$(dirname "$0")/lib.sh"
run func_a_b
expect_out "任务A
任务B"
