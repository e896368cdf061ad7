#!/usr/bin/env bash
# Builds libmp and runs its main demo: the sing/dance example.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
MP_DEMO_ONLY=1 mp_install_deps
cmake -S . -B build-demo -DMP_BUILD_TESTS=OFF -DMP_BUILD_BENCH=OFF >/dev/null
cmake --build build-demo -j"$(nproc)" --target sing_dance >/dev/null
exec ./build-demo/examples/sing_dance
