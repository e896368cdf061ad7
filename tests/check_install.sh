#!/bin/sh
# Installs libmp from the build tree into a temporary prefix (or takes a
# prefix where it was unpacked from a package), then builds the
# quick-start program against it three ways: find_package(mp) with the
# shared and the static library, and pkg-config. Each must run and print
# the expected result.
#   check_install.sh BUILD SRC [PREFIX]
set -eu
build=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ $# -ge 3 ]; then
    prefix=$3
else
    prefix=$tmp/prefix
    cmake --install "$build" --prefix "$prefix" >/dev/null
fi
libdir=$(dirname "$(find "$prefix" -name 'libmp.so' | head -1)")
cmake -S "$src/tests/install" -B "$tmp/b" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$tmp/b" >/dev/null
want="map: success, out[99] = 9801"
LD_LIBRARY_PATH="$libdir" "$tmp/b/consumer" | grep -qxF "$want"
"$tmp/b/consumer_static" | grep -qxF "$want"
if command -v pkg-config >/dev/null 2>&1; then
    export PKG_CONFIG_PATH="$libdir/pkgconfig"
    cc -o "$tmp/pc" "$src/tests/install/consumer.c" $(pkg-config --cflags --libs mp)
    LD_LIBRARY_PATH="$libdir" "$tmp/pc" | grep -qxF "$want"
    echo "ok: find_package (shared, static) and pkg-config"
else
    echo "ok: find_package (shared, static); pkg-config not installed"
fi
