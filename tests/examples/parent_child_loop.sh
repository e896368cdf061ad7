# parent_child_loop: five parent rounds, the child's endless loop ended by
# terminate (the program must exit, with the child gone).
# ctest-timeout: 30
. "$(dirname "$0")/lib.sh"
run parent_child_loop
expect_only '^----1----$' '^----2----$'
expect_count '^----1----$' 5
expect_count_between '^----2----$' 1 12
