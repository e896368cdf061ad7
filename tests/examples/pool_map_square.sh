# pool_map_square: the hundred squares, in input order.
# ctest-timeout: 30
. "$(dirname "$0")/lib.sh"
run pool_map_square
expect_out "Pool     : [$(seq 0 99 | awk '{ print $1 * $1 }' | paste -sd, - | sed 's/,/, /g')]"
