# semaphore_producer_consumer: 8 appends and 8 pops; the consumer never
# runs ahead of the producer, and the producer never more than two ahead
# (empty = Semaphore(2)).
# ctest-timeout: 30
. "$(dirname "$0")/lib.sh"
run semaphore_producer_consumer
[ "$(last_line)" == "Main Process Ended" ] || fail "last line"
expect_count '^Producer append an element$' 8
expect_count '^Consumer pop an element$' 8
expect_count '' 17
level=0
while read -r l; do
    case "$l" in
    Producer*) level=$((level + 1)) ;;
    Consumer*) level=$((level - 1)) ;;
    esac
    [ "$level" -ge 0 ] && [ "$level" -le 2 ] || fail "buffer level $level"
done <<<"$OUT"
