#!/bin/sh
# No file of the repository names a folder of the machine it was written
# on (/work/..., /root/...): a reader's machine has neither. Looks at the
# files git tracks (and those added but not yet committed).
#   check_no_machine_paths.sh SRC      exit 77 (skipped) outside a git checkout
set -eu
src=$1
if ! command -v git >/dev/null 2>&1 || ! git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
    echo "skipped: not a git checkout"
    exit 77
fi
self=tests/check_no_machine_paths.sh
hits=$(cd "$src" && git ls-files -z --cached --others --exclude-standard |
    xargs -0 grep -InE '(^|[^A-Za-z0-9_.$}-])/(work|root)/' -- 2>/dev/null | grep -v "^$self:" || true)
if [ -n "$hits" ]; then
    echo "$hits"
    echo "FAIL: absolute paths of a development machine (above)"
    exit 1
fi
echo "ok: no /work/ or /root/ path in the repository"
