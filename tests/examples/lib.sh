# lib.sh - helpers for the example tests (sourced by each one, not a test).
#
# A test is `bash tests/examples/<name>.sh <build>/examples <source dir>`:
#     . "$(dirname "$0")/lib.sh"
#     run sing_dance            # OUT = what it printed; fails on exit != 0
#     expect_count '^正在唱歌呢 [0-4]$' 5
set -euo pipefail

# The examples port the tutorials' time.sleep (example_sleep, scaled by
# MP_EXAMPLE_TIME_SCALE, 0.05 unless a test sets it): where a check needs
# one step to come before another and only a sleep stands between them,
# the test sets a scale that makes that sleep a second or more, so that a
# loaded shared machine (scripts/load.sh) cannot swap them. A timed run
# has a strict lower bound, and an upper bound only where seconds of
# slack still tell a right result from a wrong one (thread_pool: 1.5 s,
# not 15): beside busy loops a program's own start and end, and the
# script's, may take seconds.

EX=${1:?usage: $0 <build>/examples <source dir>}
SRC=${2:?usage: $0 <build>/examples <source dir>}
OUT=
ERR_FILE=$(mktemp)
TMP_DIRS=()
cleanup() {
    rm -f "$ERR_FILE"
    local d
    for d in "${TMP_DIRS[@]}"; do rm -rf "$d"; done
}
trap cleanup EXIT

# fail MESSAGE: print it, the output so far, and stop the test.
fail() {
    echo "FAIL: $*" >&2
    echo "--- output:" >&2
    printf '%s\n' "$OUT" >&2
    exit 1
}

# new_dir: NEW_DIR = a fresh temporary directory, removed when the test
# ends (not `d=$(new_dir)`: a subshell could not register it).
new_dir() {
    local d
    d=$(mktemp -d)
    TMP_DIRS+=("$d")
    NEW_DIR=$d
}

# run NAME [ARGS...]: run the example with stdin from /dev/null; OUT is its
# stdout. Fails when it exits non-zero or writes to stderr.
run() {
    local rc=0
    OUT=$(timeout 60 "$EX/$1" "${@:2}" </dev/null 2>"$ERR_FILE") || rc=$?
    [ "$rc" -eq 0 ] || fail "$1 exited with $rc: $(cat "$ERR_FILE")"
    [ ! -s "$ERR_FILE" ] || fail "$1 wrote to stderr: $(cat "$ERR_FILE")"
}

# run_in DIR NAME [ARGS...]: run with DIR as the working directory.
run_in() {
    local dir=$1
    shift
    local rc=0
    OUT=$(cd "$dir" && timeout 60 "$EX/$1" "${@:2}" </dev/null 2>"$ERR_FILE") || rc=$?
    [ "$rc" -eq 0 ] || fail "$1 exited with $rc: $(cat "$ERR_FILE")"
    [ ! -s "$ERR_FILE" ] || fail "$1 wrote to stderr: $(cat "$ERR_FILE")"
}

# expect_out TEXT: the whole output is exactly TEXT.
expect_out() {
    [ "$OUT" == "$1" ] ||
        fail "output differs from the expected:
$(diff <(printf '%s\n' "$1") <(printf '%s\n' "$OUT") || true)"
}

# expect_sorted TEXT: the output, its lines sorted, is TEXT sorted.
expect_sorted() {
    [ "$(sort <<<"$OUT")" == "$(sort <<<"$1")" ] ||
        fail "the lines differ from the expected (order aside):
$(diff <(sort <<<"$1") <(sort <<<"$OUT") || true)"
}

# count REGEX: how many output lines match the extended regex.
count() {
    grep -c -E -e "$1" <<<"$OUT" || true
}

# expect_count REGEX N: exactly N lines match.
expect_count() {
    local n
    n=$(count "$1")
    [ "$n" -eq "$2" ] || fail "expected $2 lines matching '$1', got $n"
}

# expect_count_between REGEX LO HI: between LO and HI lines match.
expect_count_between() {
    local n
    n=$(count "$1")
    [ "$n" -ge "$2" ] && [ "$n" -le "$3" ] ||
        fail "expected $2..$3 lines matching '$1', got $n"
}

# expect_only REGEX...: every output line matches one of the regexes.
expect_only() {
    local args=() r
    for r in "$@"; do args+=(-e "$r"); done
    local bad
    bad=$(grep -v -E "${args[@]}" <<<"$OUT" || true)
    [ -z "$bad" ] || fail "unexpected lines:
$bad"
}

# line N: the Nth output line; last_line: the last one.
line() {
    sed -n "${1}p" <<<"$OUT"
}
last_line() {
    tail -n 1 <<<"$OUT"
}

# expect_line N TEXT: line N is exactly TEXT.
expect_line() {
    [ "$(line "$1")" == "$2" ] || fail "line $1 is '$(line "$1")', expected '$2'"
}

# expect_before A B: the first line matching regex A comes before the first
# matching regex B.
expect_before() {
    local a b
    a=$(grep -n -m1 -E -e "$1" <<<"$OUT" | cut -d: -f1)
    b=$(grep -n -m1 -E -e "$2" <<<"$OUT" | cut -d: -f1)
    [ -n "$a" ] && [ -n "$b" ] && [ "$a" -lt "$b" ] ||
        fail "expected '$1' (line ${a:-none}) before '$2' (line ${b:-none})"
}

# distinct REGEX: how many different strings match REGEX in the output
# (distinct 'pid=[0-9]+' counts the pids seen).
distinct() {
    grep -o -E -e "$1" <<<"$OUT" | sort -u | wc -l
}

# make_tree DIR: fill DIR with files for the copiers: empty, around the
# 1024- and 4096-byte chunk sizes, a larger one, names with spaces and
# Chinese, and a sub-folder (which the copiers skip).
make_tree() {
    local dir=$1 size
    mkdir -p "$dir/nested"
    : >"$dir/empty.txt"
    for size in 1 1023 1024 1025 4096 4097 100000; do
        head -c "$size" /dev/urandom >"$dir/f_$size.bin"
    done
    printf '第一课 进程介绍\n' >"$dir/第一课 视频.txt"
    echo "not copied" >"$dir/nested/inner.txt"
}

# expect_copy SRC DEST: DEST has byte-identical copies of SRC's files and
# no sub-folder.
expect_copy() {
    diff -r --exclude=nested "$1" "$2" >/dev/null ||
        fail "copy differs: $(diff -r --exclude=nested "$1" "$2" 2>&1 | head -5)"
    [ ! -e "$2/nested" ] || fail "the sub-folder was copied"
}
