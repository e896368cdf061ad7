# queue_producer_consumer: the consumer gets exactly the numbers put, in
# order, never more than two behind.
# ctest-timeout: 30
. "$(dirname "$0")/lib.sh"
run queue_producer_consumer
[ "$(last_line)" == "Main Process Ended" ] || fail "last line"
expect_only '^Producer put 0\.[0-9]+(e-[0-9]+)?$' '^Consumer get 0\.[0-9]+(e-[0-9]+)?$' \
    '^Main Process Ended$'
put=$(sed -n 's/^Producer put //p' <<<"$OUT")
got=$(sed -n 's/^Consumer get //p' <<<"$OUT")
[ "$(wc -l <<<"$put")" -eq 8 ] || fail "expected 8 numbers"
[ "$put" == "$got" ] || fail "got other numbers than were put"
[ "$(sort -u <<<"$put" | wc -l)" -gt 1 ] || fail "the numbers are not random"
