/* cachekey: a request's cache key under a route's "key" rule (issue 20). The key is
 * policy.c's (sf_policy_key: the URL fetched, then the request's credential lines), with
 * what the route changes: the query's parameters kept, dropped or sorted, the Host kept
 * when the route matched on it, named header fields added, and the Cookie narrowed to the
 * cookies named (and the same narrowed Cookie sent upstream, so the origin cannot
 * personalise on a cookie the key ignores). Authorization stays in every key: RFC 9111
 * §3.5's rule on credentialed responses is no route's to relax. Without a rule the key
 * is byte for byte the one sfproxy has always built. Pure. */
#ifndef SF_CACHEKEY_H
#define SF_CACHEKEY_H

#include "http.h"

#include <stdbool.h>
#include <stddef.h>

enum sf_key_query {
    SF_KEY_QUERY_ALL,  /* the query as sent (the default) */
    SF_KEY_QUERY_NONE, /* no query in the key */
    SF_KEY_QUERY_KEEP, /* only the parameters named */
    SF_KEY_QUERY_DROP, /* all but the parameters named */
};

/* A route's "key" block; zeroed: the default (everything as today). Strings owned. */
struct sf_key_rule {
    enum sf_key_query query;
    char **params; /* for KEEP and DROP: names, or prefixes ending in '*' ("utm_*") */
    size_t nparams;
    bool sort_query; /* parameters in the key sorted by name (stable) */
    char **headers;  /* request fields whose values join the key, in this order */
    size_t nheaders;
    bool narrow_cookies; /* "cookies" was given: only these cookies (maybe none) count */
    char **cookies;
    size_t ncookies;
    bool host; /* the route matches on the host: the Host is part of the key */
};

/* The request a key is built for. */
struct sf_key_request {
    const char *url;            /* the absolute URL fetched upstream, with its query */
    const char *host;           /* the request's Host value; NULL: none */
    const struct sf_hdrs *hdrs; /* every field line of the request, in order */
    bool preserve_host;         /* preserve_host: the Host goes upstream, so it is keyed */
};

/* The cache key of r under rule (NULL: no route). Caller frees. */
char *sf_cachekey_build(const struct sf_key_request *r, const struct sf_key_rule *rule);

/* url with its query as rule keys it (NULL or ALL without sort_query: url unchanged).
 * Parameters are compared by their raw names; percent-encoding is left as sent. A query
 * left empty is dropped with its '?' ("/x?utm_source=a" under drop utm_* is "/x"). Caller
 * frees. */
char *sf_cachekey_query(const char *url, const struct sf_key_rule *rule);

/* The Cookie value to send upstream and key on under rule: the cookies of every Cookie
 * line of hdrs whose names rule lists, in the order sent, joined by "; ". NULL when none
 * is left (then no Cookie is sent). Only meaningful with rule->narrow_cookies. Caller
 * frees. */
char *sf_cachekey_cookies(const struct sf_hdrs *hdrs, const struct sf_key_rule *rule);

/* Whether the len bytes at name match pattern: equal, or for "prefix*" starting with
 * prefix ("*" matches every name). */
bool sf_cachekey_glob(const char *pattern, const char *name, size_t len);

/* Frees what rule owns and zeroes it. */
void sf_key_rule_clear(struct sf_key_rule *rule);

#endif
