#!/usr/bin/env bash
# load.sh - runs a command on a loaded machine: N busy loops take the CPUs
# while it runs, and are stopped, by their pids, however it ends.
#   load.sh N -- CMD [ARG...]
# e.g. `bash scripts/load.sh 16 -- bash scripts/test.sh` (issue 19: the
# suite must pass beside 16 busy loops on a 2-core machine).
#
# - The loops start before CMD, at the same priority as everything else:
#   each is an sh counting loop, as busy as `while :; do :; done`, that
#   every 20000 turns (a fraction of a second) checks that load.sh still runs
#   and ends if not: a load.sh killed outright (SIGKILL, where no trap
#   runs) leaves no loop behind for long.
# - CMD runs with SIGINT and SIGQUIT as they were (a job started in the
#   background would ignore them): ^C at a terminal still reaches it.
# - When CMD ends (exit, failure, signal), and when load.sh is told to stop
#   (INT, TERM, HUP: passed on to CMD, then CMD's end is awaited), the
#   loops are SIGKILLed by pid and reaped.
# - The exit status is CMD's own: its code, or 128 + the signal that
#   killed it. 2 for a usage error, before anything started.
set -u

usage() {
    echo "usage: load.sh N -- CMD [ARG...]   (N busy loops while CMD runs)" >&2
    exit 2
}
[ $# -ge 3 ] && [ "$2" = "--" ] || usage
case $1 in '' | *[!0-9]*) usage ;; esac
n=$1
shift 2

loops=()
cmd=
stop_loops() {
    [ ${#loops[@]} -gt 0 ] || return 0
    kill -KILL "${loops[@]}" 2>/dev/null
    wait "${loops[@]}" 2>/dev/null
    loops=()
}
trap stop_loops EXIT

# Passed on to CMD; the wait below then goes on until CMD has ended.
pass_on() {
    [ -n "$cmd" ] && kill -s "$1" "$cmd" 2>/dev/null
}
trap 'pass_on INT' INT
trap 'pass_on TERM' TERM
trap 'pass_on HUP' HUP

me=$$
for ((i = 0; i < n; i++)); do
    sh -c 'while kill -0 "$1" 2>/dev/null; do
               i=0; while [ $i -lt 20000 ]; do i=$((i + 1)); done
           done' load-loop "$me" &
    loops+=($!)
done

# A background job of a script ignores SIGINT and SIGQUIT; the subshell
# puts them back before CMD replaces it.
(
    trap - INT QUIT
    exec "$@"
) &
cmd=$!
# wait returns early (> 128) when a trapped signal arrives, and bash keeps
# the status of a job it reaped: wait until CMD is gone, then ask once more.
while kill -0 "$cmd" 2>/dev/null; do
    wait "$cmd"
done
wait "$cmd"
status=$?
stop_loops
exit "$status"
