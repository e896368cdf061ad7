/* cluster.h - the cluster pool's private interface: the task table, the
 * wire protocol, the MPI helpers, rank 0's dispatcher and the agents.
 *
 * Files (each calls only those above it in this list, and the pool's
 * claim/commit interface, pool/pool.h):
 *
 *   registry.c  the task table: names, sizes, digest, lookups (no MPI)
 *   wire.c      the message layouts' helpers, pending sends, the poller's
 *               backoff, the start-up handshake
 *   dispatch.c  rank 0's dispatcher thread: claims chunks as remote worker
 *               slots, sends them, commits results, heartbeats, node loss
 *   agent.c     a node agent: runs what it is sent on its local pool
 *   cluster.c   the API: init (roles, pools, MPI start), finalize, counts
 *
 * The protocol (all in one communicator, a duplicate of MPI_COMM_WORLD;
 * native byte order, since every rank is checked to be the same machine
 * kind and libmp version at start):
 *
 *   start   every rank -> 0   MPI_Gather of struct mp__hello
 *           0 -> every rank   MPI_Bcast of struct mp__verdict
 *   WORK    0 -> node    struct mp__wire_work, then n * arg_size bytes
 *   RESULT  node -> 0    struct mp__wire_result, then (OK and FAILED
 *                        chunks) n * result_size bytes, (FAILED) n int32
 *                        codes padded to 8, then nbig x (struct
 *                        mp__wire_big, len bytes padded to 8)
 *   PING    either way   empty; only with recovery, when nothing else was
 *                        sent for an interval (any message is a sign of life)
 *   STOP    0 -> node    uint32 flags (MP__STOP_SKIP_FINALIZE)
 *   BYE     node -> 0    empty: the node's last message
 *
 * Every WORK is answered by one RESULT, unless the node is lost or told
 * to stop first. MPI keeps the order of messages between two ranks, so
 * once a node has seen STOP it has seen every WORK, and once rank 0 has
 * seen BYE it has seen every RESULT: every send is matched, and
 * MPI_Finalize cannot wait for an unreceived message. Sends are
 * non-blocking (a dead peer must never block the sender); their buffers
 * are freed once MPI says they completed. */
#ifndef MP_CLUSTER_INTERNAL_H
#define MP_CLUSTER_INTERNAL_H

#include <mpi.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mp/cluster.h"
#include "os/clock.h"
#include "pool/pool.h"

/* ---- timing ------------------------------------------------------------- */

/* MPI gives a waiting thread no descriptor or futex to sleep on, so the
 * dispatcher and the agents poll (MPI_Iprobe) and pause while nothing
 * happens: not at all for MP__CLUSTER_SPIN after the last event (seconds:
 * the answer to a message usually comes within one round trip through a
 * node, 100 to 500 us here, and a sleep and its wake-up alone cost about
 * 100 us on a virtual machine; not on a machine without a CPU to spare,
 * nor on a node whose workers are busy: mp__cluster_spin), then for a
 * share of the quiet time so far (1 / MP__CLUSTER_PAUSE_SHARE: a message
 * waits at most about that fraction longer than it took to come; with a
 * quarter, one task at a time over 3 ranks on 2 CPUs took 0.7-0.9 ms a
 * round trip, with a sixteenth 0.23-0.3 ms, 1 ms tasks no slower, and an
 * idle poller reaches the cap after ~75 pauses instead of ~20), between
 * MP__CLUSTER_PAUSE_MIN and MP__CLUSTER_PAUSE_MAX. The cap bounds the
 * latency of a message to an idle rank and the idle cost (a probe per
 * millisecond: an agent that spun used 0.58 s of CPU per 2 s idle).
 * Sleeps this short need the thread's timer slack lowered to
 * MP__CLUSTER_TIMER_SLACK_NS (the default 50 us would double them). */
#define MP__CLUSTER_SPIN           200e-6
#define MP__CLUSTER_PAUSE_MIN      10e-6
#define MP__CLUSTER_PAUSE_MAX      1e-3
#define MP__CLUSTER_PAUSE_SHARE    16
#define MP__CLUSTER_TIMER_SLACK_NS 1000

/* While chunks are out, rank 0 looks at least this often (seconds): a
 * result it has not seen is a node's worker that may run dry. */
