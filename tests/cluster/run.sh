#!/bin/sh
# run.sh NP PROGRAM [ARGS...]: runs an MPI program under
# `mpirun -np NP --oversubscribe` for a CTest test, with whatever MPI
# options come in MP_MPIRUN_OPTS, and exits 77 (CTest's skip) where MPI
# cannot run at all here.
#
# Open MPI keeps its session files (and the shared-memory transport's
# backing files) in a folder of this run, removed at the end, so that a
# killed run leaves nothing in /tmp or /dev/shm. Running as root (a
# container) is allowed explicitly.
set -eu
np=$1
shift
command -v mpirun >/dev/null 2>&1 || { echo "skip: no mpirun"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export TMPDIR="$tmp"
export OMPI_MCA_orte_tmpdir_base="$tmp"
export OMPI_MCA_btl_vader_backing_directory="$tmp"
# Containers often forbid the cross-memory-attach (ptrace) copy.
export OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
# Sanitizer builds: what MPI keeps until exit is not a leak of ours
# (lsan.supp). MPI is built without frame pointers: only the slow
# unwinder finds its frames, and its components must stay loaded.
export OMPI_MCA_mca_base_component_disable_dlclose=1
export PMIX_MCA_mca_base_component_disable_dlclose=1
export LSAN_OPTIONS="suppressions=$(cd "$(dirname "$0")" && pwd)/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export ASAN_OPTIONS="fast_unwind_on_malloc=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
# Can mpirun start anything at all? (No network namespace, no slots...)
if ! timeout 60 mpirun -np 1 true >"$tmp/probe" 2>&1; then
    echo "skip: mpirun cannot start processes here:"
    cat "$tmp/probe"
    exit 77
fi
# mpirun's status is not enough: with --enable-recovery it is 0 whatever
# the ranks return. With MP_TEST_WANT_STATUS=1, rank 0 must write "ok" to
# MP_TEST_STATUS_FILE (test_cluster does).
export MP_TEST_STATUS_FILE="$tmp/status"
rc=0
# shellcheck disable=SC2086 # MP_MPIRUN_OPTS is a list of options
timeout --kill-after=10 150 mpirun --oversubscribe -np "$np" ${MP_MPIRUN_OPTS:-} "$@" || rc=$?
[ "$rc" -eq 0 ] || exit "$rc"
if [ -n "${MP_TEST_WANT_STATUS:-}" ]; then
    status=$(cat "$tmp/status" 2>/dev/null || echo "no status written")
    [ "$status" = "ok" ] || { echo "rank 0: $status"; exit 1; }
fi
