/* clientview: what a route changes in the responses its clients receive (issue 20).
 * client_cache_control replaces the Cache-Control (the stored response keeps the
 * origin's, which decides what sfproxy itself does), response_headers.remove takes fields
 * out, response_headers.set puts fields in (in place of any the response had).
 *
 * It works on a libmicrohttpd response already built from an object, just before it is
 * queued: a HIT's, a streamed MISS's, a 304, a sliced response's, a HEAD's. One place for
 * every way an object is answered, so none of them can miss the route's word. sfproxy's
 * own answers (errors, refusals) and a cluster peer's answers are not changed: the first
 * are not the origin's responses, the second are for the asking node, whose own route
 * then applies to its clients.
 *
 * With client_cache_control, the lifetime it gives counts from when the client receives
 * the response: the Age and Expires sfproxy would send go, and the Date is the time of
 * sending (as nginx, which sends its own Date and no Age). Otherwise a response the proxy
 * has kept for a day would reach a browser told "max-age=300" already a day old: stale.
 * A response sfproxy does not share (a pass, one user's) keeps the origin's Cache-Control
 * unless the route's says private or no-store: a route must not tell a shared cache in
 * front to keep what the origin meant for one user.
 *
 * Runs on: a libmicrohttpd worker (any thread; no shared state). */
#ifndef SF_CLIENTVIEW_H
#define SF_CLIENTVIEW_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

struct sf_route_def;

/* Whether route (NULL: none) changes anything clients receive. */
bool sf_clientview_changes(const struct sf_route_def *route);

/* Applies route's client_cache_control and response_headers to resp (route NULL: nothing
 * to do), with now_s (wall clock) as the Date when the Cache-Control is replaced; shared:
 * resp is a response sfproxy shares (see above). False when libmicrohttpd refused a
 * change: resp must not be sent then (the caller destroys it). */
bool sf_clientview_apply(struct MHD_Response *resp, const struct sf_route_def *route, bool shared,
                         int64_t now_s);

#endif
