/* wire.c - what rank 0 and the nodes share on the wire: the start-up
 * handshake, non-blocking sends that own their buffers, receiving a
 * probed message, and the pause of a thread that polls MPI. The message
 * layouts and the protocol are in cluster.h. */
#include <errno.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "cluster/cluster.h"
#include "mp/error.h"
#include "sync/wait.h"

/* ---- the handshake --------------------------------------------------------- */

void mp__hello_fill(struct mp__hello *h, int table_error, int workers)
{
    memset(h, 0, sizeof *h);
    h->wire = MP__WIRE_VERSION;
    h->order = 0x01020304u;
    uint8_t sizes[8] = {sizeof(void *), sizeof(long),        sizeof(size_t),       sizeof(int),
                        sizeof(double), sizeof(long double), alignof(max_align_t), sizeof(bool)};
    memcpy(h->sizes, sizes, sizeof sizes);
    strncpy(h->version, mp_version_string(), sizeof h->version - 1);
    mp__task_digest(h->table);
    h->table_error = table_error;
    h->workers = workers;
}

int mp__hello_check(const struct mp__hello *mine, const struct mp__hello *theirs)
{
    if (theirs->workers < 0)
        return theirs->workers;
    if (theirs->table_error != 0 || mine->table_error != 0)
        return MP_EINVAL;
    /* Everything before the error flags must be the same. */
    return memcmp(mine, theirs, offsetof(struct mp__hello, table_error)) == 0 ? 0 : MP_EINVAL;
}

int mp__mpi_start(int *argc, char ***argv, int rank, int size, const struct mp__hello *mine,
                  bool recovery, double node_timeout, MPI_Comm *comm, struct mp__verdict *v,
                  int32_t *workers)
{
    int provided, r, s;
    *comm = MPI_COMM_NULL;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return -EIO;
    if (MPI_Comm_dup(MPI_COMM_WORLD, comm) != MPI_SUCCESS) {
        mp__mpi_end(comm, false);
        return -EIO;
    }
    /* Errors come back as codes: a dead peer must not abort us. */
    MPI_Comm_set_errhandler(*comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(*comm, &r);
    MPI_Comm_size(*comm, &s);
    struct mp__hello *all = NULL;
    int bad = r != rank || s != size;
    if (rank == 0 && !bad) {
        all = calloc((size_t)size, sizeof *all);
        bad = all == NULL;
    }
    /* The launcher's numbers are what the pools were sized by: if MPI
     * disagrees nobody can go on, and a gather would not even match. */
    int any = 1;
    if (MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, *comm) != MPI_SUCCESS || any) {
        free(all);
        mp__mpi_end(comm, false);
        return -EIO;
    }
    int rc = MPI_Gather(mine, sizeof *mine, MPI_BYTE, all, sizeof *mine, MPI_BYTE, 0, *comm);
    if (rank == 0) {
        *v = (struct mp__verdict){0, recovery, node_timeout};
        for (int i = 0; rc == MPI_SUCCESS && i < size && v->code == 0; i++)
            v->code = mp__hello_check(mine, &all[i]);
        for (int i = 0; rc == MPI_SUCCESS && i < size; i++)
            workers[i] = all[i].workers;
        if (rc != MPI_SUCCESS)
            v->code = -EIO;
        free(all);
    }
    if (rc != MPI_SUCCESS || MPI_Bcast(v, sizeof *v, MPI_BYTE, 0, *comm) != MPI_SUCCESS) {
        mp__mpi_end(comm, false);
        return -EIO;
    }
    if (v->code != 0) {
        mp__mpi_end(comm, false);
        return v->code;
    }
    return 0;
}

void mp__mpi_end(MPI_Comm *comm, bool skip)
{
    if (skip)
        return;
    if (*comm != MPI_COMM_NULL)
        MPI_Comm_free(comm);
    MPI_Finalize();
}

/* ---- sends ----------------------------------------------------------------- */

int mp__send_bytes(struct mp__sends *s, MPI_Comm comm, int peer, int tag, void *buf, size_t len)
{
    if (len > MP__CLUSTER_MSG_MAX) {
        free(buf);
        return MP_EMSGSIZE;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        struct mp__send *v = realloc(s->v, cap * sizeof *v);
        if (v == NULL) {
            free(buf);
            return MP_ENOMEM;
        }
        s->v = v;
        s->cap = cap;
    }
    struct mp__send *x = &s->v[s->n];
    if (MPI_Isend(buf, (int)len, MPI_BYTE, peer, tag, comm, &x->req) != MPI_SUCCESS) {
        free(buf);
        return -EIO;
    }
    x->buf = buf;
    x->peer = peer;
    s->n++;
    return 0;
}

bool mp__sends_test(struct mp__sends *s)
{
    bool any = false;
    for (size_t i = 0; i < s->n;) {
        int done = 0;
        MPI_Test(&s->v[i].req, &done, MPI_STATUS_IGNORE);
        if (!done) {
            i++;
            continue;
        }
        free(s->v[i].buf);
        s->v[i] = s->v[--s->n];
        any = true;
    }
    return any;
}

size_t mp__sends_pending(const struct mp__sends *s, int peer)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += peer < 0 || s->v[i].peer == peer;
    return n;
}

void mp__sends_forget(struct mp__sends *s, int peer)
{
    for (size_t i = 0; i < s->n;) {
        if (s->v[i].peer != peer) {
            i++;
            continue;
        }
        MPI_Request_free(&s->v[i].req);
        s->v[i] = s->v[--s->n];
    }
}

int mp__recv(MPI_Comm comm, const MPI_Status *st, void **buf, size_t *cap, size_t *len)
{
    int count;
    MPI_Status status = *st;
    if (MPI_Get_count(&status, MPI_BYTE, &count) != MPI_SUCCESS || count < 0)
        return -EIO;
    if ((size_t)count > *cap || *buf == NULL) {
        size_t want = (size_t)count > 64 ? (size_t)count : 64;
        void *b = realloc(*buf, want);
        if (b == NULL)
            return MP_ENOMEM;
        *buf = b;
        *cap = want;
    }
    if (MPI_Recv(*buf, count, MPI_BYTE, status.MPI_SOURCE, status.MPI_TAG, comm,
                 MPI_STATUS_IGNORE) != MPI_SUCCESS)
        return -EIO;
    *len = (size_t)count;
    return 0;
}

/* ---- the poller's pause ------------------------------------------------------ */

void mp__backoff_event(struct mp__backoff *b)
{
    b->quiet_since = 0;
    b->step = 0;
}

double mp__cluster_spin;

double mp__backoff_next(struct mp__backoff *b, double spin)
{
    double now = mp__now();
    if (b->quiet_since == 0)
        b->quiet_since = now;
    double quiet = now - b->quiet_since;
    if (quiet < spin)
        return 0;
    b->step = quiet / MP__CLUSTER_PAUSE_SHARE;
    if (b->step < MP__CLUSTER_PAUSE_MIN)
        b->step = MP__CLUSTER_PAUSE_MIN;
    if (b->step > MP__CLUSTER_PAUSE_MAX)
        b->step = MP__CLUSTER_PAUSE_MAX;
    return b->step;
}

/* Linux only (prctl); elsewhere short sleeps simply last longer. */
long mp__timer_slack(long ns)
{
    int old = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
    if (old < 0 || prctl(PR_SET_TIMERSLACK, (unsigned long)ns, 0, 0, 0) != 0)
        return -1;
    return old;
}
