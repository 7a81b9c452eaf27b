/* fetcher: the fetcher thread (its API is named sf_upstream_). It owns the curl multi handle
 * and every easy handle; other threads hand it work through a locked queue and
 * curl_multi_wakeup(). Its transfers (transfer.c) fill objects (publish, append, finish);
 * the loop wakes their parked readers once per pass, enforces the transfers' deadlines,
 * and polls the hangup watcher. */
#ifndef SF_FETCHER_H
#define SF_FETCHER_H

#include "base.h"

struct sf_cache;
struct sf_fetch_spec; /* fetchspec.h */
struct sf_hangup;
struct sf_obj;
struct sf_pools; /* pool.h */
struct sf_snap;

struct sf_upstream;

/* Starts the fetcher thread; snap is the config at start (checked here for the upstream's
 * TLS). Each fetch then runs with the settings of the snapshot its spec pinned, on the
 * pools (pool.h) bound to it in pools. cache, pools and hangup must outlive it. NULL on
 * failure. */
struct sf_upstream *sf_upstream_start(struct sf_snap *snap, struct sf_cache *cache,
                                      struct sf_pools *pools, struct sf_hangup *hangup);

/* sfproxy's own listening ports, which forward-proxy fetches never connect to
 * (SF_SELF_PORTS of them; they must outlive up). Before any fetch. */
void sf_upstream_set_self_ports(struct sf_upstream *up, const _Atomic uint16_t *self_ports);

/* Fetches spec into o, which must be PENDING. Takes over *spec and a reference on o. If
 * the fetcher is shutting down, o fails at once (SF_FAIL_CANCELLED). Any thread. */
void sf_upstream_submit(struct sf_upstream *up, struct sf_obj *o, struct sf_fetch_spec **spec);

/* Asks the fetcher to drop o's transfer if, when it looks, no client is attached and the
 * response is not worth finishing. Any thread. */
void sf_upstream_cancel(struct sf_upstream *up, struct sf_obj *o);

/* The request content of o's transfer has more bytes (or its end) for a paused read.
 * Any thread. */
void sf_upstream_unpause(struct sf_upstream *up, struct sf_obj *o);

/* Fails every transfer (waking every waiter) and every later submission. Any thread. */
void sf_upstream_abort_all(struct sf_upstream *up);

/* Stops the thread and frees everything. Transfers still running are failed first. */
void sf_upstream_stop(struct sf_upstream *up);

#endif
