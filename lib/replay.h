/* replay: which signed peer requests were seen already (issue 18). A signed request is good
 * for a window of time (clock skew between nodes); within it, the same request sent again
 * (captured on the way, or replayed by whoever saw it) must not count as a peer's twice.
 * Each verified request is remembered by 64 bits of its signature until its window ends.
 *
 * Memory is fixed at creation: buckets of SF_REPLAY_WAYS entries, each request kept in the
 * emptier of two buckets chosen by its tag (two choices keep the buckets even, so the set
 * fills close to its capacity before any bucket does). An entry whose window has ended is
 * free again. When both of a request's buckets are full of live entries, the set refuses
 * it (SF_REPLAY_FULL) rather than forget one still in its window: the caller treats the
 * request as unproven.
 *
 * Threads: any; one mutex of its own, held for a few dozen comparisons. */
#ifndef SF_REPLAY_H
#define SF_REPLAY_H

#include "base.h"

#define SF_REPLAY_WAYS 16

enum sf_replay_verdict {
    SF_REPLAY_FRESH, /* not seen before: remembered now */
    SF_REPLAY_SEEN,  /* seen within its window: a replay */
    SF_REPLAY_FULL,  /* not seen, but there is no room to remember it: refused */
};

struct sf_replay;

/* A set with room for at least capacity requests (rounded up to whole buckets). */
struct sf_replay *sf_replay_new(size_t capacity) SF_NONNULL_RESULT;
void sf_replay_free(struct sf_replay *rs);

/* Looks tag up and, when it is fresh, keeps it until until_s (the end of its window); now_s
 * is the same clock's now. */
enum sf_replay_verdict sf_replay_admit(struct sf_replay *rs, uint64_t tag, int64_t until_s,
                                       int64_t now_s);

#endif
