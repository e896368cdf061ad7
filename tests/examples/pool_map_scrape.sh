# pool_map_scrape: the three data files are scraped, the missing one and
# a web URL are not; each URL reported once.
# ctest-timeout: 30
. "$(dirname "$0")/lib.sh"
run pool_map_scrape
d=$SRC/examples/data
expect_sorted "URL file://$d/budejie.html Scraped
URL file://$d/maoyan/board_0.html Scraped
URL $d/maoyan/board_10.html Scraped
URL file:///nonexistent/xxxyxxx.net not Scraped"
new_dir
echo hi >"$NEW_DIR/a.txt"
run pool_map_scrape "file:$NEW_DIR/a.txt" "https://www.baidu.com" "$NEW_DIR/missing"
expect_sorted "URL file:$NEW_DIR/a.txt Scraped
URL https://www.baidu.com not Scraped
URL $NEW_DIR/missing not Scraped"
