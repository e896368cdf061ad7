# queue_download_save: every item downloaded is saved, in order.
# ctest-timeout: 30
. "$(dirname "$0")/lib.sh"
for i in 1 2 3; do
    run queue_download_save
    expect_out "数据已经下载成功....
[11, 22, 33, 44]"
done
