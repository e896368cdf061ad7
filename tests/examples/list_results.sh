# list_results: four processes append the primes of their ranges to one
# list; none is lost or doubled (the count, sum and both ends are those
# of the primes below 10000), and the pop takes the last one appended,
# which is the last prime of one of the four ranges.
# ctest-timeout: 60
. "$(dirname "$0")/lib.sh"
run list_results
expect_line 1 "1229 primes below 10000, sum 5736396"
expect_line 2 "first: 2 3 5 7 11 13 17 19 23 29"
expect_line 3 "last: 9931 9941 9949 9967 9973"
# The largest prime of each quarter [0,2500), [2500,5000), ...
lasts=$(awk 'function prime(n, d) { if (n < 2) return 0
                                     for (d = 2; d * d <= n; d++) if (n % d == 0) return 0
                                     return 1 }
             BEGIN { for (q = 1; q <= 4; q++) { n = q * 2500 - 1; while (!prime(n)) n--
                                                printf "%d ", n } }')
popped=$(line 4 | sed -n 's/^popped: \([0-9]*\) left: 1228$/\1/p')
[ -n "$popped" ] || fail "line 4 is '$(line 4)'"
case " $lasts" in *" $popped "*) ;; *) fail "popped $popped, not one of the ranges' last primes ($lasts)" ;; esac
