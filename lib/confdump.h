/* confdump: the effective config written back as a config file (--print-config), and
 * what a reload changed, in the file's terms (the line a reload logs). Both walk the
 * schema, so a new key is written and compared without code here. */
#ifndef SF_CONFDUMP_H
#define SF_CONFDUMP_H

#include "config.h"
#include "route.h"

#include <jansson.h>

/* cfg as a config file that loads back to it, every key written (as `nginx -T` shows
 * the effective config): sizes and durations in their largest whole unit; admin.token
 * left out (a secret), and upstream when there is none ("upstream" naming a pool is
 * written as the pool's name, not its key_base). Caller frees. */
char *sf_config_dump(const struct sf_config *cfg);
/* What differs from was to now, for a person: "cache.max_bytes 256MiB -> 64MiB, listen
 * 127.0.0.1:8080 -> 127.0.0.1:8090" in the file's terms (a changed admin.token is named,
 * not shown; a PEM file changed in place shows as "tls.cert (its contents)"; a pool as
 * "upstreams.api (changed: servers, retries)", "(added)" or "(removed)"). NULL when
 * nothing differs. Caller frees. */
char *sf_config_diff(const struct sf_config *was, const struct sf_config *now);

/* One route as the config file writes it (what it was given; the keys it inherits left
 * out), for --print-config and explain. Caller owns the reference. */
json_t *sf_config_route_json(const struct sf_route_def *r);

#endif
