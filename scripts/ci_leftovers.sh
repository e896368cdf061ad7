#!/usr/bin/env bash
# Whole-run leak check for .ci/run, on top of the per-test mp_leakcheck:
#   ci_leftovers.sh snapshot FILE   records libmp's /dev/shm entries now
#   ci_leftovers.sh check FILE      fails if libmp /dev/shm entries appeared
#                                   since, or if any process still runs a
#                                   program built in this tree (a stray
#                                   test child, fuzzer or chaos participant)
# Only libmp's names (mp_shm_create's generated "psm_" names, and the
# "mp"-prefixed ones the tests use; the heap is a memfd and never shows
# there) and this tree's programs count: the machine may be shared.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd -P)
shm_list() { ls -1 /dev/shm 2>/dev/null | grep -E '^(psm_|mp)' | sort || true; }
case "${1:-}" in
  snapshot) shm_list > "$2" ;;
  check)
    status=0
    new=$(comm -13 "$2" <(shm_list))
    if [ -n "$new" ]; then
      echo "leftovers: /dev/shm entries left by the run:" >&2; echo "$new" >&2; status=1
    fi
    for p in /proc/[0-9]*; do
      exe=$(readlink "$p/exe" 2>/dev/null) || continue
      case "$exe" in
        "$root"/build*/*)
          echo "leftovers: process ${p#/proc/} still running $exe" >&2; status=1 ;;
      esac
    done
    exit $status ;;
  *) echo "usage: ci_leftovers.sh snapshot|check FILE" >&2; exit 2 ;;
esac
