# daemon_processes: the daemon children die with main before printing.
# ctest-timeout: 30
. "$(dirname "$0")/lib.sh"
run daemon_processes
expect_out "Main Process ended"
