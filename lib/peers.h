/* peers: talking to the cluster's other nodes outside the request path, on the thread
 * that asks (an admin connection's for a purge's fan-out, the main thread's for probes):
 * one signed request to each of several peers at once, their answers, and probing the peers marked down so that one comes
 * back as soon as it answers its health check, before any client's request tries it. */
#ifndef SF_PEERS_H
#define SF_PEERS_H

#include "live.h"

#include <curl/curl.h>

/* A peer's answer: its status and the start of its body, or why there was none. */
struct sf_peer_reply {
    long status; /* 0: no answer */
    char body[4096];
    size_t len;
    char why[160];
};

/* Sends method target (body-less) to each of the n peers at once, signed as cfg's node for
 * each, connecting within cluster.peer_connect_timeout and all done within timeout_ms
 * (one deadline for all, not one per peer). Fills out[i] and answered[i]: whether peer i
 * answered, its answer signed for its request (an unsigned one is no answer: out[i].why
 * says so, and it is counted in cluster.peer_bad_answers). */
void sf_peers_call_all(const struct sf_config *cfg, const struct sf_peer *const *peers, size_t n,
                       const char *method, const char *target, long timeout_ms,
                       struct sf_peer_reply *out, bool *answered);

/* Asks each peer snap marks down for its health (a signed GET /_sfproxy/health on its
 * public listener): sfproxy's "200 ok" marks it up at once; anything else keeps it down
 * another cluster.peer_retry. Asks them all at once: blocks for at most a second. */
void sf_peers_probe(struct sf_snap *snap);

#endif
