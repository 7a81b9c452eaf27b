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

#include "confapply.h"
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

/* (Also fetchrule.c's.) The settings of a request no route takes: the top level's values of
 * every key a route may set (upstream NULL: the top level's, command line included, and
 * upstream_pool the top level's pool index). */
void sf_confroute_top_settings(const struct sf_config *cfg, struct sf_route_settings *set);

/* The top-level schema row of path, or NULL. */
const struct sf_conf_field *sf_conf_field_of(const char *path);

/* Parses the "routes" value v (field f) into a new list in *slot (replacing one there).
 * On error returns SF_EINVAL with the message in ld's errbuf and leaves *slot as it was.
 * Warns (the log) about routes that share what an origin meant for one user. */
enum sf_err sf_confroute_parse(struct sf_conf_loader *ld, const struct sf_conf_field *f, json_t *v,
                               struct sf_routes **slot);

/* The routes that give no "upstream" take the top level's pool index again (after the
 * command line changed "upstream": sf_config_set_upstream). */
void sf_confroute_follow_top(struct sf_config *cfg);

/* Once the whole file is read: fills each route's settings it did not give from the top
 * level (but "upstream", which stays NULL to follow the top level's, command line
 * included; its upstream_pool is the top level's), and builds the index. Call after
 * sf_confupstream_finish (pool names resolved). */
enum sf_err sf_confroute_finish(struct sf_conf_loader *ld, struct sf_config *cfg);

#endif