#define MP__CLUSTER_PAUSE_BUSY 100e-6

/* A poller whose node(s) hold a chunk beyond their workers' - every
 * worker busy and one chunk waiting behind it - pauses for up to this
 * long at once (seconds), without the short pauses above: nothing it
 * could read would keep a worker from running dry sooner. An agent
 * sleeps on its local jobs meanwhile (a finished one wakes it); rank 0
 * pauses at most half the time the waiting chunks last (cluster nodes'
 * result gaps). With only the short pauses, rank 0's dispatcher woke
 * 8000-20000 times in 4000 tasks of 1 ms over 2 nodes on 2 CPUs (0.3-0.45
 * s of CPU, each wake a preemption of a worker); with this, 2200-4000
 * times (0.15-0.19 s). The cost: a result may reach rank 0 this much
 * later than it could while its node is busy. */
#define MP__CLUSTER_PAUSE_STOCKED 2e-3

/* Chunks a node holds: at least MP__CLUSTER_DEPTH per worker (one
 * running, one waiting, so a worker never idles for a round trip), and
 * beyond that as many as its workers get through in
 * MP__CLUSTER_QUEUE_TIME (seconds), measured from the gaps between its
 * results: tiny tasks then fill a node's slots, long ones stay on rank 0
 * for whichever node is free first (what waits at a node cannot move).
 * The queue must outlast a result's way to rank 0 and the next chunk's
 * way back, which on a machine whose CPUs the workers hold is several
 * scheduling delays (each about 1 ms here): with 2 ms, 1 ms tasks over 3
 * ranks on 2 CPUs left each node's worker without a chunk 750-1100 times
 * in 4000 tasks, with 10 ms a few dozen times. The cost: at most that
 * much work left on the slowest node at the end of a map. */
#define MP__CLUSTER_DEPTH      2
#define MP__CLUSTER_QUEUE_TIME 10e-3

/* Heartbeats per node_timeout: a node is declared lost after missing
 * about this many in a row, so one late beat on a loaded machine is not
 * a death. */
#define MP__CLUSTER_BEATS 4

/* Rank 0 reserves remote slots per node before MPI starts, when it does
 * not yet know the nodes' sizes: MP__CLUSTER_DEPTH x the larger of its
 * own CPU count, the requested processes and this floor. */
#define MP__CLUSTER_MIN_NODE_WORKERS 8

/* The largest message: MPI counts bytes in an int. */
#define MP__CLUSTER_MSG_MAX ((size_t)INT32_MAX)

/* ---- registry.c: the task table ------------------------------------------ */

struct mp__task {
    char *name;         /* malloc'd, NUL-terminated */
    mp_task_fn fn;      /* this process's address of the task */
    size_t arg_size;    /* MP_TASK_ANY_SIZE or the size every submission uses */
    size_t result_size; /* likewise */
};

/* mp__task_freeze sorts the table by name (the index every rank uses for
 * a task) and forbids later registrations. 0, or MP_EINVAL when a
 * registration failed or memory ran out. */
int mp__task_freeze(void);

/* mp__task_digest gives the frozen table's SHA-256 (count, then each
 * name with its NUL and both sizes as 64-bit values, in index order). */
void mp__task_digest(unsigned char out[32]);

/* mp__task_at returns the task at index i of the frozen table, or NULL. */
const struct mp__task *mp__task_at(uint32_t i);

/* mp__task_find gives fn's index in the frozen table: 0 or MP_EINVAL. */
int mp__task_find(mp_task_fn fn, uint32_t *index);

/* mp__task_admit is the cluster pool's admit hook (pool.h): 0 for a
 * registered fn with matching sizes, else MP_EINVAL. */
int mp__task_admit(mp_task_fn fn, size_t arg_size, size_t result_size);

/* ---- wire.c: messages ---------------------------------------------------- */

enum {
    MP__TAG_WORK = 0x6d70, /* an arbitrary base, to be recognisable in MPI traces */
    MP__TAG_RESULT,
    MP__TAG_PING,
    MP__TAG_STOP,
    MP__TAG_BYE,
};

/* Bumped when a message layout changes. */
#define MP__WIRE_VERSION 1u

/* STOP flags. */
#define MP__STOP_SKIP_FINALIZE 1u /* a node was lost: nobody calls MPI_Finalize */

