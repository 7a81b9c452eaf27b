/* peers: talking to the cluster's other nodes outside the request path, on the thread
 * that asks (the admin listener's for a purge's fan-out, the main thread's for probes):
 * one signed request and its answer, and probing the peers marked down so that one comes
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

/* Sends method target (body-less) to peer p, signed as cfg's node for p, on e (reset
 * here), connecting within cluster.peer_connect_timeout and done within timeout_ms. Fills
 * *out; returns whether the peer answered, its answer signed for this request (an unsigned
 * one is no answer: out->why says so, and it is counted in cluster.peer_bad_answers). */
bool sf_peer_call(CURL *e, const struct sf_config *cfg, const struct sf_peer *p, const char *method,
                  const char *target, long timeout_ms, struct sf_peer_reply *out);

/* Asks each peer snap marks down for its health (a signed GET /_sfproxy/health on its
 * public listener): sfproxy's "200 ok" marks it up at once; anything else keeps it down
 * another cluster.peer_retry. Blocks for at most a second per peer. */
void sf_peers_probe(struct sf_snap *snap);

#endif
