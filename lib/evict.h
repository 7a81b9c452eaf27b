/* evict: the cache's eviction policy, S3-FIFO by bytes (Yang et al., "FIFO queues are all
 * you need for cache eviction", SOSP 2023) made size-aware, pure: it knows nodes, charges
 * and 64-bit key hashes, never entries, keys or locks (the table embeds a node in each
 * charged entry and calls these under its lock). The cache saves origin fetches, which
 * are counted per request, not per byte: many small responses kept beat a few large ones,
 * so each part is a FIFO per size class (the charge's bit length) and the victim is chosen
 * among the classes' oldest by size and age.
 *   - A new node enters small (SF_EVICT_SMALL_SHARE of the byte limit), unless the ghost
 *     remembers its key: then it enters main.
 *   - A hit only counts (a 2-bit frequency, at most 3): no list moves, so a hit costs
 *     less than LRU's move to the front.
 *   - Eviction takes from small while small is over its share and holds more than its
 *     newest node (never chosen while others are there: a node larger than small's share
 *     would otherwise leave at the store that brought it), or while main has nothing.
 *     There, each class's oldest node that was asked again moves to main (its count
 *     cleared); of the classes' oldest nodes the one with the largest charge^4 * age
 *     leaves, and its key hash goes to the ghost (one-hit wonders, a crawler's scan, leave
 *     from here without touching main; a large one leaves long before a small one).
 *     Otherwise from main: each class's oldest node asked again since it last passed goes
 *     round (to its class's newest end), its count less one; of the classes' oldest the one
 *     with the largest charge * age leaves. Age: insertions since the node entered its
 *     queue (a 32-bit clock).
 *   - The ghost: the hashes of keys evicted from small, FIFO, at most as many as the cache
 *     holds nodes (at least SF_EVICT_GHOST_MIN): a key asked again soon after it left
 *     small was evicted too early. A ring plus an open-addressed set, 40 bytes per slot,
 *     not charged to the cache (like the table's buckets).
 * Eviction is O(1): it looks at most at the SF_EVICT_CLASSES classes' oldest nodes of one
 * part (a bitmask says which are not empty), makes at most SF_EVICT_MAX_STEPS moves, and
 * amortised each pass over a node in main spends one of its at most 3 counts. Nothing here
 * allocates but the ghost's growth (doubling, rebuilt under the caller's lock, like the
 * table's buckets). The ghost's set is probed by the table's keyed hash (siphash.h), so
 * clients cannot make its keys collide into one long probe. A node is 48 bytes (the plain
 * S3-FIFO's was 40): its 64-bit clock; its size class fits the padding. */
#ifndef SF_EVICT_H
#define SF_EVICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Small's share of the byte limit, in percent (the paper's 10% for one FIFO; with sizes
 * weighed, 30% did best on scripts/trace_bench.py's traces, docs/performance.md). */
#define SF_EVICT_SMALL_SHARE 30
/* Size classes: a charge's bit length, 0 .. 31 (charges of 1 GiB and more share the last). */
#define SF_EVICT_CLASSES 32
/* The ghost's least room, in key hashes. */
#define SF_EVICT_GHOST_MIN 256
/* The most moves (to main, or round main) one eviction makes before main's classes' oldest
 * are weighed whatever their count (small's are weighed only when not asked again, so with
 * the moves spent, main gives): a main of a million nodes all asked 3 times would otherwise be
 * walked three times round under the table lock. Simulated on scripts/trace_bench.py's
 * traces, the bound changed their fetches by under 0.01%. */
#define SF_EVICT_MAX_STEPS 64

enum sf_evict_queue {
    SF_EVICT_NONE, /* not in the policy */
    SF_EVICT_SMALL,
    SF_EVICT_MAIN,
};

