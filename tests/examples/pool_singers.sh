# pool_singers: five singers, four rounds each, between 歌唱开始 and
# 歌唱结束; singers 4 and 5 start only after one of the first three ended.
# ctest-timeout: 60
. "$(dirname "$0")/lib.sh"
run pool_singers
expect_count '^歌唱开始$' 1
[ "$(last_line)" == "歌唱结束" ] || fail "last line"
expect_only '^歌唱开始$' '^歌唱结束$' '^歌手 [1-5] 正在唱歌呢 [0-3]$'
for s in 1 2 3 4 5; do
    [ "$(grep "^歌手 $s " <<<"$OUT")" == "$(printf "歌手 $s 正在唱歌呢 %d\n" 0 1 2 3)" ] ||
        fail "singer $s's rounds"
done
expect_before '^歌手 [123] 正在唱歌呢 3$' '^歌手 [45] 正在唱歌呢 0$'
