#!/usr/bin/env bash
# Builds libmp with warnings as errors and runs every test (CTest), or
# those the arguments choose: scripts/test.sh -R cluster (ctest's options).
#   MP_BUILD_DIR=dir   build folder (default: build)
#   MP_SANITIZE=list   address,undefined or thread
#   MP_NO_MPI=1        neither install MPI nor build the cluster pool
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
mp_install_deps
build=${MP_BUILD_DIR:-build}
cmake -S . -B "$build" -DMP_WERROR=ON -DMP_BUILD_TESTS=ON ${MP_SANITIZE:+-DMP_SANITIZE=$MP_SANITIZE} \
    -DMP_BUILD_MPI="$([ -n "${MP_NO_MPI:-}" ] && echo OFF || echo ON)" >/dev/null
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure ${MP_CTEST_ARGS:-} "$@"
