# daemon_processes: the daemon children die with main before printing
# (their first print comes after a 1 s sleep, at full speed).
# ctest-timeout: 30
. "$(dirname "$0")/lib.sh"
export MP_EXAMPLE_TIME_SCALE=1
run daemon_processes
expect_out "Main Process ended"
