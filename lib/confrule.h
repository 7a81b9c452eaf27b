/* confrule: the values of a route's rules in the config file, private to lib/config*.c:
 * its cache rule ("ttl" and "force_ttl" by status, "ignore"), its key rule ("query",
 * "headers", "cookies") and the fields set on or removed from what clients receive. Each
 * reads one JSON value into the route being read (the context below) or says, at its
 * position, what to write instead. */
#ifndef SF_CONFRULE_H
#define SF_CONFRULE_H

#include "confapply.h"
#include "route.h"

/* The route being read. */
struct sf_confrule_ctx {
    struct sf_conf_loader *ld;
    struct sf_routes *rs;
    struct sf_route_def *r;
    size_t index;   /* in "routes" */
    char label[96]; /* "route \"api\"", or "routes[2]" until it has a name */
};

/* "routes[i].rel" (the route's index, rel a dotted path inside it) into out. */
const char *sf_confrule_path(const struct sf_confrule_ctx *c, const char *rel, char *out,
                             size_t size);
/* A message at the route's rel (a dotted path inside the route), after its label.
 * Returns SF_EINVAL. */
enum sf_err sf_confrule_fail(const struct sf_confrule_ctx *c, const char *rel, bool at_key,
                             const char *fmt, ...) SF_FORMAT(4, 5);
/* "\"routes[i].rel\" must be WHAT (got V)". Returns SF_EINVAL. */
enum sf_err sf_confrule_must(const struct sf_confrule_ctx *c, const char *rel, json_t *v,
                             const char *what);
/* A list of strings each ok() accepts (with one_ok, a lone string too; with empty_ok, []
 * too) into *out and *n, replacing what was there. */
enum sf_err sf_confrule_strings(const struct sf_confrule_ctx *c, const char *rel, json_t *v,
                                bool (*ok)(const char *), const char *what, bool one_ok,
                                bool empty_ok, char ***out, size_t *n);
/* Non-empty, and printable ASCII only (no line ends). */
bool sf_confrule_printable(const char *s);

/* "ttl" or "force_ttl": a whole number of seconds, or an object of statuses and "any". */
enum sf_err sf_confrule_ttl(const struct sf_confrule_ctx *c, const char *rel, json_t *v,
                            struct sf_ttl_table *t);
/* "cache.ignore": a list of "no-cache", "no-store", "private", "set-cookie". */
enum sf_err sf_confrule_ignore(const struct sf_confrule_ctx *c, const char *rel, json_t *v);
/* "key.query": "all", "none", {"keep": [...]} or {"drop": [...]}. */
enum sf_err sf_confrule_key_query(const struct sf_confrule_ctx *c, const char *rel, json_t *v);
/* "key.headers": field names, but not Cookie, Authorization or Host. */
enum sf_err sf_confrule_key_headers(const struct sf_confrule_ctx *c, const char *rel, json_t *v);
/* "response_headers.set": an object of field names and values. */
enum sf_err sf_confrule_response_set(const struct sf_confrule_ctx *c, const char *rel, json_t *v);
/* A field "response_headers.remove" may name: none that sfproxy frames or sets. */
bool sf_confrule_removable_field(const char *name);
/* A query parameter's or cookie's name as a key rule matches it: no separator, '*' only
 * at its end. */
bool sf_confrule_param_pattern(const char *s);
bool sf_confrule_cookie_pattern(const char *s);

#endif
