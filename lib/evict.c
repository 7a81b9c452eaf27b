/* evict: see evict.h. A circular list with a sentinel per size class and part (the FIFOs),
 * a bitmask per part of the classes not empty, and the ghost. The
 * ghost's ring holds every hash pushed, the newest n; its set says which of them are
 * still there and where (a hash taken by a ghost hit leaves the set and stays in the ring
 * as a stale slot; the ring's oldest slot, when pushed out, leaves the set only if the set
 * still points at it). Runs under the caller's lock (the table's); owns only the ghost's
 * memory. */
#include "evict.h"

#include "base.h"

#include <stdlib.h>

static void queue_init(struct sf_evict_node *q)
{
    q->prev = q->next = q;
}

static void queue_push(struct sf_evict_node *q, struct sf_evict_node *n)
{
    n->next = q;
    n->prev = q->prev;
    q->prev->next = n;
    q->prev = n;
}

static void queue_unlink(struct sf_evict_node *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = NULL;
}

/* The ghost's set: linear probing over 2 * cap slots, hash 0 marking an empty slot (a key
 * whose hash is 0 is remembered as 1). */
static uint64_t nonzero(uint64_t hash)
{
    return hash != 0 ? hash : 1;
}

static size_t set_find(const struct sf_evict_ghost *g, uint64_t hash)
{
    size_t mask = 2 * g->cap - 1;
    size_t i = hash & mask;
    while (g->set[i].hash != 0 && g->set[i].hash != hash)
        i = (i + 1) & mask;
    return i;
}

/* Empties slot i, shifting back the slots after it that probed past it. */
static void set_delete(struct sf_evict_ghost *g, size_t i)
{
    size_t mask = 2 * g->cap - 1;
    for (size_t j = (i + 1) & mask; g->set[j].hash != 0; j = (j + 1) & mask) {
        size_t home = g->set[j].hash & mask;
        /* The slot at j stays unless its home lies cyclically outside (i, j]. */
        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (!stays) {
            g->set[i] = g->set[j];
            i = j;
        }
    }
    g->set[i].hash = 0;
}

static void ghost_alloc(struct sf_evict_ghost *g, size_t cap)
{
    g->cap = cap;
    g->ring = sf_xcalloc(cap, sizeof *g->ring);
    g->set = sf_xcalloc(2 * cap, sizeof *g->set);
    g->pushed = 0;
    g->n = 0;
}

/* The oldest hash leaves the ring, and the set if the set still points at its slot. */
static void ghost_pop(struct sf_evict_ghost *g)
{
    uint64_t seq = g->pushed - g->n;
    uint64_t hash = g->ring[seq & (g->cap - 1)];
    size_t i = set_find(g, hash);
    if (g->set[i].hash == hash && g->set[i].seq == seq)
        set_delete(g, i);
    g->n--;
}

/* Pushes hash, the oldest leaving first while limit (at most cap) are there: at most
 * SF_EVICT_MAX_STEPS of them beyond what the ring's room needs, so that a cache that
 * shrank (purges, a lower limit) trims its ghost over several evictions, not all of it
 * under the table lock at once. */
static void ghost_push(struct sf_evict_ghost *g, uint64_t hash, size_t limit)
{
    unsigned extra = SF_EVICT_MAX_STEPS;
    while (g->n > 0 && (g->n >= g->cap || (g->n >= limit && extra > 0))) {
        if (g->n < g->cap)
            extra--;
        ghost_pop(g);
    }
    size_t i = set_find(g, hash);
    g->set[i].hash = hash; /* a hash there already: its newer place */
    g->set[i].seq = g->pushed;
    g->ring[g->pushed & (g->cap - 1)] = hash;
    g->pushed++;
    g->n++;
}

/* Doubles the ghost's room, keeping the hashes still in it in their order. */
static void ghost_grow(struct sf_evict_ghost *g)
{
    struct sf_evict_ghost old = *g;
    ghost_alloc(g, old.cap * 2);
    for (uint64_t seq = old.pushed - old.n; seq != old.pushed; seq++) {
        uint64_t hash = old.ring[seq & (old.cap - 1)];
        size_t i = set_find(&old, hash);
        if (old.set[i].hash == hash && old.set[i].seq == seq)
            ghost_push(g, hash, g->cap);
    }
    free(old.ring);
    free(old.set);
}

