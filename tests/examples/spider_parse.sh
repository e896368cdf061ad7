# spider_parse: the names found in the page come through the queue as one
# list; a page of our own gives our names.
# ctest-timeout: 30
. "$(dirname "$0")/lib.sh"
run spider_parse
expect_out "value:['虚构用户甲', 'made_up_user_2', '示例网友丙', 'fake-poster-4', '路人丁(虚构)']"
new_dir
cat >"$NEW_DIR/page.html" <<'HTML'
<div class="u-txt"><a href="/u/1">alice</a></div>
<div class="other"><a href="/u/9">not a user</a></div>
<div class="u-txt">
  <a href="/u/2" target="_blank">鲍勃</a></div>
HTML
run spider_parse "$NEW_DIR/page.html"
expect_out "value:['alice', '鲍勃']"
