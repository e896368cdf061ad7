#!/bin/sh
# Configures and builds libmp as a user without cmocka would: this build's
# cmocka is hidden from CMake's find_path/find_library through
# CMAKE_IGNORE_PATH (the folders where it was found are ignored; nothing
# is uninstalled). A plain configure must succeed with one line saying the
# tests were skipped and why, the library and mpcopy must build, and
# -DMP_BUILD_TESTS=ON must stop the configure with a clear error.
#   check_no_cmocka.sh SRC CMOCKA_INCLUDE_FOLDER CMOCKA_LIBRARY_FOLDER
set -eu
src=$1 incdir=$2 libdir=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
hide="-DCMAKE_IGNORE_PATH=$incdir;$libdir"

if ! cmake -S "$src" -B "$tmp/plain" "$hide" >"$tmp/plain.log" 2>&1; then
    cat "$tmp/plain.log"
    echo "FAIL: a plain configure without cmocka failed"
    exit 1
fi
n=$(grep -c "tests skipped" "$tmp/plain.log" || true)
if [ "$n" != 1 ] || ! grep -q "libmp: tests skipped: cmocka's header (cmocka.h) was not found" \
    "$tmp/plain.log"; then
    cat "$tmp/plain.log"
    echo "FAIL: want exactly one line saying tests were skipped because cmocka is missing"
    exit 1
fi
if [ -e "$tmp/plain/tests/CTestTestfile.cmake" ]; then
    echo "FAIL: tests were configured without cmocka"
    exit 1
fi
if ! cmake --build "$tmp/plain" -j2 --target mp_shared mp_static mpcopy >"$tmp/build.log" 2>&1; then
    tail -40 "$tmp/build.log"
    echo "FAIL: the library did not build without cmocka"
    exit 1
fi

if cmake -S "$src" -B "$tmp/forced" "$hide" -DMP_BUILD_TESTS=ON >"$tmp/forced.log" 2>&1; then
    echo "FAIL: -DMP_BUILD_TESTS=ON without cmocka configured"
    exit 1
fi
if ! grep -q "MP_BUILD_TESTS=ON, but cmocka's header (cmocka.h) was not found" "$tmp/forced.log"; then
    cat "$tmp/forced.log"
    echo "FAIL: -DMP_BUILD_TESTS=ON without cmocka did not say why it stopped"
    exit 1
fi
echo "ok: without cmocka the library builds, tests are skipped with a reason, and forcing them fails"
