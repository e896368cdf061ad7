# sing_dance_flower: five rounds each; the flower the dancer put comes out
# of the queue in the singer's process after its fifth round.
# ctest-timeout: 30
. "$(dirname "$0")/lib.sh"
run sing_dance_flower
expect_sorted "Jam 正在唱歌不露声色呢 0
Jam 正在唱歌不露声色呢 1
Jam 正在唱歌不露声色呢 2
Jam 正在唱歌不露声色呢 3
Jam 正在唱歌不露声色呢 4
杰克逊向Jam递了一朵花
杰克逊正在伴舞呢 0
杰克逊正在伴舞呢 1
杰克逊正在伴舞呢 2
杰克逊正在伴舞呢 3
杰克逊正在伴舞呢 4
Jam收到了 花"
expect_before '^杰克逊向Jam递了一朵花$' '^Jam收到了 花$'
expect_before '^Jam 正在唱歌不露声色呢 4$' '^Jam收到了 花$'
