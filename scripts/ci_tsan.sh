#!/usr/bin/env bash
# ThreadSanitizer pass over the tests that run threads in one process:
# tests/stress/threads (every object guarding plain data, from 4 threads),
# the heap, process, queue, lock, condition and pool unit tests. The other
# tests only fork, and TSan cannot see across processes. No annotations
# are needed: libmp's futex locks are C11 atomics, which TSan follows.
#   MP_TSAN_ITER=N   iterations per thread for tests/stress/threads (20000)
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-tsan
cmake -S . -B "$build" -DMP_WERROR=ON -DMP_SANITIZE=thread >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
# halt_on_error: a race in a forked child kills it, so its parent test
# fails too (a child's _exit would skip TSan's exit-code report).
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
echo "tsan: tests/stress/threads ${MP_TSAN_ITER:-20000}"
"$build/tests/stress/threads" "${MP_TSAN_ITER:-20000}"
ctest --test-dir "$build" --output-on-failure \
  -R '^(test_heap|test_process|test_queue|test_sync_lock|test_sync_condition|test_pool|stress_threads)$'
