# queue_api: each Queue call's result, Queue.Empty/Full as MP_EEMPTY/
# MP_EFULL after the (scaled) timeout or at once.
# ctest-timeout: 30
. "$(dirname "$0")/lib.sh"
run queue_api
expect_out "qsize()=1 empty()=False full()=False
get() -> 123
qsize()=0 empty()=True
get(True, 1) -> MP_EEMPTY
get_nowait() -> MP_EEMPTY
Queue(2) after two puts: qsize()=2 full()=True
put('c', True, 1) -> MP_EFULL
put_nowait('c') -> MP_EFULL"
