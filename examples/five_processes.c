/* five_processes.c - five child processes, each printing its index.
 *
 * Ports 000_88437d67793eae77.txt, 三.1 "使用 process 类", and the same
 * program in 002_d3d322b25bc90569.txt, 4 "直接使用 Process 类" (示例一):
 *
 *     import multiprocessing
 *     def process(index):
 *         print(f'Process: {index}')
 *     if __name__ == '__main__':
 *         for i in range(5):
 *             p = multiprocessing.Process(target=process, args=(i,))
 *             p.start()
 *
 * Python's args=(i,) becomes a pointer to the value: each child is a copy
 * of the parent made at start, so it reads indexes[i] as it was then. As
 * in Python, main returns without joining: libmp joins the children when
 * the program exits. The order of the five lines may vary. */
#include "example_util.h"

static int process(void *arg)
{
    int index = *(int *)arg;
    printf("Process: %d\n", index);
    return 0;
}

int main(void)
{
    static int indexes[5];
    for (int i = 0; i < 5; i++) {
        indexes[i] = i;
        mp_process *p = CHECK_NEW(mp_process_new(process, &indexes[i], NULL));
        CHECK(mp_process_start(p));
    }
    return 0;
}
