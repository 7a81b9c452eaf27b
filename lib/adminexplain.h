/* adminexplain: the admin listener's GET /_sfproxy/explain (issue 20's "say what it
 * decided"): explain.h's answer for a request given by its URL (and Host, method, fields),
 * with what the cache holds under its key now. See adminexplain.c. */
#ifndef SF_ADMINEXPLAIN_H
#define SF_ADMINEXPLAIN_H

#include "cache.h"
#include "config.h"

#include <microhttpd.h>

/* Answers GET /_sfproxy/explain?url=URL[&host=H][&method=M][&header=Name:Value]... on conn
 * from cfg (the snapshot in force) and cache: the JSON document and *status 200, or an
 * error document ({"error": "..."}) and 400 when the arguments do not make a request.
 * NULL when no response could be made. Runs on: the admin connection's thread. */
struct MHD_Response *sf_admin_explain(struct sf_cache *cache, const struct sf_config *cfg,
                                      struct MHD_Connection *conn, unsigned *status);

#endif
