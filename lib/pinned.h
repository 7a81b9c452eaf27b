/* pinned: the memory clients pin outside the cache, bounded by cache.max_pinned_bytes.
 *
 * A reader holds a reference to the object it reads until its response ends. While the
 * object is stored, its bytes are the cache's and cache.max_bytes bounds them; once it is
 * evicted or replaced (or while it is a flight, not stored yet, or a response that will
 * never be stored) they are held for its readers alone, and a client that never reads
 * would hold them until timeouts.client_idle: forty such clients on forty 4 MiB objects
 * held 160 MiB beside a 4 MiB cache. So what readers pin is charged: each object that is
 * not stored and has a reader that was not shed counts its body's allocated bytes once,
 * however many readers it has (bodies that are not stored and not joinable are trimmed to
 * what their readers have yet to read, SF_OBJ_LAG_MAX, so they count that little); so
 * does a flight all of whose clients left, fetched for the cache alone (as a reader idle
 * SF_PINNED_IDLE_MIN_MS), and a stored body sent whole once it is evicted (see
 * SF_PINNED_HIT_MIN). When
 * the total passes the budget, the readers that pin the most idle objects are shed: their
 * connections are closed (a truncated response the client can detect), their references
 * go with them, and a flight of theirs that is not stored yet is given up (fetching for
 * nobody would keep its bytes). An object is shed as a whole, as only that frees it; the
 * order is by how long its most recently active reader has taken no bytes while there
 * were bytes for it (a parked reader waits for us, and is not idle), then by how far that
 * reader is behind. Only objects idle for SF_PINNED_IDLE_MIN_MS are shed to bring the
 * total down to the budget, so that a burst of new clients is not mistaken for slow
 * ones before they had a chance to read; past twice the budget, the rest go in the same
 * order. So what readers pin stays under twice the budget, and under the budget once the
 * idle ones are known.
 *
 * The pass runs on the fetcher thread: at most every SF_PINNED_PERIOD_MS, and sooner once
 * the bodies fetched since the last pass reach an eighth of the budget, so memory cannot
 * run far past the budget between two passes. It costs one table lock and one object lock
 * per object that has readers. Lock order: table -> object; no lock is held across. */
#ifndef SF_PINNED_H
#define SF_PINNED_H

#include "base.h"

struct sf_cache;
struct sf_obj;
struct sf_waiter;

#define SF_PINNED_PERIOD_MS 100
#define SF_PINNED_IDLE_MIN_MS 200

/* One object readers pin, as the choice sees it. */
struct sf_pinned_cand {
    uint64_t bytes;   /* its body's allocated bytes */
    uint64_t idle_ms; /* since its most recently active reader last made progress */
    uint64_t behind;  /* how far that reader is behind what is there, in bytes */
    size_t id;        /* the caller's, kept with it */
    bool shed;        /* set by sf_pinned_choose */
};

/* Pure. Marks which of c[0..n) to shed so that what the rest pin is at most budget, among
 * those idle for SF_PINNED_IDLE_MIN_MS, and at most twice the budget in any case: the most
 * idle first, then the furthest behind, then the largest. (Twice the budget is a hard
 * bound: readers of flights still filling the cache are cut past it too, so the budget is
 * to be sized for the large cold misses expected at once; a bound that waited for them to
 * go idle would let a stream of new non-reading clients pin connections times
 * max_object_bytes.) Returns what is pinned
 * before shedding (the sum of bytes); *kept receives what remains. c is reordered. */
uint64_t sf_pinned_choose(struct sf_pinned_cand *c, size_t n, uint64_t budget, uint64_t *kept);

/* A stored body of at least this many bytes, sent to a client whole (zero-copy), is
 * watched as if read: its object is charged once it is evicted while sent, and the
 * client, whose progress its socket tells (bytes acknowledged), can be shed. Smaller ones
 * are not worth a lock per hit: a client pins at most this much by them. */
#define SF_PINNED_HIT_MIN (64u << 10)

/* Attaches w (a request about to be answered from o, a stored response) as a reader of o
 * when o's body is at least SF_PINNED_HIT_MIN; true if it did (the caller then holds a
 * reference for it, and detaches it when the request ends, as any reader). Any thread. */
bool sf_pinned_watch_hit(struct sf_obj *o, struct sf_waiter *w);

/* Notes len body bytes appended by the fetcher. Runs on: the fetcher thread. */
void sf_pinned_grew(size_t len);
/* Whether the last pass left more pinned than the budget (readers not idle long enough
 * to be shed yet): the fetcher then comes back within SF_PINNED_PERIOD_MS. Fetcher. */
bool sf_pinned_over(void);
/* Stops the transfer of o, a flight given up (the fetcher's sf_upstream_cancel: it drops
 * the fetch once nobody is attached). */
typedef void sf_pinned_cancel_cb(void *arg, struct sf_obj *o);
/* Runs the pass when it is due (see above), against budget (cache.max_pinned_bytes);
 * flights it gives up are cancelled through cancel (with arg).
 * Runs on: the fetcher thread, with no lock held. */
void sf_pinned_tick(struct sf_cache *c, uint64_t budget, sf_pinned_cancel_cb *cancel, void *arg);

#endif
