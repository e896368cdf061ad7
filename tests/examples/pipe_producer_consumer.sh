# pipe_producer_consumer: each side receives the other's words.
# ctest-timeout: 30
. "$(dirname "$0")/lib.sh"
run pipe_producer_consumer
expect_out "Producer Received: Consumer Words
Consumer Received: Producer Words
Main Process Ended"
