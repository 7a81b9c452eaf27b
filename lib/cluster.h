/* cluster: the pure rules a cluster of sfproxy nodes agrees on (issue 12, first step):
 * which node owns a key, in which order the others take over when it is down, and how a
 * peer request and its answer are signed so that neither a client nor a process at a
 * peer's address can pass for a peer. No I/O, no state: every node computes the same
 * answers from the same peer list (what was seen before is replay.h's).
 *
 * Ownership is rendezvous hashing (highest random weight, as Squid's CARP does; Varnish's
 * shard director and Traffic Server's parents use consistent-hash rings): each peer scores
 * weight / -ln(u), u a uniform hash of (peer id, key) in (0, 1); the highest score owns
 * the key. Adding or removing one of N equal peers moves
 * only the keys it gains or held, about 1/N of them. */
#ifndef SF_CLUSTER_H
#define SF_CLUSTER_H

#include "base.h"
#include "http.h"

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

/* What a peer's fetch is for beyond its method and target (issue 20): the name of the route
 * the asking node took for it (NULL: none, the top level's settings) and its client's Host
 * (NULL: none), which the owner takes instead of matching routes on what it receives (the
 * hop's Host is the owner's address, its method always GET, and it drops or rewrites
 * fields a route may match on), so that both nodes fetch and key it alike. A purge or a
 * health check has none (NULL scope). They travel in SF_PEER_ROUTE_FIELD and
 * SF_PEER_HOST_FIELD, under the request's signature. */
#define SF_PEER_ROUTE_FIELD "Sfproxy-Peer-Route"
#define SF_PEER_HOST_FIELD "Sfproxy-Peer-Host"
struct sf_peer_scope {
    const char *route;
    const char *host;
};

/* The peer-request field's value, "id=ID; to=TO; hop=1; ts=SECONDS; nonce=HEX; sig=HEX",
 * for a request of method for target (and scope, NULL: none) sent by peer id to peer to at
 * time now_s, signed with secret: HMAC-SHA-256 over the method, target, id, to, time and
 * nonce (SF_PEER_NONCE_HEX hex digits, fresh for each request: sf_cluster_nonce), then the
 * scope's route and host where given. The hop count is always 1: a
 * peer's request is never routed on, so it is one hop or none (a field with another count
 * is not a peer's). Written into out (SF_PEER_FIELD_MAX); false when it does not fit or the
 * HMAC cannot be computed. The field's name is SF_PEER_FIELD. */
#define SF_PEER_FIELD "Sfproxy-Peer"
#define SF_PEER_FIELD_MAX 320
#define SF_PEER_NONCE_HEX 32
bool sf_cluster_sign(const char *secret, const char *method, const char *target,
                     const struct sf_peer_scope *scope, const char *id, const char *to,
                     int64_t now_s, const char *nonce, char out[SF_PEER_FIELD_MAX]);

/* SF_PEER_NONCE_HEX hex digits of fresh randomness (GnuTLS's nonce generator) into nonce;
 * false when none could be had. */
bool sf_cluster_nonce(char nonce[SF_PEER_NONCE_HEX + 1]);

/* What a verified peer-request field says. */
#define SF_PEER_ID_MAX 64 /* a peer id's bytes with its NUL (config: at most 63) */

struct sf_peer_claim {
    char id[SF_PEER_ID_MAX]; /* the sending peer's */
    int64_t ts;              /* when it was signed */
    uint64_t tag;            /* 64 bits of its signature: what a replay set remembers it by */
};

/* Whether value is a peer-request field signed with secret for this method, target and
 * scope (NULL: none; a route or host the signature does not cover, added, changed or
 * removed, fails), addressed to the peer self and made within window_s seconds of now_s;
 * fills *claim. That a valid field was not seen before is the caller's to check
 * (replay.h). */
bool sf_cluster_verify(const char *secret, const char *value, const char *method,
                       const char *target, const struct sf_peer_scope *scope, const char *self,
                       int64_t now_s, int64_t window_s, struct sf_peer_claim *claim);

