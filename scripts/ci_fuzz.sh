#!/usr/bin/env bash
# Fuzz smoke run: builds every libFuzzer target (tests/fuzz/build.sh) and
# runs each for a share of MP_FUZZ_SECONDS (default 60 in all), starting
# from its committed seed corpus tests/fuzz/corpus/<target>/ (copied, so
# the committed one stays as it is). Fails when any target finds a crash,
# a leak, a hang (-timeout) or a model mismatch; the input is kept in
# $MP_FUZZ_DIR/artifacts/. Prints executions per target.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${MP_FUZZ_DIR:-build-fuzz}
total=${MP_FUZZ_SECONDS:-60}
mapfile -t targets < <(bash tests/fuzz/build.sh)
[ ${#targets[@]} -gt 0 ] || { echo "fuzz: no targets built" >&2; exit 1; }
each=$(( total / ${#targets[@]} ))
[ "$each" -ge 5 ] || each=5
mkdir -p "$out/artifacts"
status=0
for bin in "${targets[@]}"; do
  name=$(basename "$bin")
  work="$out/corpus/$name"
  mkdir -p "$work"
  [ -d "tests/fuzz/corpus/$name" ] && cp -n "tests/fuzz/corpus/$name"/* "$work"/ 2>/dev/null || true
  log="$out/$name.log"
  if "$bin" -max_total_time="$each" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
       -artifact_prefix="$out/artifacts/$name-" "$work" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    echo "fuzz: $name ok: $runs executions in ${each} s, $cov"
  else
    echo "fuzz: $name FAILED (log $log):" >&2
    grep -E "ERROR|check failed|SUMMARY|Test unit written" "$log" | head -20 >&2
    status=1
  fi
done
exit $status
