# sing_dance_kwargs: Jam sings 不露声色 while 杰克逊 dances, five rounds each.
# ctest-timeout: 30
. "$(dirname "$0")/lib.sh"
run sing_dance_kwargs
expect_sorted "Jam 正在唱歌不露声色呢 0
Jam 正在唱歌不露声色呢 1
Jam 正在唱歌不露声色呢 2
Jam 正在唱歌不露声色呢 3
Jam 正在唱歌不露声色呢 4
杰克逊正在伴舞呢 0
杰克逊正在伴舞呢 1
杰克逊正在伴舞呢 2
杰克逊正在伴舞呢 3
杰克逊正在伴舞呢 4"
