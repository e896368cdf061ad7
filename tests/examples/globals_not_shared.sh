# globals_not_shared: demo2 prints 1 whatever demo1 did to its copy.
# ctest-timeout: 30
. "$(dirname "$0")/lib.sh"
run globals_not_shared
expect_out "1"
