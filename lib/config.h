/* config: the JSON config file (jansson) becomes an immutable struct sf_config. Every
 * tunable has a default; an unknown key, a wrong type or an impossible value is an error
 * that names the file, line and column and says what to write instead. */
#ifndef SF_CONFIG_H
#define SF_CONFIG_H

#include "config-t.h"

/* sf_config_dump and sf_config_diff are in confdump.h; the value grammars in confvalue.h. */

/* connection_limit's default: 16384, or less when the open-files hard limit cannot hold
 * twice that (a client descriptor and an upstream one each) plus 256. */
unsigned sf_config_default_connection_limit(void);

/* Fills cfg with the defaults. */
void sf_config_defaults(struct sf_config *cfg);

/* Loads path over the defaults. On error returns SF_EINVAL or SF_ENOENT, writes
 * "FILE:LINE:COL: problem; fix" into errbuf, and leaves cfg holding the defaults. */
enum sf_err sf_config_load(const char *path, struct sf_config *cfg, char *errbuf, size_t errlen);

/* Sets "upstream" as the command line's --upstream does: value is a base URL (upstream_pool
 * -1) or the name of one of cfg's pools (cfg->upstream becomes its key_base, upstream_pool
 * its index); the routes that do not set their own follow it. False, cfg untouched and *why
 * what is wrong and what to write (after the value, in a message), when it is neither, or a
 * pool while "upstream_tls.sni" is set (the loader refuses that pair too). */
bool sf_config_set_upstream(struct sf_config *cfg, const char *value, const char **why);

/* Frees what sf_config_defaults or sf_config_load allocated. */
void sf_config_clear(struct sf_config *cfg);

/* The size of the slices responses larger than cache.max_object_bytes are kept in:
 * cache.slice_bytes, at most cache.max_object_bytes; 0: they are not kept. */
uint64_t sf_config_slice_bytes(const struct sf_config *cfg);

#endif
