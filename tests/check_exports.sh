#!/bin/sh
# Fails when libmp.so exports a defined symbol whose name is not mp_*, or
# an internal mp__* one (those must stay hidden).
lib=$1
bad=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | grep -v '^mp_[^_]' | grep -v '^_\(init\|fini\|edata\|end\|_bss_start\)$')
count=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/' | grep -c ' mp_')
if [ -n "$bad" ]; then
    echo "non-mp_ symbols exported by $lib:"; echo "$bad"; exit 1
fi
if [ "$count" -lt 5 ]; then
    echo "too few mp_ symbols exported ($count): is MP_EXTERN working?"; exit 1
fi
echo "ok: $count mp_ symbols, nothing else"
