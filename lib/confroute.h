/* confroute: the config file's "routes" list (route.h says what a route is), private to
 * lib/config*.c. Each route is an object checked key by key, with positioned messages as
 * the rest of the file gets: unknown keys with the allowed ones and a likely meant one, a
 * name given twice, a pattern PCRE2 cannot compile (its message and offset), a ttl on a
 * route that passes, a status that is not one, a route an earlier one hides. A route may
 * set some top-level keys for itself (sf_route_settings): "upstream", two timeouts and
 * the cache keys that make sense per route; the ones it does not set are the top level's,
 * filled in once the whole file is read (sf_confroute_finish). */
#ifndef SF_CONFROUTE_H
#define SF_CONFROUTE_H

#include "confschema.h"
#include "route.h"

/* A top-level key a route may set for itself: its path (the same in a route as at the
 * top level, whose schema row gives its kind and range) and where it lands in struct
 * sf_route_settings. Bit i of sf_route_settings.given is row i. */
struct sf_route_setting {
    const char *path;
    size_t off;
};
extern const struct sf_route_setting sf_route_settings_table[];
extern const size_t sf_route_nsettings;

/* The top-level schema row of path, or NULL. */
const struct sf_conf_field *sf_conf_field_of(const char *path);

/* Parses the "routes" value v (field f) into a new list in *slot (replacing one there).
 * On error returns SF_EINVAL with the message in ld's errbuf and leaves *slot as it was.
 * Warns (the log) about routes that share what an origin meant for one user. */
enum sf_err sf_confroute_parse(struct sf_conf_loader *ld, const struct sf_conf_field *f, json_t *v,
                               struct sf_routes **slot);

/* Once the whole file is read: fills each route's settings it did not give from the top
 * level (but "upstream", which stays NULL to follow the top level's, command line
 * included), and builds the index. */
enum sf_err sf_confroute_finish(struct sf_conf_loader *ld, struct sf_config *cfg);

/* ---- for confrule.c, which reads a route's rules (cache, key, response fields) ---- */

/* The route being read. */
struct sf_confroute_ctx {
    struct sf_conf_loader *ld;
    struct sf_routes *rs;
    struct sf_route_def *r;
    size_t index;   /* in "routes" */
    char label[96]; /* "route \"api\"", or "routes[2]" until it has a name */
};

/* A message at the route's rel (a dotted path inside the route), after its label.
 * Returns SF_EINVAL. */
enum sf_err sf_confroute_fail(const struct sf_confroute_ctx *c, const char *rel, bool at_key,
                              const char *fmt, ...) SF_FORMAT(4, 5);
/* "\"routes[i].rel\" must be WHAT (got V)". Returns SF_EINVAL. */
enum sf_err sf_confroute_must(const struct sf_confroute_ctx *c, const char *rel, json_t *v,
                              const char *what);
/* A list of strings each ok() accepts (with one_ok, a lone string too; with empty_ok, []
 * too) into *out and *n, replacing what was there. */
enum sf_err sf_confroute_strings(const struct sf_confroute_ctx *c, const char *rel, json_t *v,
                                 bool (*ok)(const char *), const char *what, bool one_ok,
                                 bool empty_ok, char ***out, size_t *n);
/* Non-empty, and printable ASCII only (no line ends). */
bool sf_confroute_printable(const char *s);

#endif
