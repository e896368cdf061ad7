# parent_child_loop: five parent rounds, the child's endless loop ended by
# terminate (the program must exit, with the child gone). At 0.2 speed the
# child has a second to print before the terminate, and would need 2.4 s
# for 12 rounds.
# ctest-timeout: 30
. "$(dirname "$0")/lib.sh"
export MP_EXAMPLE_TIME_SCALE=0.2
run parent_child_loop
expect_only '^----1----$' '^----2----$'
expect_count '^----1----$' 5
expect_count_between '^----2----$' 1 12
