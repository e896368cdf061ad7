/* chaos.h - what the chaos program's parts share: the world in the shared
 * heap, participant slots and roles, and the module hooks through which
 * the queue and pool parts join in. */
#ifndef CHAOS_H
#define CHAOS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "mp.h"

/* Seconds any one blocking step may take before the run counts it as a
 * hang. Generous: the machine is shared and sanitizers slow things down;
 * a dead lock holder is noticed in 0.1-0.2 s. */
#define CHAOS_OP_BOUND (10.0 * W->slow)
/* Seconds participants may take to finish once told to stop. */
#define CHAOS_STOP_BOUND (20.0 * W->slow)
/* A condition waiter's wait timeout (seconds). */
#define CHAOS_WAIT        1.0
#define CHAOS_MAX_WAITERS 3
#define CHAOS_MAX_SLOTS   64

struct slot;
typedef int (*chaos_run_fn)(struct slot *s, uint64_t *rng);

/* A kind of participant: its name, how many run at once, its loop (which
 * returns 0 when done, non-zero when it cannot go on). A plain role ends
 * when W->stop is set; a draining one (consumers) only after every plain
 * one has ended and W->drain is set, once it has taken what is left. */
struct role {
    const char *name;
    int count;
    chaos_run_fn run;
    bool drains;
};

/* One participant position; lives in the shared heap so the participant
 * can publish its progress. */
struct slot {
    const struct role *role; /* what it runs */
    int index;               /* which of the role's count */
    int incarnation;         /* restarts so far; part of its seed */
    int id;                  /* position among all slots */
    _Atomic uint64_t ops;    /* operations completed, all incarnations */
    _Atomic int busy;        /* non-zero while inside a step whose loss is allowed */
    uint64_t kills;          /* times killed (supervisor only) */
    mp_process *proc;        /* the running incarnation (supervisor only) */
    uint64_t seen_ops;       /* ops at the last progress check (supervisor only) */
    int seen_incarnation;    /* incarnation then (supervisor only) */
    double progress_at;      /* when ops or incarnation last changed (supervisor only) */
};

/* Data one lock guards: a + b == 0 between updates; inside = holder pid. */
struct guarded {
    uint64_t a;
    uint64_t b;
    pid_t inside;
    uint64_t ops;
};

/* What a heaper holds, published so that the supervisor can free the
 * blocks of a heaper it killed: a state per block (HB_*), then the block. */
#define CHAOS_HEAPERS       2
#define CHAOS_HEAPER_BLOCKS 16
enum { HB_EMPTY = 0, HB_ALLOCATING, HB_LIVE, HB_FREEING };
struct heaper_tab {
    _Atomic int state[CHAOS_HEAPER_BLOCKS];
    unsigned char *_Atomic blk[CHAOS_HEAPER_BLOCKS]; /* set as soon as malloc returns */
    _Atomic size_t len[CHAOS_HEAPER_BLOCKS];
};

/* Everything the participants share. */
struct world {
    uint64_t seed;
    double slow;       /* time bounds are multiplied by this (--slow, for valgrind) */
    _Atomic int stop;  /* participants leave their loop */
    _Atomic int drain; /* waiters may leave once no ticket is left */
    _Atomic uint64_t failures;
    _Atomic uint64_t ownerdead;              /* acquires that returned MP_EOWNERDEAD */
    _Atomic uint64_t repairs;                /* of those, guarded data found half-updated */
    _Atomic uint64_t wait_timeouts;          /* condition waits that timed out */
    struct heaper_tab heaper[CHAOS_HEAPERS]; /* the heapers' blocks */
    uint64_t heap_in_flight; /* killed heapers' blocks in malloc or free (supervisor) */

    mp_lock *lock;
    struct guarded g_lock; /* guarded by lock */
    mp_rlock *rlock;
    struct guarded g_rlock; /* guarded by rlock */

    mp_condition *cond;     /* own recursive lock */
    uint64_t tickets_made;  /* guarded by cond */
    uint64_t tickets_taken; /* guarded by cond; <= tickets_made */
    uint64_t notifies;      /* notify(1) calls completed; guarded by cond */
};

extern struct world *W;

/* A part of the workload beyond the sync objects (queues, pool). Each
 * hook may be NULL. */
struct chaos_module {
    const char *name;
    int (*init)(void);        /* before any participant starts */
    const struct role *roles; /* its participants */
    int nroles;
    bool (*kill)(uint64_t *rng);    /* may kill something of its own instead; true if it did */
    void (*killed)(struct slot *s); /* s (any role) was just killed by the supervisor */
    void (*producers_done)(void);   /* every plain role ended; W->drain is set */
    void (*check)(void);            /* every participant ended: final invariants */
    void (*report)(void);           /* print its figures ("key: value" lines) */
    void (*fini)(void);             /* free what init made */
};

extern const struct chaos_module chaos_queue_module;
extern const struct chaos_module chaos_pool_module;

struct slot *chaos_slot_of(chaos_run_fn run, int index);
double chaos_now(void);
uint64_t chaos_rand(uint64_t *s);
void chaos_jitter(uint64_t *rng, unsigned max_us);
void chaos_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