/* A charged thing's place in the policy; embedded in it (struct sf_entry). */
struct sf_evict_node {
    struct sf_evict_node *prev, *next; /* in its queue: next is newer */
    size_t charge;                     /* bytes counted against the limit */
    uint64_t hash;                     /* its key's */
    uint64_t since;                    /* the policy's clock when it entered its queue */
    uint8_t freq;                      /* hits since it came or last passed, at most 3 */
    uint8_t queue;                     /* enum sf_evict_queue */
    uint8_t size_class;                /* its charge's bit length, at most 31 (evict.c) */
    bool evicted;                      /* sf_evict_victim chose it (it leaves next) */
};

/* The ghost: a FIFO ring of key hashes and a set of them, by hash. */
struct sf_evict_ghost {
    uint64_t *ring;  /* cap hashes, by sequence number modulo cap */
    size_t cap;      /* a power of two */
    uint64_t pushed; /* sequence number of the next hash pushed */
    size_t n;        /* hashes in the ring, the newest n (some may be taken) */
    struct sf_evict_slot {
        uint64_t hash; /* 0: empty */
        uint64_t seq;  /* where in the ring */
    } * set;           /* 2 * cap slots, linear probing */
};

struct sf_evict {
    /* Sentinels, one per size class: next is the oldest. */
    struct sf_evict_node small[SF_EVICT_CLASSES], main[SF_EVICT_CLASSES];
    uint32_t small_used, main_used; /* bit c: class c not empty */
    uint64_t small_bytes, main_bytes;
    size_t count;                 /* nodes in small and main */
    size_t small_count;           /* nodes in small */
    struct sf_evict_node *newest; /* small's newest node, while it is there */
    /* The clock: insertions. 64 bits: a 32-bit one wraps after 2^32 stores (12 hours at
     * 100k a second), and an entry that old would then weigh as a new one. */
    uint64_t now;
    struct sf_evict_ghost ghost;
    uint64_t evicted_small; /* nodes evicted from small (their key to the ghost) */
    uint64_t evicted_main;  /* nodes evicted from main */
    uint64_t promoted;      /* nodes moved from small to main, asked again there */
    uint64_t ghost_hits;    /* nodes inserted into main because the ghost had their key */
};

void sf_evict_init(struct sf_evict *p);
/* Frees the ghost; the nodes are the caller's, and are not touched. */
void sf_evict_fini(struct sf_evict *p);

/* n (in no queue) comes in, charged charge, its key's hash hash: into main if the ghost
 * has hash (taken from it), else into small. */
void sf_evict_insert(struct sf_evict *p, struct sf_evict_node *n, uint64_t hash, size_t charge);
/* n, in a queue, was asked for again. */
void sf_evict_hit(struct sf_evict_node *n);
/* n leaves its queue, not evicted (a marker replaced or expired): the ghost is not told. */
void sf_evict_remove(struct sf_evict *p, struct sf_evict_node *n);
/* n, a stored response, leaves its queue: when the policy did not choose it (a response
 * replaced by its refresh or a HEAD's update, one set back after a failed refresh, one
 * purged) and it had standing (in main, or asked again in small), its key goes to the
 * ghost, so that the response stored next under it enters main with the standing it had.
 * Chosen by sf_evict_victim, as sf_evict_remove. */
void sf_evict_retire(struct sf_evict *p, struct sf_evict_node *n);
/* The node to evict next under a limit of max_bytes, after the moves the policy makes on
 * the way (promotions, reinsertions); NULL when both queues are empty. It is still in its
 * queue (counted as evicted, its hash in the ghost if from small): the caller removes it
 * with sf_evict_remove. */
struct sf_evict_node *sf_evict_victim(struct sf_evict *p, uint64_t max_bytes);

/* A charged entry's share of the ghost's memory, for the cache's charge: the ghost keeps as
 * many key hashes as the cache holds nodes and doubles, so its ring and set are 1 to 2
 * slots per entry, 1.5 on average. (Resident once evictions have filled it.) */
size_t sf_evict_entry_share(void);

/* Whether the ghost has hash (for tests; nothing is taken). */
bool sf_evict_ghost_has(const struct sf_evict *p, uint64_t hash);

#endif
