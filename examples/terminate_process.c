/* terminate_process.c - terminate a child and watch its state change.
 *
 * Ports 002_d3d322b25bc90569.txt, 8 "终止进程":
 *
 *     def process():
 *         print("Starting")
 *         time.sleep(5)
 *         print("Finished")
 *
 *     if __name__ == '__main__':
 *         p = multiprocessing.Process(target=process)
 *         print("Before:", p, p.is_alive())
 *
 *         p.start()
 *         print("During:", p, p.is_alive())
 *
 *         p.terminate()
 *         print("Terminate:", p, p.is_alive())
 *
 *         p.join()
 *         print("Joined:", p, p.is_alive())
 *
 * Python's print(p) is mp_process_repr. Right after terminate the child
 * usually still counts as alive: the signal takes a moment, and only join
 * makes sure it has ended. "Starting" appears only if the child got that
 * far before the signal. */
#include "example_util.h"

static int process(void *arg)
{
    printf("Starting\n");
    example_sleep(5);
    printf("Finished\n");
    return 0;
}

/* show prints "label <Process(...)> True", as print(label, p, p.is_alive()). */
static void show(const char *label, mp_process *p)
{
    bool alive = mp_process_is_alive(p); /* Python evaluates it before print formats p */
    char repr[128];
    CHECK(mp_process_repr(p, repr, sizeof repr));
    printf("%s %s %s\n", label, repr, alive ? "True" : "False");
}

int main(void)
{
    mp_process *p = CHECK_NEW(mp_process_new(process, NULL, NULL));
    show("Before:", p);

    CHECK(mp_process_start(p));
    show("During:", p);

    CHECK(mp_process_terminate(p));
    show("Terminate:", p);

    CHECK(mp_process_join(p, MP_FOREVER));
    show("Joined:", p);
    mp_process_free(p);
    return 0;
}
