/* route: the config's ordered "routes" (issue 20), compiled once per config snapshot,
 * and which of them a request takes: the first whose "match" fits, or none (NULL: the
 * top-level settings, exactly as without routes). A route brings its rules as data: the
 * upstream and timeouts, pass, the cache rule (ttl.h), the key rule (cachekey.h), what
 * clients receive. Matching never walks every route: hosts and paths are indexed (an
 * exact host table, wildcard suffixes, a sorted table of path prefixes, exact paths), and
 * only the routes the index leaves are tried, in the order declared, for their other
 * conditions (methods, a path pattern, header fields, query parameters). Patterns are
 * PCRE2, compiled at load, with its JIT where the machine has one.
 *
 * Lifetime: a struct sf_routes belongs to its struct sf_config and is freed with it
 * (sf_config_clear); a reload builds a new one, so a request that pinned a snapshot keeps
 * its route for its whole life. Threads: built by one thread, then read-only; matching
 * may run on any number of threads at once (each has its own PCRE2 match data). */
#ifndef SF_ROUTE_H
#define SF_ROUTE_H

#include "cachekey.h"
#include "http.h"
#include "ttl.h"
#include "variant.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SF_ROUTES_MAX 4096
#define SF_ROUTE_NAME_MAX 63

/* A "header" condition: the field present or absent, or its value (lines joined with
 * ", ") matching a pattern. */
struct sf_route_header {
    char *name;
    bool present; /* without a pattern: whether the field must be there */
    char *regex;  /* or the pattern its value must match; NULL: none */
    void *_code;  /* compiled (pcre2_code), owned */
};

/* "match": every condition given must hold; none given matches every request. */
struct sf_route_match {
    char *host; /* lowercased: "api.example.com", or "*.example.com" (not example.com itself) */
    char *path_prefix; /* on the normalised path (sf_route_path) */
    char *path_exact;
    char *path_regex;
    void *_path_code; /* compiled path_regex, owned */
    char **methods;   /* exact, case-sensitive (RFC 9110 §9.1) */
    size_t nmethods;
    struct sf_route_header *headers;
    size_t nheaders;
    char **query; /* parameter names that must be in the query */
    size_t nquery;
};

/* The route's values of the top-level keys it may set; the loader fills the ones not
 * given from the top level, and `given` (bit i: the i-th key of confroute.c's table) says
 * which were written, for --print-config. */
struct sf_route_settings {
    char *upstream;    /* owned; NULL: the top-level upstream (which may be none); a pool's
                     * key_base when the route names a pool */
    int upstream_pool; /* with upstream: the index of the pool it names; -1: a URL. With
                        * upstream NULL: the top level's (cfg->upstream_pool), filled in
                        * by the loader and by sf_config_set_upstream */
    uint64_t first_byte_timeout_ms, upstream_idle_timeout_ms;
    uint64_t hit_for_pass_ms, max_object_bytes, heuristic_max_ms;
    uint64_t stale_if_error_ms, stale_while_revalidate_ms;
    unsigned heuristic_percent;
    bool strip_set_cookie, store_server_errors, store_post_responses, normalize_accept_encoding;
    uint32_t given;
};

/* One route, as the config file defines it. Strings owned. */
struct sf_route_def {
    char *name;
    struct sf_route_match match;
    bool pass; /* never stored, never collapsed */
    /* cache.ignore_request_directives: a request's max-age, min-fresh, max-stale and
     * no-cache (Cache-Control, Pragma) do not refetch a stored response (only-if-cached
     * is still obeyed): apt asks for by-hash indexes with max-age=0. */
    bool ignore_request_directives;
    bool strip_prefix; /* the path_prefix is cut from the path sent upstream */
    struct sf_route_settings set;
    struct sf_ttl_rule cache; /* ttl, force_ttl, ignore */
    struct sf_key_rule key;
    char *client_cache_control;  /* replaces the Cache-Control clients receive; NULL: none */
    struct sf_hdrs response_set; /* response_headers.set, in order */
    char **response_remove;      /* response_headers.remove */
    size_t nresponse_remove;
    size_t index; /* its place in the list, from 0 (set by sf_routes_add): per-route tables */
};

