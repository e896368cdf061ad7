/* mp.h - libmp: Python's multiprocessing for C.
 *
 * Include this one header. Reading order for a newcomer: this file, then
 * the area header (mp/process.h, mp/queue.h, ...), then src/<area>.c. */
#ifndef MP_H
#define MP_H

#include "mp/common.h"
#include "mp/error.h"
#include "mp/shared.h"
#include "mp/process.h"
#include "mp/sync.h"
#include "mp/queue.h"
#include "mp/pipe.h"
#include "mp/pool.h"
#include "mp/log.h"
#include "mp/dict.h"
#include "mp/list.h"

#endif /* MP_H */
