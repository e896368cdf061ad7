/* sing_dance_sequential.c - sing, then dance, in one process.
 *
 * Ports 003_0a6313e0c9076710.txt, 第二课 3.3 (the program before the
 * processes are added):
 *
 *     # 唱歌
 *     def sing():
 *         for i in range(3):
 *             print("唱歌...")
 *             time.sleep(0.5)
 *
 *     # 跳舞
 *     def dance():
 *         for i in range(3):
 *             print("跳舞...")
 *             time.sleep(0.5)
 *
 *     if __name__ == '__main__':
 *         sing()
 *         dance()
 *
 * Three seconds: the dancing waits for the singing. Compare
 * sing_dance_processes.c, which takes one and a half. */
#include "example_util.h"

/* 唱歌 */
static void sing(void)
{
    for (int i = 0; i < 3; i++) {
        printf("唱歌...\n");
        example_sleep(0.5);
    }
}

/* 跳舞 */
static void dance(void)
{
    for (int i = 0; i < 3; i++) {
        printf("跳舞...\n");
        example_sleep(0.5);
    }
}

int main(void)
{
    sing();
    dance();
    return 0;
}
