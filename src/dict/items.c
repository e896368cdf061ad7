/* items.c - mp_dict_items: a consistent snapshot of a dict copied into
 * private memory without stopping its writers, then visited in insertion
 * order.
 *
 * A pass notes every stripe's retire and change counters, copies every
 * key and value (noting the version and value word of each key's cell),
 * then reads all of them again. If nothing moved, every copied
 * value was current from the moment it was copied to the moment it was
 * checked again; all copies come before all checks, so there is one
 * moment at which the whole copy was the dict's state.
 *
 * A writer stopped (or killed) in the middle of a write holds the part
 * it writes with its counter odd, and has at most one store to make, its
 * commit. So for such a part the pass also compares the words that store
 * would change (a cell's value; a stripe's table pointer and slots): if
 * they did not change either, the write landed before the copy or has
 * not landed, and the copy is good. A stopped writer never holds up a
 * snapshot.
 *
 * Parts that keep moving (busy writers) are held after a few failed
 * passes (stripes in stripe order, then cells), and what is held only
 * grows, so the passes end. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dict/dict.h"
#include "mp/error.h"

/* Lock-free passes before items starts holding the parts that keep
 * changing under it. */
#define SNAP_TRIES 4

/* A snapshot: records one after another in private memory, each a
 * header, then the key and the value, each padded to 8 bytes. */
typedef struct {
    uint64_t seq;  /* insertion number */
    uint64_t klen; /* key bytes */
    uint64_t vlen; /* value bytes */
} rec;

/* A cell a pass read: its version and value word then, to compare at the
 * end (an in-place write changes both; one stopped half-way changes at
 * most the word). */
typedef struct {
    mp__cell *c;  /* the cell */
    uint64_t ver; /* its version when its value was copied */
    uint64_t v8;  /* the value copied */
} seen_cell;

typedef struct {
    unsigned char *buf; /* the records */
    size_t len;         /* bytes used */
    size_t cap;         /* bytes allocated */
    size_t n;           /* records */
    seen_cell *cells;   /* the cells read by this pass */
    size_t ncells, cells_cap;
    mp__cell **held; /* the cells to hold, sorted */
    size_t nheld, held_cap;
    size_t nlocked; /* how many of them are locked (a prefix) */
    uint64_t *fp;   /* the words of stripes with a write in flight */
    size_t nfp, fp_cap;
    size_t fp_at[MP__DICT_STRIPES]; /* where each such stripe's words start */
} snap;

static inline size_t pad8(uint64_t n)
{
    return (size_t)((n + 7) & ~(uint64_t)7);
}

/* grow makes room for one more element of size sz in *v (n used, *cap
 * allocated); false when memory runs out. */
static bool grow(void **v, size_t n, size_t *cap, size_t sz)
{
    if (n < *cap)
        return true;
    size_t c = *cap > 0 ? 2 * *cap : 64;
    void *p = c < SIZE_MAX / sz ? realloc(*v, c * sz) : NULL;
    if (p == NULL)
        return false;
    *v = p;
    *cap = c;
    return true;
}

/* reserve makes room for more record bytes; false when memory runs out. */
static bool reserve(snap *sn, size_t more)
{
    if (more <= sn->cap - sn->len)
        return true;
    size_t cap = sn->cap > 0 ? sn->cap : 4096;
    while (cap - sn->len < more) {
        if (cap > SIZE_MAX / 2)
            return false;
        cap *= 2;
    }
    unsigned char *p = realloc(sn->buf, cap);
    if (p == NULL)
        return false;
    sn->buf = p;
    sn->cap = cap;
    return true;
}

/* stripe_words appends to sn->fp the words a structural commit of stripe
 * s could change: its clear generation, its table pointer and size, and
 * every slot's tag and cell pointer (all within the table the word names,
 * freed or not). Returns 0 or MP_ENOMEM. */
