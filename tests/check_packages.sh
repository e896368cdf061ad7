#!/bin/sh
# Builds the packages with cpack and checks them.
#   DEB: libmp holds the shared library, mpcopy and the manual pages;
#   libmp-dev everything else that `cmake --install` installs (headers,
#   libmp.a, the libmp.so link, CMake and pkg-config files); libmp-mpi (where
#   MPI was found) the cluster pool's files; together,
#   exactly what `cmake --install` installs. dpkg-deb -I: names, version,
#   architecture, libmp-dev depending on libmp of the same version, libmp
#   on libc. Both unpacked together, a program builds against them.
#   TGZ: unpacked in a folder it was never configured for, a program
#   builds against it (find_package and pkg-config) and mpcopy runs.
#   check_packages.sh BUILD SRC VERSION     exit 77 (skipped) without dpkg-deb
set -eu
build=$1 src=$2 version=$3
if ! command -v dpkg-deb >/dev/null 2>&1; then
    echo "skipped: dpkg-deb is not installed (not a Debian system)"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() {
    echo "FAIL: $*"
    fail=1
}

cpack --config "$build/CPackConfig.cmake" -G DEB -B "$tmp/deb" >"$tmp/cpack.log" 2>&1 || {
    cat "$tmp/cpack.log"
    exit 1
}
arch=$(dpkg --print-architecture)
run=$tmp/deb/libmp_${version}_$arch.deb
dev=$tmp/deb/libmp-dev_${version}_$arch.deb
[ -f "$run" ] && [ -f "$dev" ] || {
    ls "$tmp/deb"
    echo "FAIL: want libmp_${version}_$arch.deb and libmp-dev_${version}_$arch.deb"
    exit 1
}

# Contents: files and links (not folders), without the leading "./".
list() { dpkg-deb -c "$1" | grep -v '^d' | awk '{print $6}' | sed 's|^\./||' | sort; }
list "$run" >"$tmp/run.txt"
list "$dev" >"$tmp/dev.txt"
# libmp-mpi, the cluster pool, exists where the build found MPI.
mpi=$tmp/deb/libmp-mpi_${version}_$arch.deb
: >"$tmp/mpi.txt"
[ ! -f "$mpi" ] || list "$mpi" >"$tmp/mpi.txt"
cmake --install "$build" --prefix "$tmp/inst/usr" >/dev/null
(cd "$tmp/inst" && find . ! -type d | sed 's|^\./||' | sort) >"$tmp/all.txt"
sort "$tmp/run.txt" "$tmp/dev.txt" "$tmp/mpi.txt" >"$tmp/both.txt"
if ! cmp -s "$tmp/both.txt" "$tmp/all.txt"; then
    bad "the packages together differ from cmake --install (< packages, > install):"
    diff "$tmp/both.txt" "$tmp/all.txt" || true
fi
if [ -f "$mpi" ]; then
    mpi_re='^usr/(include/mp/cluster\.h|lib.*/libmp_mpi\.so.*|lib.*/cmake/mp/mpMpiTargets.*\.cmake|lib.*/pkgconfig/mp-mpi\.pc)$'
    grep -vE "$mpi_re" "$tmp/mpi.txt" | sed 's/^/  /' >"$tmp/x" || true
    [ ! -s "$tmp/x" ] || { bad "libmp-mpi holds files of the other packages:"; cat "$tmp/x"; }
    for f in usr/include/mp/cluster.h "usr/lib.*/libmp_mpi\.so\.$version" \
        "usr/lib.*/pkgconfig/mp-mpi\.pc" "usr/lib.*/cmake/mp/mpMpiTargets\.cmake"; do
        grep -qxE "$f" "$tmp/mpi.txt" || bad "libmp-mpi lacks $f"
    done
    dpkg-deb -f "$mpi" Depends | grep -qF "libmp-dev (= $version)" ||
        bad "libmp-mpi Depends: '$(dpkg-deb -f "$mpi" Depends)', want libmp-dev (= $version)"
