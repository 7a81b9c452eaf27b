/* routestats: requests counted by the route they took (issue 20) and by how they were
 * answered (their X-Cache: HIT, MISS, COLLAPSED, PASS, REVALIDATED, STALE; "none" when
 * sfproxy answered itself or the client left first), for /stats and /metrics.
 *
 * Counted by the route's name, not by its place in a config: a reload replaces the
 * routes whole, and a route that keeps its name keeps counting in the same series (a
 * Prometheus counter never goes back); a renamed or removed route's series stays at its
 * last count. Bounded: the first SF_ROUTESTATS_MAX names counted since the process
 * started get series of their own, any later name is counted under SF_ROUTESTATS_OTHER
 * (not a name a route can have). Requests that took no route are not counted here (they
 * are in the totals by X-Cache).
 *
 * Threads: any thread counts (a lock-free lookup, relaxed atomic additions); a name's
 * first count takes a mutex to add it. */
#ifndef SF_ROUTESTATS_H
#define SF_ROUTESTATS_H

#include "metrics-t.h"

#include <jansson.h>

#define SF_ROUTESTATS_MAX 256
#define SF_ROUTESTATS_OTHER "(other)"

/* Counts one request of the route named route (1 to 63 characters) answered as outcome. */
void sf_routestats_count(const char *route, enum sf_outcome outcome);

/* The counts as a JSON object: {"NAME": {"HIT": n, ..., "none": n}, ...}; {} before the
 * first count. The caller owns the reference. */
json_t *sf_routestats_json(void);

/* The counts as the Prometheus family sfproxy_route_requests_total{route,cache} (0.0.4
 * text, its HELP and TYPE lines included); "" before the first count. Caller frees. */
char *sf_routestats_prometheus(void);

#endif
