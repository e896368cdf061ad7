#!/usr/bin/env bash
# Valgrind memcheck over unit tests of the normal build, forked children
# traced (--trace-children=yes), one log per process. Fails when
#  - any process (test or forked child) makes a memcheck error (invalid
#    read/write, use of uninitialised memory, bad syscall argument...), or
#  - the test process ends with memory definitely lost, or
#  - the test itself fails under valgrind.
# Leaks are not counted in forked children: a child that _exits still
# holds copies of its parent's blocks, which is no leak. Programs the tests
# exec from the system (python3 for the CPython interop checks) are not
# traced.
#   MP_VALGRIND_TESTS="a b"  the test programs (default below)
# MP_HEAP_SIZE=1G keeps the shared heap's address space small (faster).
# Left out by default, and why (name them to run them anyway):
#  - timing bounds of a few seconds (MPT_SLACK in tests/mp_test.h) that
#    valgrind's 20-50x slowdown breaks: test_sync_semaphore (event wake),
#    test_sync_condition, test_sync_barrier, test_internal,
#    test_queue_procs; test_heap (valgrind cannot see inside the shared
#    heap, which is not malloc memory);
#  - test_process: valgrind 3.19 does not implement pidfd_open, and the
#    test expects a pidfd sentinel;
#  - test_pool: one test forks 80 workers (80 valgrind instances on 2
#    cores), test_queue_stress: minutes of forking.
# Their code runs under valgrind through chaos (processes, locks,
# conditions, queues, a pool, the heap) with --slow 10.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${MP_BUILD_DIR:-build}
command -v valgrind >/dev/null || {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
  else
    echo "valgrind: not installed" >&2; exit 1
  fi
}
cmake -S . -B "$build" -DMP_WERROR=ON >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
tests=${MP_VALGRIND_TESTS:-"test_error test_sync_lock test_shared test_queue test_queue_store test_pipe test_hash threads chaos"}
errors='== (Invalid (read|write|free)|Conditional jump|Use of uninitialised|Syscall param|Mismatched free|Source and destination overlap|Argument .* of function)'
status=0
for t in $tests; do
  bin="$build/tests/$t"
  [ -x "$bin" ] || bin="$build/tests/stress/$t"
  [ -x "$bin" ] || { echo "valgrind: $t not built, skipped"; continue; }
  args=()
  case "$t" in
    threads) args=(2000) ;;
    chaos) args=(--kills 30 --slow 10 --time-limit 400 --quiet) ;;
  esac
  logs="$(pwd -P)/$build/valgrind/$t"
  rm -rf "$logs"; mkdir -p "$logs"
  start=$(date +%s)
  set +e
  MP_HEAP_SIZE=1G timeout 600 valgrind -q --trace-children=yes --error-exitcode=99 \
    --trace-children-skip='/usr/*,/bin/*,*python*,*pyenv*' \
    --leak-check=full --errors-for-leak-kinds=none --show-leak-kinds=definite \
    --log-file="$logs/%p.log" "$bin" "${args[@]}" >"$logs/output.txt" 2>&1 &
  pid=$!
  wait $pid
  rc=$?
  set -e
  # timeout(1) is the process we started; the test is its child.
  main=$(ls -1 "$logs" | grep -E '^[0-9]+\.log$' | sort -n | head -1)
  bad=$(grep -lE "$errors" "$logs"/*.log 2>/dev/null || true)
  leak=$(grep -l "definitely lost in" "$logs/$main" 2>/dev/null || true)
  took=$(( $(date +%s) - start ))
  if [ -n "$bad" ] || [ -n "$leak" ] || [ "$rc" != 0 ]; then
    echo "valgrind: $t FAILED (exit $rc, $took s; logs in $logs):" >&2
    for f in $bad $leak; do grep -E "==[0-9]+== " "$f" | grep -v "unhandled amd64-linux syscall\|You may be able\|README_MISSING\|Nevertheless we\|bug_reports" | head -30 >&2; done
    if [ "$rc" != 0 ]; then
      grep -m 20 "FAIL" "$logs/output.txt" >&2 || true # what failed, before the summary
      tail -20 "$logs/output.txt" >&2
    fi
    status=1
  else
    echo "valgrind: $t clean ($(ls "$logs" | grep -c '\.log$') processes, $took s)"
  fi
done
exit $status
