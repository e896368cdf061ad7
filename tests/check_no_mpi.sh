#!/bin/sh
# Fails when the core library depends on MPI in any way: a needed MPI
# library, or an MPI symbol it expects from elsewhere. Only libmp_mpi may.
lib=$1
needed=$(readelf -d "$lib" | awk '/NEEDED/ {print $NF}' | grep -i 'mpi' || true)
undef=$(nm -D --undefined-only "$lib" | awk '{print $NF}' | grep -E '^(P?MPI|ompi|MPIX)_' || true)
if [ -n "$needed$undef" ]; then
    echo "$lib depends on MPI:"
    echo "$needed"
    echo "$undef"
    exit 1
fi
echo "ok: $lib needs $(readelf -d "$lib" | awk '/NEEDED/ {printf "%s ", $NF}')and no MPI symbol"
