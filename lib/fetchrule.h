/* fetchrule: what a fetch reads of the route its request took (issue 20): the rules its
 * response head is judged by (the route's ttl, force_ttl and ignore, its heuristic, stale
 * windows and storing switches), the publisher that carries the judgement out (its
 * hit-for-pass), and its timeouts and object limit. Each value is the route's where the
 * request took one, else the top level's (a route that does not set a key has the top
 * level's value already: confroute.c fills it in). Built once per config snapshot for the
 * top level and for each route (fetchconf.c), never per request; read by transfer.c,
 * judge.c and publish.c through the one a fetch's spec->route selects. Pure: it only
 * copies and converts values. */
#ifndef SF_FETCHRULE_H
#define SF_FETCHRULE_H

#include "config.h"
#include "judge.h"
#include "publish.h"
#include "route.h"

/* A fetch's settings on one route, or on none. Its parts point at each other (judge at
 * rules, publisher at judge): filled in place by sf_fetchrule_init, never copied or moved
 * after. All fields constant once filled. */
struct sf_fetchrule {
    const struct sf_route_def *route;    /* NULL: the top level's */
    const struct sf_route_settings *set; /* the values in force: route->set, or the top level's */
    struct sf_cache_rules rules;         /* rules.ttl: route->cache, or NULL */
    struct sf_judge_cfg judge;           /* with rules */
    struct sf_publisher publisher;       /* with judge */
};

/* The top level's values of the keys a route may set, as a route's (set->upstream is
 * left NULL: the top level's, as in a route that does not give one, and upstream_pool is
 * cfg->upstream_pool; given is 0). */
void sf_fetchrule_top_settings(const struct sf_config *cfg, struct sf_route_settings *set);

/* Fills fr for route (NULL: none) of cfg, with set its settings in force (route->set, or
 * the top level's from sf_fetchrule_top_settings; borrowed, as route and cfg, for fr's
 * life), publishing into cache. "ignore": ["set-cookie"] strips Set-Cookie from shared
 * responses as cache.strip_set_cookie does (from what is stored and served alike). A
 * route whose max_object_bytes is below the slice size keeps no slices (each would be
 * larger than it lets a response be stored): its large responses stream past the cache. */
void sf_fetchrule_init(struct sf_fetchrule *fr, const struct sf_config *cfg,
                       const struct sf_route_def *route, const struct sf_route_settings *set,
                       struct sf_cache *cache);

#endif
