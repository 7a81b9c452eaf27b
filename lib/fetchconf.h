/* fetchconf: what upstream transfers derive from one config snapshot: the settings a fetch
 * runs with on each route and on none (fetchrule.h: the rules a response head is judged
 * by, the publisher that carries a judgement out, timeouts), how TLS to the upstream
 * is set up, and the upstream pools (pool.h) bound to the snapshot. Built when a fetch
 * pinned to a snapshot the fetcher has not seen starts (transfer.c), kept while a transfer uses it: one table per snapshot, so a fetch finds
 * its route's settings by the route's index, and nothing is built per request. Runs on:
 * the fetcher thread (and the thread that starts or stops it, before or after that thread
 * runs). */
#ifndef SF_FETCHCONF_H
#define SF_FETCHCONF_H

#include "cache.h"
#include "fetchrule.h"
#include "live.h"
#include "origintls.h"

struct sf_pool;
struct sf_pools;

/* One of the config's upstream pools as its fetches use it: the version bound to the
 * snapshot (pool.h) and each server's TLS settings (the pool's "tls", by server index). */
struct sf_fetchpool {
    struct sf_pool *pool;          /* a reference */
    const struct sf_pool_def *def; /* in the snapshot's config */
    struct sf_origin_tls *tls;     /* def->nservers of them */
};

/* (F) all fields. */
struct sf_fetchconf {
    unsigned refs;                    /* the fetcher's newest, and each transfer's */
    struct sf_snap *snap;             /* pinned */
    const struct sf_config *cfg;      /* &snap->cfg */
    struct sf_route_settings top_set; /* the top level's values, as a route's */
    struct sf_fetchrule top;          /* a fetch that took no route */
    struct sf_fetchrule *routes;      /* one per route of cfg, by its index */
    size_t nroutes;
    struct sf_origin_tls tls;   /* upstream_tls.*, for the upstream's fetches */
    struct sf_fetchpool *pools; /* one per pool of cfg->upstreams, by its index */
    size_t npools;
};

/* The settings of snap, with one reference, publishing into cache, its pools bound in pools
 * (pool.h); NULL when an upstream URL cannot be taken apart for TLS (checked at load: not
 * expected). */
struct sf_fetchconf *sf_fetchconf_new(struct sf_cache *cache, struct sf_snap *snap,
                                      struct sf_pools *pools);

/* The pool a fetch with these settings (a rule's set) is sent to, or NULL: a URL. */
const struct sf_fetchpool *sf_fetchconf_pool(const struct sf_fetchconf *c,
                                             const struct sf_route_settings *set);

/* The settings of a fetch that took route (in c's config; NULL: none), for as long as
 * the caller holds c. */
const struct sf_fetchrule *sf_fetchconf_rule(const struct sf_fetchconf *c,
                                             const struct sf_route_def *route);

/* Drops a reference; the last frees. NULL is fine. */
void sf_fetchconf_unref(struct sf_fetchconf *c);

#endif
