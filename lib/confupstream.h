/* confupstream: the config file's "upstreams" (issue 21), private to lib/config*.c: named
 * pools of origin servers (config-t.h's struct sf_pool_def says what each value means and
 * its default), each read key by key with positioned messages as the rest of the file
 * gets: unknown keys with the allowed ones and a likely meant one, a pool with no server or
 * no primary, servers of two schemes or given twice, a weight, status or count out of its
 * range, a health timeout longer than its interval, an SNI with no https:// server. And the
 * pool names "upstream" gives (at the top level and in routes), resolved once the whole
 * file is read, since "upstreams" may come after them. */
#ifndef SF_CONFUPSTREAM_H
#define SF_CONFUPSTREAM_H

#include "confapply.h"

#include <jansson.h>

/* Parses the "upstreams" value v (field f) into new definitions in *slot (replacing what was
 * there). On error returns SF_EINVAL with the message in ld's errbuf and leaves *slot as it
 * was. */
enum sf_err sf_confupstream_parse(struct sf_conf_loader *ld, const struct sf_conf_field *f,
                                  json_t *v, struct sf_pool_defs *slot);

/* Frees the definitions and empties *defs. */
void sf_confupstream_clear(struct sf_pool_defs *defs);

/* The index in defs of the pool called name, or -1: none. */
int sf_confupstream_find(const struct sf_pool_defs *defs, const char *name);

/* Whether value names a pool rather than giving a URL: it has no "://". */
bool sf_confupstream_names_pool(const char *value);

/* Resolves *upstream when it names a pool of defs: *upstream becomes a copy of the pool's
 * key_base and *pool its index; a URL (or NULL) leaves *upstream and sets *pool to -1. False,
 * with both untouched, when it names no pool of defs. */
bool sf_confupstream_resolve(const struct sf_pool_defs *defs, char **upstream, int *pool);

/* Once the whole file is read: every "upstream" naming a pool (the top level's, each
 * route's) resolved as sf_confupstream_resolve does, or the message for the first that names
 * none, at its position. Then the checks across upstream and pools ("upstream_tls.sni"
 * with an https:// URL). Call before sf_confroute_finish (routes copy the top level's pool
 * index). */
enum sf_err sf_confupstream_finish(struct sf_conf_loader *ld, struct sf_config *cfg);

/* What a server of url is called when it is not given a "name": its URL's host and port
 * as written ("10.0.0.5:9000", "origin.internal"), without user information. Caller
 * frees. */
char *sf_confupstream_server_name(const char *url);

/* "round_robin", "least_conn" or "hash": a balance (enum sf_balance_method) as written. */
const char *sf_confupstream_balance_name(int balance);

#endif
