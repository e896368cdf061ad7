#!/usr/bin/env bash
# The cluster examples, run under mpirun -np 3 (run.sh) and without it,
# and their output checked. Exits 77 (skip) where mpirun cannot run.
#   examples.sh <build>/examples
set -euo pipefail
ex=${1:?usage: $0 <build>/examples}
here=$(cd "$(dirname "$0")" && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }
squares="Pool     : [$(seq 0 99 | awk '{ print $1 * $1 }' | paste -sd, - | sed 's/,/, /g')]"

# mpirun first: a skip there skips the whole test.
rc=0
out=$(sh "$here/run.sh" 3 "$ex/cluster_map_square") || rc=$?
[ "$rc" -ne 77 ] || { echo "$out"; exit 77; }
[ "$rc" -eq 0 ] || fail "cluster_map_square under mpirun exited with $rc: $out"
grep -qxF "$squares" <<<"$out" || fail "wrong squares under mpirun: $out"
grep -qx "ranks    : 3" <<<"$out" || fail "not three ranks: $out"
# Rank 0 has no worker: nodes 1 and 2 computed all hundred.
[ "$(grep -E '^rank [12] computed' <<<"$out" | awk '{ s += $4 } END { print s }')" = 100 ] ||
    fail "ranks 1 and 2 did not compute all the squares: $out"

out=$(timeout 60 "$ex/cluster_map_square") || fail "cluster_map_square alone failed"
grep -qxF "$squares" <<<"$out" || fail "wrong squares without mpirun: $out"
grep -qx "ranks    : 1" <<<"$out" || fail "not a local pool: $out"
grep -qx "rank 0 computed 100 squares" <<<"$out" || fail "not all local: $out"

out=$(sh "$here/run.sh" 3 "$ex/cluster_prime_count" 1000000) || fail "prime count: $out"
grep -qx "primes below 1000000: 78498" <<<"$out" || fail "wrong prime count: $out"
[ "$(grep -E '^rank [12] counted' <<<"$out" | awk '{ s += $4 } END { print s }')" = 64 ] ||
    fail "ranks 1 and 2 did not count all 64 pieces: $out"
out=$(timeout 60 "$ex/cluster_prime_count" 100000) || fail "prime count alone failed"
grep -qx "primes below 100000: 9592" <<<"$out" || fail "wrong local prime count: $out"
echo "ok: cluster examples under mpirun -np 3 and alone"