static int stripe_words(mp__stripe *s, snap *sn)
{
    uint64_t tw = atomic_load_explicit(&s->table, memory_order_acquire);
    mp__table *t = mp__table_of(tw);
    uint64_t slots = tw != 0 ? mp__table_mask(tw) + 1 : 0;
    size_t n = 3 + 2 * (size_t)slots;
    for (size_t i = 0; i < n; i++)
        if (!grow((void **)&sn->fp, sn->nfp + i, &sn->fp_cap, sizeof *sn->fp))
            return MP_ENOMEM;
    uint64_t *w = sn->fp + sn->nfp;
    w[0] = atomic_load_explicit(&s->cleared, memory_order_acquire);
    w[1] = tw;
    w[2] = slots;
    for (uint64_t i = 0; i < slots; i++) {
        w[3 + 2 * i] = atomic_load_explicit(&t->s[i].tag, memory_order_acquire);
        w[4 + 2 * i] = (uint64_t)(uintptr_t)atomic_load_explicit(&t->s[i].c, memory_order_acquire);
    }
    sn->nfp += n;
    return 0;
}

/* same_words tells whether stripe s's words are still those stripe_words
 * noted at sn->fp + at. It reads only within the noted table, and the
 * caller checks the retire counter afterwards. */
static bool same_words(mp__stripe *s, const snap *sn, size_t at)
{
    const uint64_t *w = sn->fp + at;
    mp__table *t = mp__table_of(w[1]);
    if (atomic_load_explicit(&s->cleared, memory_order_acquire) != w[0] ||
        atomic_load_explicit(&s->table, memory_order_acquire) != w[1])
        return false;
    for (uint64_t i = 0; i < w[2]; i++)
        if (atomic_load_explicit(&t->s[i].tag, memory_order_acquire) != w[3 + 2 * i] ||
            (uint64_t)(uintptr_t)atomic_load_explicit(&t->s[i].c, memory_order_acquire) !=
                w[4 + 2 * i])
            return false;
    return true;
}

/* copy_stripe appends stripe s's keys and values to sn, as of clear
 * generation g, each pointer validated before it is followed (the retire
 * counter for the table and blocks, each cell's generation for the
 * cell); for a stripe with a write in flight (in_flight) it notes its
 * words first. Returns 0, MP__CT_RETRY (memory was freed or a cell
 * changed hands under it) or MP_ENOMEM. */
static int copy_stripe(mp__stripe *s, uint64_t g, uint64_t seen, bool in_flight, snap *sn)
{
    int rc = in_flight ? stripe_words(s, sn) : 0;
    if (rc != 0)
        return rc;
    if (atomic_load_explicit(&s->cleared, memory_order_acquire) != g)
        return 0;
    uint64_t tw = atomic_load_explicit(&s->table, memory_order_acquire);
    if (tw == 0)
        return 0;
    mp__table *t = mp__table_of(tw);
    uint64_t mask = mp__table_mask(tw);
    for (uint64_t i = 0; i <= mask; i++) {
        if (atomic_load_explicit(&t->s[i].tag, memory_order_acquire) <= MP__SLOT_DEAD)
            continue;
        mp__cell *c = atomic_load_explicit(&t->s[i].c, memory_order_acquire);
        if (!mp__ct_valid(&s->retired, seen))
            return MP__CT_RETRY;
        uint64_t gen = atomic_load_explicit(&c->gen, memory_order_acquire);
        rec r = {c->seq, c->klen, 8};
        uint32_t flags = c->flags;
        uint64_t ver = atomic_load_explicit(&c->ver, memory_order_acquire);
        uint64_t word = atomic_load_explicit(&c->val, memory_order_acquire);
        const unsigned char *key = mp__cell_key(c, flags);
        mp__fence(memory_order_acquire);
        if (!(gen & 1) || atomic_load_explicit(&c->gen, memory_order_relaxed) != gen)
            return MP__CT_RETRY;
        const unsigned char *val = (const unsigned char *)&word;
        if (flags & MP__CELL_VAL_OUT) {
            mp__blob *v = (mp__blob *)(uintptr_t)word;
            if (!mp__ct_valid(&s->retired, seen))
                return MP__CT_RETRY;
            r.vlen = v->len;
            val = mp__blob_bytes(v);
            if (!mp__ct_valid(&s->retired, seen))
                return MP__CT_RETRY;
        }
        size_t kp = pad8(r.klen), vp = pad8(r.vlen);
        if (!reserve(sn, sizeof r + kp + vp) ||
            !grow((void **)&sn->cells, sn->ncells, &sn->cells_cap, sizeof *sn->cells))
            return MP_ENOMEM;
        unsigned char *out = sn->buf + sn->len;
        memcpy(out, &r, sizeof r);
        memcpy(out + sizeof r, key, r.klen);
        memcpy(out + sizeof r + kp, val, r.vlen);
        mp__fence(memory_order_acquire);
        if (atomic_load_explicit(&c->gen, memory_order_relaxed) != gen)
            return MP__CT_RETRY;
        sn->cells[sn->ncells++] = (seen_cell){c, ver, word};
        sn->len += sizeof r + kp + vp;
        sn->n++;
    }
    return 0;
}

