/* adminpool: the admin listener's POST /_sfproxy/upstreams/NAME/SERVER?state=drain|up
 * (issue 21): the operator takes a server of a pool out of rotation, or puts it back,
 * without editing the config (pool.h's sf_pools_set_drain; kept across reloads for as long
 * as the server keeps its URL). admin.c routes the request here after its token check (the
 * same as purge's); this part knows no HTTP library. */
#ifndef SF_ADMINPOOL_H
#define SF_ADMINPOOL_H

#include "pool.h"

/* The prefix of the endpoint's paths. */
#define SF_ADMINPOOL_PREFIX "/_sfproxy/upstreams/"

/* Carries out the request for path (starting with SF_ADMINPOOL_PREFIX; the rest is NAME/
 * SERVER, SERVER taking every character after the first "/", as a pool's name has none)
 * and state (the query's value, NULL when absent). Returns the JSON answer (caller frees)
 * with *status: 200 and the server's new state, 400 for a state that is not "drain" or
 * "up" or a path without both names, 404 when there is no such pool or server. */
char *sf_adminpool_set_state(struct sf_pools *ps, const char *path, const char *state,
                             unsigned *status);

#endif
