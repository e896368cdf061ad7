/* active_children.c - the CPU count and the children still running.
 *
 * Ports 002_d3d322b25bc90569.txt, 4 "直接使用 Process 类" (cpu_count and
 * active_children):
 *
 *     def process(index):
 *         time.sleep(index)
 *         print(f"Process: {index}")
 *
 *     if __name__ == '__main__':
 *         for i in range(5):
 *             p = multiprocessing.Process(target=process, args=[i,])
 *             p.start()
 *         print(f"CPU number: {multiprocessing.cpu_count()}")
 *         for p in multiprocessing.active_children():
 *             print(f"Child process name: {p.name} id: {p.pid}")
 *         print("Process Ended")
 *
 * Process 0 does not sleep, so it has usually ended (and is not listed)
 * by the time the parent asks; the others are. The children's own lines
 * come after "Process Ended", one second apart. */
#include "example_util.h"

static int process(void *arg)
{
    int index = *(int *)arg;
    example_sleep(index);
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
    printf("CPU number: %d\n", mp_cpu_count());
    mp_process *children[5];
    size_t n = mp_active_children(children, 5);
    for (size_t i = 0; i < n; i++)
        printf("Child process name: %s id: %d\n", mp_process_name(children[i]),
               (int)mp_process_pid(children[i]));
    printf("Process Ended\n");
    return 0;
}