fi
runtime_re='^usr/(bin/mpcopy|lib.*/libmp\.so\.[0-9.]+|share/man/man[0-9]/.*)$'
grep -vE "$runtime_re" "$tmp/run.txt" | sed 's/^/  /' >"$tmp/x" || true
[ ! -s "$tmp/x" ] || { bad "libmp holds development files:"; cat "$tmp/x"; }
grep -E "$runtime_re" "$tmp/dev.txt" | sed 's/^/  /' >"$tmp/x" || true
[ ! -s "$tmp/x" ] || { bad "libmp-dev holds runtime files:"; cat "$tmp/x"; }
for f in usr/bin/mpcopy "usr/lib.*/libmp\.so\.[0-9]+" "usr/lib.*/libmp\.so\.$version" \
    usr/share/man/man1/mpcopy.1 usr/share/man/man7/libmp.7; do
    grep -qxE "$f" "$tmp/run.txt" || bad "libmp lacks $f"
done
for f in usr/include/mp.h usr/include/mp/log.h "usr/lib.*/libmp\.a" "usr/lib.*/libmp\.so" \
    "usr/lib.*/cmake/mp/mpConfig\.cmake" "usr/lib.*/cmake/mp/mpTargets\.cmake" \
    "usr/lib.*/pkgconfig/mp\.pc"; do
    grep -qxE "$f" "$tmp/dev.txt" || bad "libmp-dev lacks $f"
done
for h in "$src"/include/mp/*.h; do
    [ "$(basename "$h")" != cluster.h ] || continue # libmp-mpi's
    grep -qx "usr/include/mp/$(basename "$h")" "$tmp/dev.txt" || bad "libmp-dev lacks mp/$(basename "$h")"
done

# Metadata.
field() { dpkg-deb -f "$1" "$2"; }
[ "$(field "$run" Package)" = libmp ] || bad "libmp's Package is $(field "$run" Package)"
[ "$(field "$dev" Package)" = libmp-dev ] || bad "libmp-dev's Package is $(field "$dev" Package)"
for d in "$run" "$dev"; do
    [ "$(field "$d" Version)" = "$version" ] || bad "$(basename "$d"): Version $(field "$d" Version)"
    [ "$(field "$d" Architecture)" = "$arch" ] || bad "$(basename "$d"): wrong Architecture"
    [ -n "$(field "$d" Description)" ] || bad "$(basename "$d"): no Description"
done
[ "$(field "$dev" Depends)" = "libmp (= $version)" ] ||
    bad "libmp-dev Depends: '$(field "$dev" Depends)', want 'libmp (= $version)'"
field "$run" Depends | grep -qE '(^|, )libc6( |,|$)' ||
    bad "libmp Depends: '$(field "$run" Depends)', want libc6"
dpkg-deb -I "$run" >"$tmp/info.txt"
grep -q ' shlibs' "$tmp/info.txt" || bad "libmp has no shlibs file"

# Unpacked together (as dpkg would install them), they build a program.
dpkg-deb -x "$run" "$tmp/root"
dpkg-deb -x "$dev" "$tmp/root"
sh "$src/tests/check_install.sh" "$build" "$src" "$tmp/root/usr" || bad "build against the .debs"

# TGZ: relocatable.
cpack --config "$build/CPackConfig.cmake" -G TGZ -B "$tmp/tgz" >"$tmp/cpack.log" 2>&1 || {
    cat "$tmp/cpack.log"
    exit 1
}
mkdir -p "$tmp/moved/elsewhere"
tar -xzf "$tmp"/tgz/libmp-"$version"-*.tar.gz -C "$tmp/moved/elsewhere"
top=$(find "$tmp/moved/elsewhere" -mindepth 1 -maxdepth 1 -type d)
"$top/bin/mpcopy" --version | grep -qF "$version" || bad "mpcopy from the tarball"
sh "$src/tests/check_install.sh" "$build" "$src" "$top" || bad "build against the tarball"

[ $fail = 0 ] && echo "ok: libmp and libmp-dev .debs$([ -f "$mpi" ] && echo ", libmp-mpi"), and a relocatable tarball"
exit $fail
