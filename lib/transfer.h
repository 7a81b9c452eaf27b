/* transfer: one upstream transfer's life, on the fetcher thread: its easy handle set up from
 * a fetch spec, the origin's head read and checked (resphead.c), judged (judge.c) and
 * carried out (publish.c), the body appended to its object, its deadlines, its end (the
 * object settled in the cache), and the fall back to the next cluster peer. A transfer
 * reaches the loop that runs it (fetcher.c) only through struct sf_transfers: the cache,
 * the multi handle, the log limits, and the transfers it keeps. Curl handles never leave
 * the fetcher thread; every function here runs on it unless its comment says otherwise. */
#ifndef SF_TRANSFER_H
#define SF_TRANSFER_H

#include "pinned.h"

struct sf_cache;
struct sf_config;
struct sf_fetch_spec; /* fetchspec.h */
struct sf_pools;      /* pool.h */
struct sf_snap;

#include <curl/curl.h>

/* The transfers a loop runs, and what they share with it: the cache, the multi handle, the
 * log limits, the settings of the newest config, a way to queue a cancel. */
struct sf_transfers;
struct sf_transfer;

/* The transfers of a loop whose first config is snap (checked here for the upstream's TLS),
 * on the pools of pools (pool.h); NULL on failure. cache, pools and multi must outlive them;
 * cancel(cancel_arg, o) must queue a
 * cancel of o's transfer for a later pass (sf_upstream_cancel). Runs on: the thread that
 * starts the fetcher, before its thread exists. */
struct sf_transfers *sf_transfers_new(struct sf_snap *snap, struct sf_cache *cache,
                                      struct sf_pools *pools, CURLM *multi,
                                      sf_pinned_cancel_cb *cancel, void *cancel_arg);

/* sfproxy's own listening ports (fetcher.h: sf_upstream_set_self_ports). Runs on: any
 * thread, before the first fetch. */
void sf_transfers_set_self_ports(struct sf_transfers *t, const _Atomic uint16_t *self_ports);

/* Frees t; no transfer may be running. NULL is fine. Runs on: the thread that stops the
 * fetcher, after its thread has ended. */
void sf_transfers_free(struct sf_transfers *t);

/* The newest config the transfers have seen (borrowed until the next transfer starts). */
const struct sf_config *sf_transfers_config(const struct sf_transfers *t);

/* Starts fetching spec into o; takes over spec and the caller's reference on o. A transfer
 * that cannot start fails o at once. */
void sf_transfer_start(struct sf_transfers *t, struct sf_obj *o, struct sf_fetch_spec *spec);

/* A submission that will not become a transfer: fails o (SF_FAIL_CANCELLED), lets its
 * uploader go, and releases spec and the caller's reference on o. */
void sf_transfer_fail_unstarted(struct sf_transfers *t, struct sf_obj *o,
                                struct sf_fetch_spec *spec);

/* o's request content has more bytes (or its end): its paused transfer, if any, goes on. */
void sf_transfer_unpause(struct sf_transfers *t, struct sf_obj *o);

/* Drops o's transfer, if any, when no client wants it any more (sf_upstream_cancel). */
void sf_transfer_cancel_unwanted(struct sf_transfers *t, struct sf_obj *o);

/* curl reported easy's transfer done with rc: it ends (or falls back to the next node). */
void sf_transfer_done(struct sf_transfers *t, CURL *easy, CURLcode rc);

/* Wakes the readers of every transfer that received data since the last call. */
void sf_transfers_wake(struct sf_transfers *t);

/* Fails transfers past their deadlines; returns ms until the next one (at most 1000). */
long sf_transfers_enforce_deadlines(struct sf_transfers *t);

/* The first of the running transfers, or NULL. */
struct sf_transfer *sf_transfers_first(struct sf_transfers *t);

/* Ends x as cancelled (SF_FAIL_CANCELLED; why for the log); x is freed. A cluster peer's
 * answer refused before its head (peerhop.h) still falls back: the same fetch starts again
 * at the next node, a new transfer at the end of the running ones. */
void sf_transfer_cancel(struct sf_transfer *x, const char *why);

#endif
