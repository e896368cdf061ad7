# five_processes: each of the five children prints its own index once.
# ctest-timeout: 30
. "$(dirname "$0")/lib.sh"
run five_processes
expect_sorted "Process: 0
Process: 1
Process: 2
Process: 3
Process: 4"