static void unlock_cells(snap *sn)
{
    while (sn->nlocked > 0)
        mp__ct_unlock(&sn->held[--sn->nlocked]->lock);
}

/* lock_cells locks every cell to hold: 0, or MP_ETIMEDOUT (then those it
 * took stay counted in nlocked, for unlock_cells). */
static int lock_cells(snap *sn, mp__ct_bound *b)
{
    for (; sn->nlocked < sn->nheld; sn->nlocked++)
        if (mp__cell_lock(sn->held[sn->nlocked], b) == MP_ETIMEDOUT)
            return MP_ETIMEDOUT;
    return 0;
}

static int by_address(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (mp__cell *const *)a, y = (uintptr_t) * (mp__cell *const *)b;
    return x < y ? -1 : x > y;
}

/* add_cells adds the first n cells of sn->cells to the cells to hold,
 * which must all be unlocked; 0 or MP_ENOMEM. */
static int add_cells(snap *sn, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!grow((void **)&sn->held, sn->nheld, &sn->held_cap, sizeof *sn->held))
            return MP_ENOMEM;
        sn->held[sn->nheld++] = sn->cells[i].c;
    }
    if (sn->nheld > 1) /* qsort's base may not be NULL, even for nothing */
        qsort(sn->held, sn->nheld, sizeof *sn->held, by_address);
    size_t u = 0;
    for (size_t i = 0; i < sn->nheld; i++)
        if (u == 0 || sn->held[u - 1] != sn->held[i])
            sn->held[u++] = sn->held[i];
    sn->nheld = u;
    return 0;
}

static void release_stripes(mp_dict *d, uint64_t *held)
{
    for (unsigned i = 0; i < MP__DICT_STRIPES; i++)
        if (*held & (1ull << i))
            mp__ct_unlock(&d->st[i].lock);
    *held = 0;
}

/* snap_take fills sn with a consistent snapshot (see the top of this
 * file). Returns 0, MP_ETIMEDOUT or MP_ENOMEM. */
