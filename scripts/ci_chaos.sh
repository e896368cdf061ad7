#!/usr/bin/env bash
# Chaos short mode: the mixed workload of tests/stress/chaos.c with random
# SIGKILLs, in the normal build and under ASan+UBSan, each run inside
# mp_leakcheck (no stray process, descriptor or /dev/shm entry after it).
#   MP_CHAOS_KILLS=N   kills in the normal build (default 3000; ASan: N/4)
#   MP_CHAOS_SEED=S    seed (default: the time; printed, to reproduce)
# The long mode is the same program with --kills 10000 or more (see
# README.md, "Reliability").
set -euo pipefail
cd "$(dirname "$0")/.."
kills=${MP_CHAOS_KILLS:-3000}
seed=${MP_CHAOS_SEED:-$(date +%s)}
status=0
for variant in build build-asan; do
  san=
  n=$kills
  if [ "$variant" = build-asan ]; then san=address,undefined; n=$(( kills / 4 )); fi
  cmake -S . -B "$variant" -DMP_WERROR=ON ${san:+-DMP_SANITIZE=$san} >/dev/null
  cmake --build "$variant" -j"$(nproc)" --target chaos mp_leakcheck >/dev/null
  echo "chaos ($variant): $n kills, seed $seed"
  lc=("$variant/tests/stress/mp_leakcheck")
  [ -n "$san" ] && lc+=(--no-ptrace)
  if ! timeout 300 "${lc[@]}" -- "$variant/tests/stress/chaos" --kills "$n" --seed "$seed" \
       --time-limit 100 --quiet > "$variant/chaos.log" 2>&1; then
    echo "chaos ($variant) FAILED (seed $seed):" >&2
    cat "$variant/chaos.log" >&2
    status=1
  else
    grep -E '^(kills|chaos_seconds|ownerdead_recoveries|queue_messages_lost|queue_messages_may_lose|pool_worker_kills|pool_items_worker_died|failures):' "$variant/chaos.log" | tr '\n' ' '
    echo
  fi
done
exit $status