struct mp__wire_work {
    uint32_t slot;        /* ticket: rank 0's remote slot */
    uint32_t seq;         /* ticket: that slot's claim count */
    uint32_t task;        /* index in the task table */
    uint32_t pad;         /* keeps the 64-bit fields aligned */
    uint64_t n;           /* items */
    uint64_t arg_size;    /* bytes per argument */
    uint64_t result_size; /* bytes per result */
};
_Static_assert(sizeof(struct mp__wire_work) == 40, "work header layout");

struct mp__wire_result {
    uint32_t slot;        /* the work's ticket, echoed */
    uint32_t seq;         /* likewise */
    uint32_t state;       /* MP__CH_OK, _FAILED, _DIED, _TIMEDOUT, _BROKEN or _CLOSED */
    uint32_t nbig;        /* results of any size that follow */
    uint64_t n;           /* items */
    uint64_t result_size; /* bytes per result */
};
_Static_assert(sizeof(struct mp__wire_result) == 32, "result header layout");

struct mp__wire_big {
    uint64_t item; /* within the chunk */
    uint64_t len;  /* bytes that follow (then padding to 8) */
};
_Static_assert(sizeof(struct mp__wire_big) == 16, "big result header layout");

/* What every rank tells rank 0 at start. */
struct mp__hello {
    uint32_t wire;           /* MP__WIRE_VERSION */
    uint32_t order;          /* 0x01020304 as this machine stores it */
    uint8_t sizes[8];        /* void *, long, size_t, int, double, long double, max_align_t, bool */
    char version[16];        /* mp_version_string() */
    unsigned char table[32]; /* mp__task_digest */
    int32_t table_error;     /* a registration failed here */
    int32_t workers;         /* this rank's worker processes */
};
_Static_assert(sizeof(struct mp__hello) == 72, "hello layout");

/* What rank 0 answers. */
struct mp__verdict {
    int32_t code;        /* 0, or what mp_cluster_init returns everywhere */
    int32_t recovery;    /* heartbeats on */
    double node_timeout; /* seconds */
};
_Static_assert(sizeof(struct mp__verdict) == 16, "verdict layout");

/* mp__hello_fill describes this rank: its table (and whether a
 * registration failed) and its worker count, or the -errno code that
 * kept it from making its pool (workers < 0). */
void mp__hello_fill(struct mp__hello *h, int table_error, int workers);

/* mp__hello_check compares a rank's hello with rank 0's: 0, the rank's
 * own failure (workers < 0), or MP_EINVAL. */
int mp__hello_check(const struct mp__hello *mine, const struct mp__hello *theirs);

/* Sends in flight: each owns its buffer until MPI says it completed. */
struct mp__send {
    MPI_Request req; /* the MPI_Isend */
    void *buf;       /* malloc'd, freed when complete; NULL for empty messages */
    int peer;        /* destination rank */
};
struct mp__sends {
    struct mp__send *v; /* in flight */
    size_t n, cap;      /* count, allocated */
};

/* mp__send_bytes sends len bytes of buf (malloc'd; ownership passes, even
 * on failure) to peer without blocking. 0, MP_ENOMEM or -EIO. */
int mp__send_bytes(struct mp__sends *s, MPI_Comm comm, int peer, int tag, void *buf, size_t len);

/* mp__sends_test frees the buffers of completed sends; true when some did. */
bool mp__sends_test(struct mp__sends *s);

/* mp__sends_pending counts sends in flight, to peer (or to all: -1). */
size_t mp__sends_pending(const struct mp__sends *s, int peer);

/* mp__sends_forget drops sends to peer that will never complete (a lost
 * rank): their requests are freed, their buffers leaked, since MPI may
 * still read them. */
void mp__sends_forget(struct mp__sends *s, int peer);

/* mp__recv receives the message MPI_Iprobe found (status st) into *buf,
 * growing it (*cap bytes). Its length in *len. 0, MP_ENOMEM or -EIO. */
int mp__recv(MPI_Comm comm, const MPI_Status *st, void **buf, size_t *cap, size_t *len);

/* The pause of a poller that found nothing (see the timing constants). */
struct mp__backoff {
    double quiet_since; /* mp__now() of the last event, or 0 */
    double step;        /* the last pause */
};

