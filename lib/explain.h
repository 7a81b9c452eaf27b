/* explain: what sfproxy would do with a request, said without doing it (issue 20's
 * "explain"): the route it takes and why each earlier route did not fit, the URL it would
 * fetch, its cache key, the Cookie it would send when the route narrows it, and the rules
 * the route brings. Offline: the config alone decides, nothing is fetched or looked up;
 * the admin listener adds what is stored under the key (sf_explain_stored, from the
 * cache's copy of it: cacheview.h). Pure. */
#ifndef SF_EXPLAIN_H
#define SF_EXPLAIN_H

#include "cacheview.h"
#include "config.h"
#include "http.h"

#include <jansson.h>

/* The request explained. url: an origin-form target ("/path?q"), or an absolute
 * "http://host/path?q", which with an upstream configured is read as a request for that
 * path with that Host (a reverse proxy's client), and without one as a forward proxy's
 * absolute-form request. host (may be NULL) overrides the Host. */
struct sf_explain_req {
    const char *method;
    const char *url;
    const char *host;
    const struct sf_hdrs *fields; /* the request's other fields (Cookie, ...); may be NULL */
};

/* The explanation as a JSON object, or NULL with *why set (a line for a person) when the
 * request could not be made at all (no upstream to send it to, a URL that is none). The
 * caller owns the reference. */
json_t *sf_explain(const struct sf_config *cfg, const struct sf_explain_req *req, const char **why);

/* What is stored under the key, as a JSON object for explain's "stored" (the admin
 * listener's explain; docs/routes.md shows it): its kind ("nothing", "flight",
 * "response", "hit_for_pass", "vary", "sliced"), what a GET without cache directives
 * would get now ("answer": "HIT", "STALE", "MISS", "JOIN", "PASS", "SLICES"), and the
 * kind's own fields: a response's status, age, lifetime, where the lifetime came from,
 * time left; a marker's reason and time left; each variant with the field values that
 * select it; the slices stored. selected (may be NULL) is the key of the variant the
 * request selects, when responses vary. The caller owns the reference. */
json_t *sf_explain_stored(const struct sf_cache_view *v, const char *selected);

#endif