void sf_evict_init(struct sf_evict *p)
{
    *p = (struct sf_evict){0};
    for (int c = 0; c < SF_EVICT_CLASSES; c++) {
        queue_init(&p->small[c]);
        queue_init(&p->main[c]);
    }
    ghost_alloc(&p->ghost, SF_EVICT_GHOST_MIN);
}

void sf_evict_fini(struct sf_evict *p)
{
    free(p->ghost.ring);
    free(p->ghost.set);
    p->ghost.ring = NULL;
    p->ghost.set = NULL;
}

bool sf_evict_ghost_has(const struct sf_evict *p, uint64_t hash)
{
    hash = nonzero(hash);
    return p->ghost.set[set_find(&p->ghost, hash)].hash == hash;
}

/* A charge's size class: its bit length, the largest charges sharing the last class. */
static unsigned size_class(size_t charge)
{
    unsigned c = 0;
    while (charge != 0 && c < SF_EVICT_CLASSES - 1) {
        charge >>= 1;
        c++;
    }
    return c;
}

/* n joins queue's newest end in its class, its age starting now. */
static void enqueue(struct sf_evict *p, struct sf_evict_node *n, enum sf_evict_queue queue)
{
    unsigned c = n->size_class;
    n->queue = (uint8_t)queue;
    n->since = p->now;
    if (queue == SF_EVICT_SMALL) {
        queue_push(&p->small[c], n);
        p->small_used |= UINT32_C(1) << c;
        p->small_bytes += n->charge;
        p->small_count++;
        p->newest = n;
    } else {
        queue_push(&p->main[c], n);
        p->main_used |= UINT32_C(1) << c;
        p->main_bytes += n->charge;
    }
}

static void dequeue(struct sf_evict *p, struct sf_evict_node *n)
{
    SF_ASSERT(n->queue == SF_EVICT_SMALL || n->queue == SF_EVICT_MAIN);
    unsigned c = n->size_class;
    bool small = n->queue == SF_EVICT_SMALL;
    struct sf_evict_node *q = small ? &p->small[c] : &p->main[c];
    if (small) {
        p->small_bytes -= n->charge;
        p->small_count--;
        if (p->newest == n)
            p->newest = NULL;
    } else {
        p->main_bytes -= n->charge;
    }
    queue_unlink(n);
    n->queue = SF_EVICT_NONE;
    if (q->next == q)
        *(small ? &p->small_used : &p->main_used) &= ~(UINT32_C(1) << c);
}

void sf_evict_insert(struct sf_evict *p, struct sf_evict_node *n, uint64_t hash, size_t charge)
{
    SF_ASSERT(n->queue == SF_EVICT_NONE);
    n->hash = nonzero(hash);
    n->charge = charge;
    n->size_class = (uint8_t)size_class(charge); /* kept: it leaves the class it joined */
    n->freq = 0;
    n->evicted = false;
    p->now++;
    struct sf_evict_ghost *g = &p->ghost;
    size_t i = set_find(g, n->hash);
    bool remembered = g->set[i].hash == n->hash;
    if (remembered) {
        set_delete(g, i); /* its ring slot goes stale */
        p->ghost_hits++;
    }
    enqueue(p, n, remembered ? SF_EVICT_MAIN : SF_EVICT_SMALL);
    p->count++;
    if (p->count > g->cap)
        ghost_grow(g); /* the ghost remembers as many keys as the cache holds */
}

void sf_evict_hit(struct sf_evict_node *n)
{
    SF_ASSERT(n->queue != SF_EVICT_NONE);
    if (n->freq < 3)
        n->freq++;
}

void sf_evict_remove(struct sf_evict *p, struct sf_evict_node *n)
{
    dequeue(p, n);
    p->count--;
}

size_t sf_evict_entry_share(void)
{
    size_t slot = sizeof(uint64_t) + 2 * sizeof(struct sf_evict_slot); /* ring + set */
    return slot * 3 / 2;
}

/* The ghost's room for keys once one node is out: as many as the cache then holds, at
 * least SF_EVICT_GHOST_MIN. */
static size_t ghost_limit(const struct sf_evict *p)
{
    size_t held = p->count - 1;
    return held > SF_EVICT_GHOST_MIN ? held : SF_EVICT_GHOST_MIN;
}

void sf_evict_retire(struct sf_evict *p, struct sf_evict_node *n)
{
    SF_ASSERT(n->queue != SF_EVICT_NONE);
    if (!n->evicted && (n->queue == SF_EVICT_MAIN || n->freq > 0))
        ghost_push(&p->ghost, n->hash, ghost_limit(p));
    sf_evict_remove(p, n);
}