/* mp__backoff_event records that something happened: no pause next. */
void mp__backoff_event(struct mp__backoff *b);

/* mp__backoff_next returns the seconds to pause now (0: poll again),
 * polling without a pause for `spin` seconds after the last event. */
double mp__backoff_next(struct mp__backoff *b, double spin);

/* mp__cluster_spin is how long this rank's pollers poll without pausing
 * after an event: MP__CLUSTER_SPIN, or 0 when the machine has no CPU to
 * spare (as many ranks on it as CPUs, or more: a spinning poller would
 * take the CPU a worker needs). Set by mp_cluster_init before any
 * poller starts. */
extern double mp__cluster_spin;

/* mp__timer_slack sets the calling thread's timer slack (ns), so that
 * the pollers' short pauses are not stretched; returns the old value, or
 * -1 where it cannot be set. */
long mp__timer_slack(long ns);

/* ---- dispatch.c: rank 0 ---------------------------------------------------- */

/* The cluster on rank 0 (cluster.c owns it; the dispatcher thread works
 * on it). */
struct mp__root {
    mp_pool *pool;           /* the user's pool (cluster.c holds a reference) */
    int *argc;               /* for MPI_Init_thread */
    char ***argv;            /* likewise */
    int size;                /* ranks, from the launcher */
    int per_node;            /* remote slots reserved per node */
    bool recovery;           /* heartbeats and node loss */
    double node_timeout;     /* seconds */
    struct mp__hello hello;  /* rank 0's */
    pthread_t thread;        /* the dispatcher */
    _Atomic uint32_t phase;  /* MP__ROOT_*; futex for the start */
    _Atomic int32_t code;    /* the start's outcome when FAILED */
    _Atomic uint32_t stop;   /* finalize asks the dispatcher to end; futex */
    _Atomic int32_t nodes;   /* ranks serving, rank 0 included */
    _Atomic int32_t workers; /* their worker processes */
};

enum { MP__ROOT_STARTING = 0, MP__ROOT_RUNNING = 1, MP__ROOT_FAILED = 2 };

/* mp__dispatch_main is the dispatcher thread (arg: struct mp__root): MPI
 * start and handshake (phase RUNNING, or FAILED with code), then chunks
 * out and results in until stop, then the stop protocol and MPI_Finalize.
 * The only thread of rank 0 that calls MPI. */
void *mp__dispatch_main(void *arg);

/* mp__dispatch_stop asks the dispatcher to stop, and wakes it. */
void mp__dispatch_stop(struct mp__root *r);

/* ---- agent.c: other ranks ------------------------------------------------- */

/* mp__agent_serve runs a node: MPI start and handshake, then tasks on
 * local (the node's pool) until STOP or rank 0's loss, then MPI_Finalize
 * unless told not to. Frees local before it returns. Returns
 * MP_CLUSTER_SERVED, MP_ETIMEDOUT (rank 0 lost), or the start's failure
 * (MP_EINVAL, -EIO, another rank's pool error). */
int mp__agent_serve(mp_pool *local, int *argc, char ***argv, int rank, int size,
                    const struct mp__hello *mine);

/* ---- shared by dispatch.c, agent.c and cluster.c ---------------------------- */

/* mp__mpi_start calls MPI_Init_thread (one thread calls MPI: FUNNELED),
 * duplicates MPI_COMM_WORLD into *comm, checks that the launcher's rank
 * and size (what the pools were sized by) are MPI's, then the handshake:
 * every rank's hello to rank 0, rank 0's verdict to all (*v; recovery and
 * node_timeout are rank 0's). On rank 0, workers[r] gets each rank's
 * worker count (size entries; NULL elsewhere). Returns 0, -EIO, or the
 * verdict's failure, the same on every rank; on failure MPI is finalized. */
int mp__mpi_start(int *argc, char ***argv, int rank, int size, const struct mp__hello *mine,
                  bool recovery, double node_timeout, MPI_Comm *comm, struct mp__verdict *v,
                  int32_t *workers);

/* mp__mpi_end frees comm and finalizes MPI, unless skip (a rank was lost:
 * MPI_Finalize may hang). */
void mp__mpi_end(MPI_Comm *comm, bool skip);

#endif
