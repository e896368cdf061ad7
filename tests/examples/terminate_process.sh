# terminate_process: the repr and is_alive before start, running, after
# terminate (still alive, or already reaped) and after join.
# ctest-timeout: 30
. "$(dirname "$0")/lib.sh"
run terminate_process
OUT=$(grep -v '^Starting$' <<<"$OUT")
expect_line 1 "Before: <Process(Process-1, initial)> False"
expect_line 2 "During: <Process(Process-1, started)> True"
case "$(line 3)" in
"Terminate: <Process(Process-1, started)> True" | \
    "Terminate: <Process(Process-1, stopped[SIGTERM])> False") ;;
*) fail "line 3: $(line 3)" ;;
esac
expect_line 4 "Joined: <Process(Process-1, stopped[SIGTERM])> False"
expect_count '' 4