static int snap_take(mp_dict *d, mp__ct_bound *b, snap *sn)
{
    uint64_t held = 0; /* bit i: we hold stripe i */
    uint64_t retired[MP__DICT_STRIPES], changes[MP__DICT_STRIPES];
    int rc = 0;
    for (unsigned pass = 0;; pass++) {
        uint64_t g = atomic_load_explicit(&d->clear_gen, memory_order_acquire);
        uint64_t moved = 0;
        for (unsigned i = 0; i < MP__DICT_STRIPES; i++) {
            retired[i] = mp__ct_begin(&d->st[i].retired);
            changes[i] = atomic_load_explicit(&d->st[i].changes, memory_order_acquire);
        }
        sn->len = sn->n = sn->ncells = sn->nfp = 0;
        for (unsigned i = 0; i < MP__DICT_STRIPES; i++) {
            sn->fp_at[i] = sn->nfp;
            rc = copy_stripe(&d->st[i], g, retired[i], changes[i] & 1, sn);
            if (rc == MP_ENOMEM)
                goto out_release;
            if (rc == MP__CT_RETRY)
                moved |= 1ull << i;
        }
        mp__fence(memory_order_acquire);
        for (unsigned i = 0; i < MP__DICT_STRIPES; i++) {
            mp__stripe *s = &d->st[i];
            if (moved & (1ull << i))
                continue; /* its words may not have been noted */
            if (atomic_load_explicit(&s->changes, memory_order_relaxed) != changes[i] ||
                ((changes[i] & 1) && !same_words(s, sn, sn->fp_at[i])) ||
                !mp__ct_valid(&s->retired, retired[i]))
                moved |= 1ull << i;
        }
        if (atomic_load_explicit(&d->clear_gen, memory_order_relaxed) != g)
            moved = ~0ull; /* a clear landed: it held every stripe, so we held none */
        /* The cells that moved. */
        size_t stuck = 0;
        for (size_t i = 0; i < sn->ncells; i++) {
            seen_cell *sc = &sn->cells[i];
            if (atomic_load_explicit(&sc->c->ver, memory_order_relaxed) != sc->ver ||
                atomic_load_explicit(&sc->c->val, memory_order_relaxed) != sc->v8)
                sn->cells[stuck++] = *sc;
        }
        if (moved == 0 && stuck == 0) {
            rc = 0;
            goto out_release;
        }
        if (pass + 1 < SNAP_TRIES)
            continue;
        /* Hold what moved, and keep holding it: stripes in stripe order
         * (letting go of all and starting again when one comes below one
         * held), then cells; never waiting for a stripe while holding a
         * cell. What is held only grows, so the passes end. */
        unlock_cells(sn);
        /* A part whose counter is odd now has a write in flight: if its
         * writer runs, it is even soon and held next time; if it is
         * stopped, the next pass gets past it without its lock. */
        for (unsigned i = 0; i < MP__DICT_STRIPES; i++)
            if (atomic_load_explicit(&d->st[i].changes, memory_order_relaxed) & 1)
                moved &= ~(1ull << i);
        size_t even = 0;
        for (size_t i = 0; i < stuck; i++)
            if (!(atomic_load_explicit(&sn->cells[i].c->ver, memory_order_relaxed) & 1))
                sn->cells[even++] = sn->cells[i];
        stuck = even;
        uint64_t need = moved & ~held;
        if (held != 0 && need != 0 && __builtin_ctzll(need) < 63 - __builtin_clzll(held)) {
            need |= held;
            release_stripes(d, &held);
        }
        for (unsigned i = 0; i < MP__DICT_STRIPES; i++) {
            if (!(need & (1ull << i)))
                continue;
            if ((rc = mp__dict_wlock(d, &d->st[i], b)) != 0)
                goto out_release;
            held |= 1ull << i;
        }
        if ((rc = add_cells(sn, stuck)) != 0 || (rc = lock_cells(sn, b)) != 0)
            goto out_release;
    }
out_release:
    unlock_cells(sn);
    release_stripes(d, &held);
    return rc;
}

static int by_seq(const void *a, const void *b)
{
    uint64_t x, y;
    memcpy(&x, *(const unsigned char *const *)a, 8);
    memcpy(&y, *(const unsigned char *const *)b, 8);
    return x < y ? -1 : x > y;
}

MP_EXTERN int mp_dict_items_timed(mp_dict *d,
                                  int (*fn)(const void *key, size_t klen, const void *val,
                                            size_t vlen, void *ud),
                                  void *ud, double timeout)
{
    if (!mp__dict_valid(d) || fn == NULL || isnan(timeout))
        return MP_EINVAL;
    mp__ct_bound b = mp__ct_bound_of(timeout);
    snap sn = {0};
    const unsigned char **order = NULL;
    int rc = snap_take(d, &b, &sn);
    if (rc != 0)
        goto out_free;
    order = malloc((sn.n > 0 ? sn.n : 1) * sizeof *order);
    if (order == NULL) {
        rc = MP_ENOMEM;
        goto out_free;
    }
    for (size_t i = 0, off = 0; i < sn.n; i++) {
        rec r;
        memcpy(&r, sn.buf + off, sizeof r);
        order[i] = sn.buf + off;
        off += sizeof r + pad8(r.klen) + pad8(r.vlen);
    }
    qsort(order, sn.n, sizeof *order, by_seq);
    for (size_t i = 0; i < sn.n && rc == 0; i++) {
        rec r;
        memcpy(&r, order[i], sizeof r);
        const unsigned char *k = order[i] + sizeof r;
        rc = fn(k, (size_t)r.klen, k + pad8(r.klen), (size_t)r.vlen, ud);
    }
out_free:
    free(order);
    free(sn.buf);
    free(sn.cells);
    free(sn.held);
    free(sn.fp);
    return rc;
}

MP_EXTERN int mp_dict_items(mp_dict *d,
                            int (*fn)(const void *key, size_t klen, const void *val, size_t vlen,
                                      void *ud),
                            void *ud)
{
    return mp_dict_items_timed(d, fn, ud, MP_DICT_TIMEOUT);
}
