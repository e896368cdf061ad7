# pool_apply_square: apply returns 10 * 10.
# ctest-timeout: 30
. "$(dirname "$0")/lib.sh"
run pool_apply_square
expect_out "Pool     : 100"
