/* cluster: the pure rules a cluster of sfproxy nodes agrees on (issue 12, first step):
 * which node owns a key, in which order the others take over when it is down, and how a
 * peer request is signed so that a client cannot pass for a peer. No I/O, no state: every
 * node computes the same answers from the same peer list.
 *
 * Ownership is rendezvous hashing (highest random weight, as CARP and Varnish's shard
 * director do): each peer scores weight / -ln(u), u a uniform hash of (peer id, key) in
 * (0, 1); the highest score owns the key. Adding or removing one of N equal peers moves
 * only the keys it gains or held, about 1/N of them. */
#ifndef SF_CLUSTER_H
#define SF_CLUSTER_H

#include "base.h"

#define SF_CLUSTER_MAX_PEERS 64

struct sf_peer {
    const char *id;  /* unique among the peers; what the hash is over */
    const char *url; /* http://host:port of its listener */
    unsigned weight; /* 1 or more: its share of keys is weight / sum of weights */
};

/* The peers' indices in the order they should serve key: order[0] owns it, order[1]
 * takes over when it is down, and so on. order has room for n (at most
 * SF_CLUSTER_MAX_PEERS). */
void sf_cluster_order(const struct sf_peer *peers, size_t n, const char *key, size_t *order);

/* The peer-request field's value, "id=ID; hop=1; ts=SECONDS; sig=HEX", for a request of
 * method for target sent by peer id at time now_s, signed with secret (HMAC-SHA-256 over
 * the method, target, id and time). The hop count is always 1: a peer's request is never
 * routed on, so it is one hop or none (a field with another count is not a peer's).
 * Written into out (SF_PEER_FIELD_MAX); false when it does not fit or the HMAC cannot be
 * computed. The field's name is SF_PEER_FIELD. */
#define SF_PEER_FIELD "Sfproxy-Peer"
#define SF_PEER_FIELD_MAX 192
bool sf_cluster_sign(const char *secret, const char *method, const char *target, const char *id,
                     int64_t now_s, char out[SF_PEER_FIELD_MAX]);

/* Whether value is a peer-request field signed with secret for this method and target,
 * made within window_s seconds of now_s; the peer's id is copied to id (size idlen). */
bool sf_cluster_verify(const char *secret, const char *value, const char *method,
                       const char *target, int64_t now_s, int64_t window_s, char *id, size_t idlen);

#endif
