#!/bin/sh
# Installs libmp into a temporary prefix and renders each manual page
# installed under share/man with groff (all warnings on: -ww) and with
# man -l; neither may print a warning. Then checks that the pages keep up
# with the code: every MP_E* code of include/mp/error.h and every MP_*
# variable the library reads with getenv is in libmp(7), and every long
# option of `mpcopy --help` is in mpcopy(1).
#   check_man.sh BUILD SRC      exit 77 (skipped) without groff or man
set -eu
build=$1 src=$2
for tool in groff man; do
    if ! command -v $tool >/dev/null 2>&1; then
        echo "skipped: $tool is not installed (scripts/deps.sh installs groff-base and man-db)"
        exit 77
    fi
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
fail=0
bad() {
    echo "FAIL: $*"
    fail=1
}

pages=$(cd "$tmp/prefix" && find share/man -type f | sort)
[ "$(echo "$pages" | tr '\n' ' ')" = "share/man/man1/mpcopy.1 share/man/man7/libmp.7 " ] ||
    bad "installed pages are: $pages"
for page in $pages; do
    f=$tmp/prefix/$page
    name=$(basename "$page" | sed 's/\.[^.]*$//')
    if ! groff -man -Tutf8 -ww -z "$f" 2>"$tmp/groff.err" || [ -s "$tmp/groff.err" ]; then
        bad "groff -man -ww $page:"
        cat "$tmp/groff.err"
    fi
    if ! MANWIDTH=80 man --warnings=w -l "$f" >"$tmp/$name.txt" 2>"$tmp/man.err" ||
        [ -s "$tmp/man.err" ]; then
        bad "man -l $page:"
        cat "$tmp/man.err"
    fi
    grep -q "^NAME" "$tmp/$name.txt" && grep -q "^ *$name - " "$tmp/$name.txt" ||
        bad "man -l $page shows no NAME section for $name"
done

# libmp(7) names every error code and every environment variable.
codes=$(sed -n 's/^ *XX(\([A-Z]*\), .*/MP_\1/p' "$src/include/mp/error.h")
[ -n "$codes" ] || bad "no codes found in include/mp/error.h"
for c in $codes; do
    grep -qw "$c" "$tmp/libmp.txt" || bad "libmp(7) does not name $c"
done
vars=$(grep -rhoE 'getenv\("MP_[A-Z_]*"\)' "$src/src" | sed 's/getenv("\(.*\)")/\1/' | sort -u)
[ -n "$vars" ] || bad "no getenv(\"MP_...\") found under src/"
for v in $vars; do
    grep -qw "$v" "$tmp/libmp.txt" || bad "libmp(7) does not describe $v"
done

# mpcopy(1) describes every long option mpcopy --help lists, as typed.
opts=$("$build/tools/mpcopy" --help | grep -oE -- '--[a-z][a-z-]*' | sort -u)
[ -n "$opts" ] || bad "mpcopy --help lists no long option"
for o in $opts; do
    grep -qF -- "$o" "$tmp/mpcopy.txt" || bad "mpcopy(1) does not describe $o"
done

[ $fail = 0 ] && echo "ok: $(echo $pages) render without warnings and name what they should"
exit $fail
