/* keyurl: the URL a GET of a target is listed under in the cache, the URL part of its key
 * (the table indexes stored responses by it: table.h), which is what an invalidation
 * (RFC 9111 §4.4) or a purge by URL must name to reach them.
 *
 * Without routes that URL is the top-level upstream joined with the target: the very URL
 * an unsafe request to the same target fetches, or a purge of the target's path names.
 * With routes it is the route a GET of the target takes that decides: its upstream, its
 * strip_prefix, its key.query and key.sort_query (cachekey.h). An unsafe request may take
 * another route than a GET of its target (one for "GET" and "HEAD" only, with an upstream
 * of its own), or the same route with a query rule; its own URL then misses what the GET
 * stored. So what a request's response invalidates is also mapped to where a GET of it
 * is listed: the request's own target directly, and a Location or Content-Location (an
 * upstream URL in the space of the request's own fetch) back to the client's target it
 * stands for first.
 *
 * A keymap carries what that takes from the worker that received the request (its
 * target, Host and fields, and where it was fetched) to the fetcher that judges its
 * response. It borrows the routes and the upstreams from the config snapshot its request
 * pinned (fetchspec.h holds that reference for as long as it holds the keymap).
 *
 * Pure: no locks, no I/O; a keymap is read-only once made, so any thread may use it. */
#ifndef SF_KEYURL_H
#define SF_KEYURL_H

#include "http.h"
#include "variant.h"

#include <stdbool.h>

struct sf_routes;    /* route.h */
struct sf_route_def; /* route.h */

/* Where GETs go: the config's routes and its top-level upstream (each may be NULL). */
struct sf_keyurl_cfg {
    const struct sf_routes *routes;
    const char *upstream;
};

/* The URL part of the key a GET of target, with Host host and fields (each may be NULL:
 * none), is stored under: the route such a GET takes, the route's upstream (else the top
 * level's) joined with the target as the route sends it (strip_prefix), its query as the
 * route's key rule keeps it. An absolute-form http:// target (a forward proxy's request)
 * goes where its URL says, its query under the route's rule alike. With key_query false
 * the query is left as given (a purge by prefix, which names the start of URLs, not one).
 * NULL when the GET could not be sent anywhere (no upstream; a target neither "/..." nor
 * "http://..."). Caller frees. */
char *sf_keyurl_get(const struct sf_keyurl_cfg *cfg, const char *host,
                    const struct sf_fields *fields, const char *target, bool key_query);

/* The origin-form target a client sends for url to be fetched, by a request that takes
 * route (NULL: none) to base (the route's upstream or the top level's): the target that
 * joined with base gives url, with the route's path_prefix put back in front when it
 * strips it ("http://up/users/7" under base "http://up" and a strip_prefix "/v1/":
 * "/v1/users/7"). NULL when url is not under base. Caller frees. */
char *sf_keyurl_target(const char *url, const char *base, const struct sf_route_def *route);

struct sf_keymap;

/* A keymap for a request to target (origin-form, or absolute-form for a forward proxy,
 * then base NULL) fetched as url from base, by route (NULL: none), with Host host (may
 * be NULL) and fields (taken over: *fields is emptied). cfg's routes and upstream, base
 * and route are borrowed: they must outlive the keymap. */
struct sf_keymap *sf_keymap_new(const struct sf_keyurl_cfg *cfg, const char *target,
                                const char *url, const char *base, const struct sf_route_def *route,
                                const char *host, struct sf_hdrs *fields) SF_NONNULL_RESULT;
void sf_keymap_free(struct sf_keymap *m); /* NULL is fine */

/* The URL a GET is stored under that the map's request names by url, an upstream URL of
 * its fetch's origin: its own URL (its own target, as received), or a Location or
 * Content-Location it was answered with (sf_keyurl_target, then a GET of that target
 * from the same client). NULL when url stands for no target of ours. Caller frees. */
char *sf_keymap_url(const struct sf_keymap *m, const char *url);

#endif