/* The request a route is chosen for. */
struct sf_route_req {
    const char *method;
    const char *host;               /* the Host field (may carry a port); NULL: none */
    const char *target;             /* the raw request target: "/path?query", or absolute-form
                         * "http://host/path?query", whose host then counts (RFC 9112 §3.2.2) */
    const struct sf_fields *fields; /* the request's fields; NULL: none */
};

struct sf_routes;

/* An empty list. */
struct sf_routes *sf_routes_new(void) SF_NONNULL_RESULT;
/* Appends a zeroed route (its cache rule empty) and returns it for the caller to fill;
 * NULL when the list holds SF_ROUTES_MAX already. */
struct sf_route_def *sf_routes_add(struct sf_routes *rs);
/* Builds the index. Call once, after the last route was added and filled; routes are
 * read-only from then on. */
void sf_routes_index(struct sf_routes *rs);
/* Frees the list, its routes and their compiled patterns. NULL is fine. */
void sf_routes_free(struct sf_routes *rs);

size_t sf_routes_count(const struct sf_routes *rs);
/* The i-th route (from 0), in the order declared. */
const struct sf_route_def *sf_routes_at(const struct sf_routes *rs, size_t i);
/* The route called name (names are unique), or NULL: none (rs NULL: no routes). */
const struct sf_route_def *sf_routes_named(const struct sf_routes *rs, const char *name);

/* Compiles a PCRE2 pattern into *code (to be stored in a route, which then owns it).
 * False with PCRE2's message in err and the offset in the pattern where it gave up. */
bool sf_route_compile(const char *pattern, void **code, char *err, size_t errlen, size_t *offset);
/* Whether subject matches a compiled pattern. A pattern that exhausts PCRE2's match limit
 * does not match. Any thread. */
bool sf_route_regex_match(const void *code, const char *subject, size_t len);
/* Whether PCRE2's JIT compiler is available here (else the interpreter runs patterns). */
bool sf_route_jit_available(void);

/* The index of an earlier route that matches every request route i would (so i can never
 * be chosen): one with only host and path conditions, each covering i's. -1 when none. */
long sf_routes_shadowed_by(const struct sf_routes *rs, size_t i);

/* The route req takes, or NULL: none fits (the top-level settings apply). With tried,
 * how many routes the index left to try (for tests: never every route when the index
 * can exclude some). Any thread. */
const struct sf_route_def *sf_routes_match(const struct sf_routes *rs,
                                           const struct sf_route_req *req, size_t *tried);

/* As sf_routes_match, for explain: also why each earlier route did not match. why has
 * sf_routes_count(rs) entries; each entry before the route returned (every entry, when
 * none is) is set to a line saying which condition failed (caller frees), the rest to
 * NULL. Tries every earlier route in full: not for the request path. */
const struct sf_route_def *sf_routes_explain(const struct sf_routes *rs,
                                             const struct sf_route_req *req, char **why);

/* The path routes match on: the target's path (absolute-form: after the authority; none:
 * "/"), without its query, percent-encoded unreserved characters decoded and the other
 * escapes' hex in upper case (RFC 3986 §6.2.2), runs of "/" merged into one (as nginx's
 * merge_slashes), dot segments removed (§5.2.4), so that "/%61ccount/../account/x" and
 * "//account/x" are matched as most origins read them: "/account/x". Caller
 * frees. */
char *sf_route_path(const char *target);
/* The target to send upstream for an origin-form target taking route r: as received, or
 * with strip_prefix, the normalised path without r's path_prefix (still starting with
 * "/") and the query as received. Caller frees. */
char *sf_route_upstream_target(const struct sf_route_def *r, const char *target);

#endif
