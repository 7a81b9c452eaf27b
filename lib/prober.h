/* prober: the active health checks of the upstream pools (issue 21): one thread of its
 * own, never the fetcher's, with its own curl multi handle, asking the registry (pool.h)
 * which servers are due, probing all of them at once (a GET of the pool's health path,
 * each with its own timeout) and handing each result back. */
#ifndef SF_PROBER_H
#define SF_PROBER_H

#include "pool.h"

#include <curl/curl.h>

struct sf_prober;

/* Starts the thread over ps, which must outlive it. NULL (logged) when libcurl or the
 * thread could not be set up. Main thread, after curl_global_init. */
struct sf_prober *sf_prober_start(struct sf_pools *ps);

/* Asks the thread to look at the registry now rather than at its next due time (after a
 * reload's sf_pools_apply; otherwise it looks at least once a second). NULL is fine. Main
 * thread. */
void sf_prober_wake(struct sf_prober *pr);

/* Stops the thread (probes in flight are abandoned, no result counted) and frees pr.
 * NULL is fine. Main thread. */
void sf_prober_stop(struct sf_prober *pr);

/* How a check of an https:// server named by address sends sni (the pool's tls.sni), as
 * origintls.c does for upstream_tls.sni: *renamed is url with sni as its host (caller
 * frees), *connect_to the CURLOPT_CONNECT_TO line "sni:port:host:port" that sends it to
 * the address (caller frees, curl_slist_free_all). False when url cannot be taken apart. */
bool sf_prober_sni_url(const char *url, const char *sni, char **renamed,
                       struct curl_slist **connect_to);

#endif
