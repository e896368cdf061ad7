# global_num_not_shared: each child counts to 5 on its own copy, main's
# stays 0 after joining both.
# ctest-timeout: 30
. "$(dirname "$0")/lib.sh"
run global_num_not_shared
expect_line 1 "开始:全局变量main global_num=  0"
[ "$(last_line)" == "结束:全局变量main global_num=  0" ] || fail "main's last line"
expect_count '^开始:全局变量(sing|dance) global_num=  0$' 2
expect_count '^结束:全局变量(sing|dance) global_num=  5$' 2
expect_count '^正在唱歌呢 [0-4]$' 5
expect_count '^正在跳舞呢 [0-4]$' 5
expect_count '' 16