/* A peer's answer to a signed request carries SF_PEER_ANSWER_FIELD: "sig=HEX", an
 * HMAC-SHA-256 with the secret over the request's whole SF_PEER_FIELD value (so over its
 * nonce and addressee: an answer fits one request only), the status, and every field of
 * the answer but those the transport writes or may rewrite (cluster.c's list: Date,
 * Connection, Keep-Alive, Content-Length, Transfer-Encoding) and the answer field itself,
 * each as "lowercased-name:value" (whitespace trimmed), sorted. The body is proven apart
 * (SF_PEER_BODY_FIELD, below). */
#define SF_PEER_ANSWER_FIELD "Sfproxy-Peer-Answer"
#define SF_PEER_ANSWER_MAX 72

/* The answer field's value for an answer of status with fields to the request whose
 * SF_PEER_FIELD value was request, into out; false when the HMAC cannot be computed. */
bool sf_cluster_sign_answer(const char *secret, const char *request, unsigned status,
                            const struct sf_hdrs *fields, char out[SF_PEER_ANSWER_MAX]);

/* Whether an answer of status with fields (its answer field among them) is signed with
 * secret for the request whose SF_PEER_FIELD value was request; the MAC that matched into
 * mac (65 bytes) when not NULL: what the answer's body proof is bound to. */
bool sf_cluster_verify_answer(const char *secret, const char *request, unsigned status,
                              const struct sf_hdrs *fields, char *mac);

/* ---- bodies (issue 18) ----
 * The body of an answer to a peer is proven too: the answer's head carries
 * SF_PEER_BODY_FIELD, covered by the answer's signature, saying either
 *   "length=N; sha256=HEX"  the body's length and SHA-256, when the whole body is known as
 *                           the head is sent (a stored response, a text of sfproxy's own);
 *   "length=N; trailer" or "trailer"   the body is sent chunked, and its proof comes after
 *                           it, in a trailer field (RFC 9110 §6.5) of the same name,
 *                           "sig=HEX": HMAC-SHA-256 with the secret over "sfproxy-body",
 *                           the answer's MAC (so over its request and head), the body's
 *                           length and its SHA-256.
 * The asking node hashes the body as it arrives and keeps it (stores it, or lets a reader
 * have its last byte) only when the proof holds. */
#define SF_PEER_BODY_FIELD "Sfproxy-Peer-Body"
#define SF_PEER_BODY_MAX 112

/* SHA-256 of a body as it passes, and its length. */
struct sf_body_hash;

/* A new hash; NULL when GnuTLS has none to give (out of memory). */
struct sf_body_hash *sf_cluster_body_new(void);
void sf_cluster_body_add(struct sf_body_hash *b, const void *data, size_t len);
/* The length so far, and the digest of everything added as 64 hex digits into hex (65
 * bytes); b is freed. NULL is fine (then nothing is written and 0 returned). */
uint64_t sf_cluster_body_end(struct sf_body_hash *b, char hex[65]);
void sf_cluster_body_free(struct sf_body_hash *b); /* NULL is fine */

/* What an answer's SF_PEER_BODY_FIELD says. */
struct sf_body_claim {
    int64_t length;  /* -1: not said (then the trailer says nothing of it either) */
    bool trailer;    /* the proof comes in the trailer; else sha256 is the body's */
    char sha256[65]; /* with !trailer */
};

/* The field's value for a body of length bytes (-1: unknown) with digest sha256, or
 * proven in the trailer when sha256 is NULL. */
void sf_cluster_body_head(int64_t length, const char *sha256, char out[SF_PEER_BODY_MAX]);

/* Reads a field's value; false when it is not one of the forms above. */
bool sf_cluster_body_parse(const char *value, struct sf_body_claim *claim);

/* The trailer's value for a body of length bytes with digest sha256, answered with the
 * answer MAC mac (64 hex digits); false when the HMAC cannot be computed. */
bool sf_cluster_body_trailer(const char *secret, const char *mac, uint64_t length,
                             const char *sha256, char out[SF_PEER_ANSWER_MAX]);

/* Whether a body of length bytes with digest sha256 is the one claim (with the trailer's
 * value, NULL when none came) proves for the answer whose MAC was mac. */
bool sf_cluster_body_verify(const char *secret, const char *mac, const struct sf_body_claim *claim,
                            const char *trailer, uint64_t length, const char *sha256);

#endif
