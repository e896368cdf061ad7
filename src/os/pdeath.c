/* pdeath.c - PR_SET_PDEATHSIG, so a daemon child dies with its parent.
 *
 * Linux only. The POSIX fallback is a pipe from the parent whose write end
 * only the parent holds, watched by a thread in the child that exits the
 * child at EOF. */
#include "os/pdeath.h"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

bool mp__die_with_parent(pid_t parent)
{
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
        return true;
    /* The parent may have died between fork and prctl: the death signal
     * would never come. Reparenting changes getppid, so check after. */
    return getppid() == parent;
}
