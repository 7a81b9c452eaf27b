/* poolview: what the stats JSON and /metrics show of the upstream pools, from a copy of
 * each server's numbers that the registry (pool.c) takes under its lock, so that the text
 * is written after it is released. Pure. */
#ifndef SF_POOLVIEW_H
#define SF_POOLVIEW_H

#include "health.h"

#include <jansson.h>
#include <stdint.h>

/* One server of one current pool; a pool's servers are consecutive, in its order. */
struct sf_pool_server_view {
    char pool[64];       /* the pool's name (at most 63 characters: the config's rule) */
    const char *balance; /* static: "round_robin", "least_conn", "hash" */
    char *name, *url;    /* owned: sf_poolview_free */
    enum sf_health_why why;
    unsigned weight;
    bool backup;
    uint64_t active, requests, failures;
    uint64_t probes_ok, probes_failed, transitions;
    uint64_t ttfb_us_sum, ttfb_count;
};

void sf_poolview_free(struct sf_pool_server_view *v, size_t n);

/* One server's object, as in the stats: {"url", "state", "weight", ...}. */
json_t *sf_poolview_server_json(const struct sf_pool_server_view *s);
/* {"NAME": {"balance", "servers": {"SERVER": {...}}}} */
json_t *sf_poolview_json(const struct sf_pool_server_view *v, size_t n);
/* The Prometheus families (text 0.0.4), "" for none. Caller frees. */
char *sf_poolview_prometheus(const struct sf_pool_server_view *v, size_t n);

#endif
