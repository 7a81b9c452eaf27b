/* confrule: the values of a route's rules in the config file, private to lib/config*.c:
 * its cache rule ("ttl" and "force_ttl" by status, "ignore"), its key rule ("query",
 * "headers", "cookies") and the fields set on or removed from what clients receive. Each
 * reads one JSON value into the route being read (confroute.h's context) or says, at its
 * position, what to write instead. */
#ifndef SF_CONFRULE_H
#define SF_CONFRULE_H

#include "confroute.h"

/* "ttl" or "force_ttl": a whole number of seconds, or an object of statuses and "any". */
enum sf_err sf_confrule_ttl(const struct sf_confroute_ctx *c, const char *rel, json_t *v,
                            struct sf_ttl_table *t);
/* "cache.ignore": a list of "no-cache", "no-store", "private", "set-cookie". */
enum sf_err sf_confrule_ignore(const struct sf_confroute_ctx *c, const char *rel, json_t *v);
/* "key.query": "all", "none", {"keep": [...]} or {"drop": [...]}. */
enum sf_err sf_confrule_key_query(const struct sf_confroute_ctx *c, const char *rel, json_t *v);
/* "key.headers": field names, but not Cookie, Authorization or Host. */
enum sf_err sf_confrule_key_headers(const struct sf_confroute_ctx *c, const char *rel, json_t *v);
/* "response_headers.set": an object of field names and values. */
enum sf_err sf_confrule_response_set(const struct sf_confroute_ctx *c, const char *rel, json_t *v);
/* A field "response_headers.remove" may name: none that sfproxy frames or sets. */
bool sf_confrule_removable_field(const char *name);
/* A query parameter's or cookie's name as a key rule matches it: no separator, '*' only
 * at its end. */
bool sf_confrule_param_pattern(const char *s);
bool sf_confrule_cookie_pattern(const char *s);

#endif
