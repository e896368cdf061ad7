# queue_write_read: ten puts, ten gets in the same order; the reader ends
# once the writer closed the queue, so both joins return.
# ctest-timeout: 30
. "$(dirname "$0")/lib.sh"
run queue_write_read
expect_count '^Process to write: [0-9]+$' 1
expect_count '^Process to read: [0-9]+$' 1
[ "$(distinct '^Process to (write|read): [0-9]+')" -eq 2 ] || fail "expected two processes"
[ "$(grep '^Put' <<<"$OUT")" == "$(seq 0 9 | sed 's/.*/Put & to queue.../')" ] || fail "puts"
[ "$(grep '^Get' <<<"$OUT")" == "$(seq 0 9 | sed 's/.*/Get & from queue./')" ] || fail "gets"
expect_count '' 22
