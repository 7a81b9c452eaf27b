/* ttl: how long a response stays fresh when a route has a say (issue 20's cache rules).
 * The origin's own freshness (RFC 9111 §4.2.1, parsed by policy.c) comes in as numbers and
 * flags; a route's rule ("cache": ttl, force_ttl, ignore) comes in as data; out comes the
 * lifetime, where it came from, and which of the origin's refusals the route disregards.
 * Without a rule the answer is RFC 9111's alone: explicit freshness, else the Last-Modified
 * heuristic for the statuses RFC 9110 §15.1 calls heuristically cacheable. Pure. */
#ifndef SF_TTL_H
#define SF_TTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The origin directives a route may tell sfproxy to disregard (its "ignore" list). */
#define SF_TTL_IGNORE_NO_CACHE 1u
#define SF_TTL_IGNORE_NO_STORE 2u
#define SF_TTL_IGNORE_PRIVATE 4u
#define SF_TTL_IGNORE_SET_COOKIE 8u

/* A lifetime per status: the value of "ttl" or "force_ttl". A plain duration covers the
 * statuses RFC 9110 §15.1 lets a cache store without explicit freshness (plain_s); an
 * object gives statuses one by one ("200") and "any" for the rest. -1: not given. */
struct sf_ttl_status {
    int status;
    int64_t s;
};
struct sf_ttl_table {
    int64_t plain_s;
    int64_t any_s;
    struct sf_ttl_status *v; /* owned */
    size_t n;
};

/* A route's rule. Fields left -1 / 0 / empty are not given. */
struct sf_ttl_rule {
    struct sf_ttl_table ttl;   /* used when the origin gave no freshness */
    struct sf_ttl_table force; /* used whatever freshness the origin gave */
    unsigned ignore;           /* SF_TTL_IGNORE_* */
};

/* What the origin's response said, as policy.c read it. */
struct sf_ttl_origin {
    int status;
    int64_t explicit_s;  /* s-maxage, max-age, Expires - Date, targeted fields; -1: none */
    int64_t heuristic_s; /* the Last-Modified heuristic's lifetime; -1: none */
    bool no_store, no_cache, private_, set_cookie;
};

enum sf_ttl_source {
    SF_TTL_NONE,      /* no lifetime: not storable for want of one */
    SF_TTL_ORIGIN,    /* the origin's max-age, s-maxage, Expires or targeted field */
    SF_TTL_ROUTE,     /* the route's ttl */
    SF_TTL_FORCE,     /* the route's force_ttl */
    SF_TTL_HEURISTIC, /* a fraction of the time since Last-Modified (RFC 9111 §4.2.2) */
};

struct sf_ttl_decision {
    int64_t lifetime_s; /* -1: none */
    enum sf_ttl_source source;
    unsigned ignored; /* SF_TTL_IGNORE_* the response carried and the rule disregards */
    /* What still holds after the rule: the origin's directives minus the ignored ones. */
    bool no_store, no_cache, private_, set_cookie;
};

/* An empty rule (nothing given): sf_ttl_decide then follows the origin alone. */
void sf_ttl_rule_init(struct sf_ttl_rule *r);
/* Frees what the rule owns and empties it. */
void sf_ttl_rule_clear(struct sf_ttl_rule *r);
/* Empties t; frees its per-status list. */
void sf_ttl_table_clear(struct sf_ttl_table *t);
/* Whether t has anything given. */
bool sf_ttl_table_given(const struct sf_ttl_table *t);
/* Adds status (0 for "any") with lifetime s to t; a status given twice keeps the last. */
void sf_ttl_table_set(struct sf_ttl_table *t, int status, int64_t s);
/* t's lifetime for status: the status's own, else "any", else the plain duration when the
 * status is heuristically cacheable; -1 when t says nothing for it. */
int64_t sf_ttl_table_lookup(const struct sf_ttl_table *t, int status);

/* RFC 9110 §15.1: the statuses heuristically cacheable (200, 203, 204, 300, 301, 308,
 * 404, 405, 410, 414, 501). 206 is left out: a partial response is never stored whole. */
bool sf_ttl_cacheable_by_default(int status);

/* The freshness of o under rule (NULL: no route, or a route with no cache rule): force_ttl
 * for its statuses, else the origin's explicit lifetime, else the route's ttl for its
 * statuses, else the heuristic for heuristically cacheable statuses, else none. */
void sf_ttl_decide(const struct sf_ttl_origin *o, const struct sf_ttl_rule *rule,
                   struct sf_ttl_decision *d);

/* "origin", "route ttl", "force_ttl", "heuristic", "none": for explain and logs. */
const char *sf_ttl_source_name(enum sf_ttl_source s);
/* The name of one SF_TTL_IGNORE_* bit as the config writes it ("no-cache"); NULL for none. */
const char *sf_ttl_ignore_name(unsigned bit);

#endif