/* Whether small gives the next victim: while main has nothing, or while small is over its
 * share and holds more than its newest node. The newest is not chosen while others are
 * there: a node larger than small's whole share (a 12 MB body in a 16 MiB cache) would
 * otherwise leave at the very store that brought it, before anyone could ask for it
 * again; alone, it leaves while main can give only when it could never fit. */
static bool small_gives(const struct sf_evict *p, uint64_t small_max, uint64_t max_bytes)
{
    if (p->small_count == 0)
        return false;
    bool newest_fits = p->newest == NULL || p->newest->charge <= max_bytes;
    return p->main_used == 0 ||
           (p->small_bytes > small_max && (p->small_count > 1 || !newest_fits));
}

/* Whether small's newest node (p->newest, not NULL) is passed over when small's victim is
 * chosen: while small holds others, or while main can give and the newest could fit at all. */
static bool newest_stays(const struct sf_evict *p, uint64_t max_bytes)
{
    return p->small_count > 1 || (p->main_used != 0 && p->newest->charge <= max_bytes);
}

/* A class's oldest node's claim to leave: its charge to the power (1 or 4) times its age.
 * In double: a charge of 2^31 to the 4th times 2^64 is far inside its range, and the same
 * IEEE operations in the same order give scripts/tracesim.py the same choices. */
static double weight(const struct sf_evict *p, const struct sf_evict_node *n, int power)
{
    double c = (double)n->charge;
    double w = power == 4 ? c * c * c * c : c;
    return w * (double)(p->now - n->since);
}

/* A class's oldest node that was asked again moves on before the choice (a step of
 * *steps each): from small to main, its count cleared; in main round to its class's
 * newest end, its count less one. */
static void pass_asked(struct sf_evict *p, struct sf_evict_node *q, unsigned *steps)
{
    while (*steps > 0 && q->next != q && q->next->freq > 0) {
        struct sf_evict_node *n = q->next;
        enum sf_evict_queue from = (enum sf_evict_queue)n->queue;
        dequeue(p, n);
        if (from == SF_EVICT_SMALL) {
            n->freq = 0;
            p->promoted++;
        } else {
            n->freq--;
        }
        enqueue(p, n, SF_EVICT_MAIN);
        (*steps)--;
    }
}

/* Of one part's classes (in ascending order, ties to the lower), the oldest node with the
 * largest weight, once those asked again moved on; small's newest is passed over as
 * newest_stays says. NULL when the part has nothing left to choose. */
static struct sf_evict_node *pick(struct sf_evict *p, struct sf_evict_node *part, uint32_t *used,
                                  int power, uint64_t max_bytes, unsigned *steps)
{
    struct sf_evict_node *best = NULL;
    double best_w = -1.0;
    for (unsigned c = 0; c < SF_EVICT_CLASSES; c++) {
        if (!(*used & (UINT32_C(1) << c)))
            continue;
        struct sf_evict_node *q = &part[c];
        pass_asked(p, q, steps);
        struct sf_evict_node *oldest = q->next; /* a class's list: never NULL, q when empty */
        if (oldest == q || (p->newest != NULL && oldest == p->newest && newest_stays(p, max_bytes)))
            continue;
        /* Moves spent: a node of small asked again is not evicted (it would have moved to
         * main); small may then give nothing, and main gives. */
        if (oldest->queue == SF_EVICT_SMALL && oldest->freq > 0)
            continue;
        double w = weight(p, oldest, power);
        if (best == NULL || w > best_w) {
            best = oldest;
            best_w = w;
        }
    }
    return best;
}

struct sf_evict_node *sf_evict_victim(struct sf_evict *p, uint64_t max_bytes)
{
    unsigned steps = SF_EVICT_MAX_STEPS;
    if (small_gives(p, max_bytes * SF_EVICT_SMALL_SHARE / 100, max_bytes)) {
        struct sf_evict_node *n = pick(p, p->small, &p->small_used, 4, max_bytes, &steps);
        if (n != NULL) {
            ghost_push(&p->ghost, n->hash, ghost_limit(p));
            p->evicted_small++;
            n->evicted = true;
            return n;
        }
    }
    struct sf_evict_node *n = pick(p, p->main, &p->main_used, 1, max_bytes, &steps);
    if (n != NULL) {
        p->evicted_main++;
        n->evicted = true;
    }
    return n;
}
