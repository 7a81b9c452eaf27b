/* live: the config in force. A reload replaces it whole; what began under the old one
 * keeps it. A request pins the snapshot current when it arrives and reads every setting
 * from it for its whole life, and so does each upstream fetch: a reload never changes a
 * running request's timeouts or limits halfway, and a snapshot is freed when the last
 * request, fetch and holder that pinned it lets go.
 *
 * Threads: pinning and replacing take a short lock of their own (a pointer and a count);
 * a pinned snapshot is immutable and read without one. */
#ifndef SF_LIVE_H
#define SF_LIVE_H

#include "config.h"

struct sf_snap {
    atomic_uint _refs;
    unsigned gen; /* 1 for the config at start, one more per reload (set when in force) */
    struct sf_config cfg;
    /* What this config's cluster peers have shown (the one mutable part): until when each
     * of cluster.peers, by index, is skipped because it could not be reached. */
    _Atomic uint64_t peer_down_until_ms[SF_CLUSTER_MAX_PEERS];
};

struct sf_live;

/* A snapshot of *cfg, taken over (*cfg is left zeroed), not yet in force: a reload
 * prepares what it needs (listeners) with it first. The caller holds its reference. */
struct sf_snap *sf_snap_new(struct sf_config *cfg) SF_NONNULL_RESULT;
/* The config in force is *cfg, taken over (*cfg is left zeroed). */
struct sf_live *sf_live_new(struct sf_config *cfg);
/* The snapshot in force, with a reference. Any thread. */
struct sf_snap *sf_live_pin(struct sf_live *live) SF_NONNULL_RESULT;
/* Another reference on s. */
struct sf_snap *sf_snap_ref(struct sf_snap *s);
/* Gives a reference back (NULL is fine); the last frees s and its config. */
void sf_snap_unref(struct sf_snap *s);
/* snap (the caller's reference is taken over) is in force from now on; requests that
 * pinned the one before keep it. Returns its generation. */
unsigned sf_live_replace(struct sf_live *live, struct sf_snap **snap);
/* Drops the holder's reference; snapshots still pinned live on until let go. */
void sf_live_free(struct sf_live *live);

#endif
