/* cacheview: what the cache holds under one key, copied out as plain data for a person
 * to read (issue 20's explain: the admin listener's GET /_sfproxy/explain). The cache
 * fills a view under its table lock (sf_cache_inspect, cache.h; the walk is cacheview.c's,
 * inside the table's private room) and lets go of the lock before anyone reads it: a view
 * holds no pointer into the table and no reference, only copies it owns, so it may be
 * kept, formatted and freed at leisure on any thread. Not for the request path: a key
 * whose responses vary or are kept in slices is inspected by walking its URL's entries. */
#ifndef SF_CACHEVIEW_H
#define SF_CACHEVIEW_H

#include "slice.h"
#include "ttl.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How many stored variants a view lists (the rest are only counted). */
#define SF_CACHE_VIEW_MAX_VARIANTS 64

enum sf_cache_view_kind {
    SF_CACHE_VIEW_NOTHING,  /* nothing is listed under the key */
    SF_CACHE_VIEW_FLIGHT,   /* a fetch in progress: requests for the key join it */
    SF_CACHE_VIEW_RESPONSE, /* a stored response */
    SF_CACHE_VIEW_PASS,     /* a hit-for-pass marker: one user's response was here */
    SF_CACHE_VIEW_VARY,     /* responses vary: each is listed under a variant's key */
    SF_CACHE_VIEW_SLICED,   /* the response is kept in slices, each under a key of its own */
};

/* One stored response, as lookups judge it at the inspection's now_ms. */
struct sf_cache_view_resp {
    char *key; /* owned: the key it is listed under */
    int status;
    uint64_t body_bytes;
    int64_t age_s;   /* as lookups judge it (RFC 9111 §4.2.3): its initial age, plus the
                      * time it has been stored */
    int64_t fresh_s; /* its freshness lifetime (§4.2.1) */
    enum sf_ttl_source fresh_from;
    bool invalidated;   /* a soft purge or an unsafe request's invalidation (§4.4): used only
                         * after validation */
    bool must_validate; /* no-cache: validated before every use, however fresh */
    bool never_stale;   /* no-cache, must-revalidate, proxy-revalidate or s-maxage (§4.2.4) */
    int64_t stale_while_revalidate_s, stale_if_error_s; /* RFC 5861 windows; -1: none */
};

struct sf_cache_view {
    enum sf_cache_view_kind kind;
    /* RESPONSE: the response; FLIGHT with revalidating: the expired stored response the
     * flight refreshes. */
    struct sf_cache_view_resp resp;
    bool revalidating;
    /* PASS: why its response could not be shared (owned; NULL: the cache was not told),
     * and how long the marker has left. */
    char *pass_reason;
    int64_t pass_left_ms;
    /* VARY: the fields its responses vary on ("accept-language,cookie"), and the stored
     * variants (each key is the inspected key, SF_VARIANT_MARK and the variant), at most
     * SF_CACHE_VIEW_MAX_VARIANTS of the variants_stored there are, ordered by key. */
    char *vary_names;
    struct sf_cache_view_resp *variants;
    size_t nvariants, variants_stored;
    /* SLICED: the representation (its length and validator), the slice size asked about,
     * how many slices of that size it has, and the indexes of those stored (ascending). */
    struct sf_slice_ref slice;
    uint64_t slice_bytes, slices;
    uint64_t *held;
    size_t nheld;
};

/* Frees what v owns and empties it. */
void sf_cache_view_clear(struct sf_cache_view *v);

/* A stored response's freshness left at the view's now_ms: its lifetime minus its age
 * (<= 0: stale). */
int64_t sf_cache_view_left_s(const struct sf_cache_view_resp *r);

#endif
